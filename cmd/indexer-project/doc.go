// Command indexer-project folds the indexer's event log into the read models
// of DATA/index.db and keeps them current.
//
//	indexer-project [run] [--data DIR] [--listen HOST:PORT] [--server URL [--replica]] [--leaf-listen HOST:PORT]
//	indexer-project rebuild [--until-seq N | --until-time T] [--into FILE] [--accept-new-log]
//	indexer-project status [--json]
//	indexer-project skip SEQ
//	indexer-project deadletters [--json]
//
// run owns the data directory: it runs the embedded NATS server, serving it
// on --listen, by default 127.0.0.1:4244 (DefaultListen; NATS's own port is
// 4222), so scanners on this machine, or on others when it listens on a
// public address, publish to it. With --server it follows an existing NATS
// server or cluster instead. With --leaf-listen it is also the hub of
// offline laptops: their servers connect as leaf nodes and its log sources
// each one's events (leaf.go). It stops cleanly on SIGTERM or Ctrl-C.
//
// serve-for (servefor.go), not in the usage, is run by the indexer command
// (cmd/internal/app's Sibling), which does not link nats-server: it runs
// the embedded server of a data directory that command has locked, for the
// time of that command.
//
// With --replica (replica.go) run is a read replica of a log another
// indexer-project owns on --server: its own index in its own data
// directory, the log opened read-only (never created or configured, never
// written), a stream not there yet waited for. On a --server every other
// subcommand opens the log read-only too: only run provisions the stream.
//
// While it runs, index.db is held by it; its status is kept in
// DATA/projector.json for `indexer-project status`, with the subject on
// which `indexer-project rebuild` asks it to rebuild its index, and those on
// which skip and deadletters ask (the NATS service indexer-admin). When
// projection stops for the operator (the log replaced under the index, an
// event of a newer schema) the process stays up: status and /health say
// why, and rebuild --accept-new-log or skip lets it go on (guard.go keeps
// queries off an index whose log was replaced). main.go gives the process one Go P more than the
// CPUs, so queries are not left waiting while projection keeps the others
// busy. Exit codes are those of every indexer command (see --help).
package main
