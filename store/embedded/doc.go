// Package embedded runs the embedded NATS server with JetStream on a data
// directory: Server (Open, Connect, Close), its credentials as NATS
// permissions, the leaf node links of offline machines (LeafHub), and its
// monitoring (MonitorHandler, Collector for Prometheus). It is the one
// package that imports nats-server, apart from store's tests.
//
// It is apart from package store so that a program that only reads the
// index and talks to a server (the indexer command) does not link
// nats-server, whose package initialisation and size cost about a
// millisecond and several megabytes of every start (docs/performance.md,
// "Process start"). The client side, the Log, the keyring and the errors
// are store's; a Server is reached with Connect, or by another process
// with store.ConnectLocal and the data directory's admin credential.
//
//	srv := &embedded.Server{DataDir: dir}
//	srv.Open(ctx); defer srv.Close()
//	nc, _ := srv.Connect("indexer-scan")
//	log := &store.Log{Conn: nc}
//
// # Caveats
//
// See store's Caveats: the sync interval, a connection that dies with its
// server, credentials that take effect within a second.
package embedded
