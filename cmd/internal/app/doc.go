// Package app is what the three commands share: configuration from
// defaults, INDEXER_* environment and flags (in that order of precedence),
// opening a data directory in the right mode, logging, and the exit codes.
//
// # Modes
//
// Open decides how a command reaches the log:
//
//   - With --server (INDEXER_SERVER): connect to that NATS server or cluster.
//     The data directory is still used for local files (index.db, scan state)
//     and is locked when the command writes them.
//   - Otherwise, if no process owns the data directory: lock it and run the
//     embedded server on it (standalone).
//   - Otherwise, if the owner serves the log (its URL is in server.url) and
//     the command may be a client: connect to the owner.
//   - Otherwise: ErrLocked, exit code 11.
//
// # The embedded server
//
// In standalone mode Open runs the embedded server through Serve.
// indexer-scan and indexer-project link package cmd/internal/inproc, which
// runs it in their process. The indexer command links neither nats-server
// nor Prometheus, so a query starts in the time of a small program; when
// one of its commands needs the log and no process owns the directory, the
// default Serve, Sibling, runs the server in a child indexer-project
// (found beside indexer, then on PATH) that shares this process's lock and
// lives as long as its standard input (sibling.go says the protocol).
// ServerOptions is the one place that turns a Config and OpenOptions into
// the server's options, for either.
//
// OpenOptions.ReadOnlyLog opens the log without provisioning the stream
// (store.Log.ReadOnly), for a command that must not change another
// process's stream; WaitForLog waits for a stream not there yet.
//
// Who owns a data directory (nobody, an indexer-project, a standalone
// indexer-scan, or a process that serves no URL in it) is decided in one
// place, DirOwner, which Open and the query commands share. A server.url
// left behind by a process killed with SIGKILL is stale: the directory's
// lock is free. DirOwner removes it, so the next command does not take it
// for an owner.
//
// # Credentials
//
// A command that runs the embedded server opens the data directory's
// keyring, making it on first use. A client connects with --creds
// (INDEXER_CREDS) when given; otherwise with the data directory's own
// credential when it connects to the server its owner serves (server.url);
// otherwise with INDEXER_NATS_USER and INDEXER_NATS_PASSWORD, or as nobody.
// --tls-ca (INDEXER_TLS_CA) adds a certificate authority to trust.
// CheckExposure refuses to serve beyond loopback without TLS.
//
// # Caveats
//
// Only this package and the mains read the environment; library packages
// take plain fields.
package app
