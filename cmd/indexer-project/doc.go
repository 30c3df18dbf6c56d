// Command indexer-project folds the indexer's event log into the read models
// of DATA/index.db and keeps them current.
//
//	indexer-project [run] [--data DIR] [--listen HOST:PORT] [--server URL]
//	indexer-project rebuild [--until-seq N | --until-time T] [--into FILE]
//	indexer-project status [--json]
//
// run owns the data directory: it runs the embedded NATS server, serving it
// on --listen, by default 127.0.0.1:4244 (DefaultListen; NATS's own port is
// 4222), so scanners on this machine, or on others when it listens on a
// public address, publish to it. With --server it follows an existing NATS
// server or cluster instead. It stops cleanly on SIGTERM or Ctrl-C.
//
// While it runs, index.db is held by it; its status is kept in
// DATA/projector.json for `indexer-project status`, with the subject on
// which `indexer-project rebuild` asks it to rebuild its index (the NATS
// service indexer-admin). main.go gives the process one Go P more than the
// CPUs, so queries are not left waiting while projection keeps the others
// busy. Exit codes are those of every indexer command (see --help).
package main
