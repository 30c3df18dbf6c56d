// Package store holds every use of nats.go and bbolt, and with its
// sub-package embedded every use of nats-server: the event Log on
// JetStream, the bbolt DB of read models, the data directory and its
// credentials here; the embedded NATS server in store/embedded, apart so
// that a program that does not run it (the indexer command) does not link
// it. Callers never import those libraries; errors are translated here
// into the sentinel errors of errors.go, checked with errors.Is.
//
// # The data directory
//
// One directory holds a machine's state, and Dir names its files: LOCK,
// index.db, jetstream/, scanstate-<machine>.db, credentials/, and while a
// process serves the embedded server on the network server.url (and an
// indexer-project's projector.json). LockDir gives one process ownership;
// nats-server would happily run two servers on one store and corrupt it, so
// every command that starts a server or writes index.db takes the lock first.
// LockDir also keeps the directory private: 0700, and nothing in it
// readable by group or others.
//
// # The log
//
//	srv := &embedded.Server{DataDir: dir}  // or store.Dial(ctx, urls, name)
//	srv.Open(ctx); defer srv.Close()
//	nc, _ := srv.Connect("indexer-scan")
//	log := &store.Log{Conn: nc}
//	log.Open(ctx)                          // creates or updates stream INDEXER
//	a := log.NewAppender()
//	a.Append(ctx, ev) ...; a.Flush(ctx)    // async, bounded, retried, deduplicated
//	log.Replay(ctx, 1, "", fn)             // from a sequence to the tail
//	log.Follow(ctx, seq, "", fn)           // live
//
// The stream INDEXER captures idx.>, stores files with S2 compression, keeps
// everything (no age or count limit; a byte limit refuses new events rather
// than dropping old ones), deduplicates by Nats-Msg-Id within Log.Duplicates,
// and denies delete and purge: the log is append-only by configuration, not
// only by convention.
//
// # Credentials
//
// An embedded.Server with a Keyring accepts only the keyring's credentials: nkeys,
// whose public keys are in DATA/credentials/users.json and whose seeds are
// in the files of whoever holds them (the owner's own in admin.nk). Each has
// a Role, enforced as NATS subject permissions: the admin may do
// everything, a scanner of machine M may append only idx.M.> and write only
// its own lease, a reader may ask queries and read. Keyring.Add issues one,
// Keyring.Revoke removes one; a serving embedded.Server applies the change within a
// second (ReloadOptions) and closes a revoked key's connections. Dial and
// embedded.Server.Connect (through ConnectLocal) watch the connection's permission violations, so an action
// the server denied fails at once with ErrPermission rather than as a
// missing acknowledgement. With TLSCert and TLSKey the listener requires
// TLS; Connect trusts exactly that certificate.
//
// # Offline machines
//
// A laptop keeps its own data directory, server and log; with
// embedded.Server.Hub
// its server is a leaf node of the hub in a JetStream domain named after the
// machine, denying idx.> across the link. The hub (Server.LeafListen)
// sources each laptop's stream into its own, filtered on that machine's
// subjects (LeafSource): JetStream remembers the last source sequence
// stored, so each event arrives once and in the laptop's order. embedded.LeafHub
// keeps the hub's sources matching the leaf credentials (RoleLeaf) and
// restarts a connected laptop's silent source, rather than wait out
// JetStream's retry back-off. CheckSource tells, from a Record's Source
// (the header the hub's server writes on what a source stored), whether
// the laptop's source takes the event's subject. Log.IDs lists the ids a log holds, for an
// import that must store each event once (see leaf.go).
//
// # Requests
//
// StartService answers requests on the log's connection as a NATS micro
// service (`nats micro ls` lists it) and Log.Request asks one. A reply
// larger than the connection's max payload (1 MiB unless the server says
// otherwise) is sent as several messages marked with PartHeader, which
// Request puts together again; a reply that fits is one plain message.
//
// # The DB
//
// DB wraps a bbolt file: Update and View run functions on a Tx; Tx.Bucket,
// Bucket and Cursor are thin views of bbolt's, and Tx.Checkpoint and
// SetCheckpoint keep the projector's position in the same transaction as the
// models it describes. DB.CompactTo writes a compacted copy of the file.
// bbolt reads through a memory map whose touched pages count in the
// process's resident memory; DB.DropPages (after every commit) and
// Tx.DropPages (inside a long read) unmap them (madvise MADV_DONTNEED):
// they stay in the page cache and are mapped again when read.
//
// # Monitoring
//
// embedded.Server.MonitorHandler serves the embedded server's own monitoring JSON
// (varz, jsz, healthz, ...) on any HTTP mux, and embedded.Server.Collector exports
// its figures for Prometheus under prometheus-nats-exporter's names
// (jetstream_stream_total_messages, ...), both read in-process: no
// monitoring port is opened. Log.HeldLeases lists the scans running now.
//
// # Caveats
//
//   - The embedded server fsyncs every DefaultSyncInterval (Server.SyncInterval).
//     Events acknowledged within that window can be lost on power loss (not on
//     a process crash). A projector that then finds the log shorter than its
//     checkpoint rebuilds.
//   - Appender order is guaranteed only across Flush calls (see Appender).
//   - A connection from Server.Connect dies with its server; use
//     Dial for a connection that reconnects. While it reconnects, a Dial
//     connection refuses publishes instead of buffering them (the Appender
//     needs a resend to reach the server when it is sent); Appender and
//     Request try again, other callers get ErrUnavailable.
//   - Permissions are checked by the server per subject; a denied publish
//     is reported on the connection, not to the call. The Appender and the
//     API calls here turn that report into ErrPermission; a caller using
//     the connection directly sees only a timeout. Any violation ends the
//     API calls in flight on that connection.
//   - A credential issued or revoked while the server runs takes effect
//     within a second (the users file is polled), not at once.
//   - The deduplication window (Log.Duplicates, 3 s) is shorter than an
//     append's retries: see Appender for the search that covers the rest.
//   - On a cluster (Dial with every node's URL, Log.Replicas 3) a client
//     leaves a frozen node after two unanswered pings (Dial pings every
//     2 s), and the Appender gives up only after RetryFor without any
//     acknowledgement. A frozen stream leader cost 6-9 s without
//     acknowledgements in the tests; a cleanly stopped one, about 0.25 s.
//     A Log with Replicas 0 keeps the stream's replica count.
//   - Never recreate a laptop's stream (a lost DATA/jetstream): the hub's
//     source resumes by source sequence and would skip the new stream's
//     first events. Give the laptop a new machine name instead.
//   - A leaf credential limits a laptop to its own source's subjects, but
//     nats-server does not check a sourced message's subject against the
//     source's filter, and no stream or transform setting refuses it: a
//     modified laptop server can have other machines' events stored in
//     the hub's log through its own source. Readers of a hub's log must
//     pass each Record through CheckSource (the projector, the scan state,
//     export, rot and problems do); the events stay in the log.
//   - Keys and values from a Bucket are valid only inside the transaction.
//   - A damaged bbolt file is ErrCorrupt, never a crash (see corrupt.go):
//     Open checks the size against the meta pages and each bucket's root
//     page; a fault or a panic of bbolt in a transaction becomes the error.
//     Damage that reads as valid data is not found; DB.Check reads every
//     page, and runs bbolt's check in a goroutine of bbolt's that no
//     recover covers (Open's checks make a fault there unlikely).
//   - A reply in parts is held whole in memory by the service and by
//     Request, and must arrive within the request's deadline, or without
//     one with no gap longer than Log.RequestTimeout. A client that
//     knows nothing of parts (`nats req`, nats.go's Request) gets only the
//     first. Request buffers 1,024 parts (about 1 GiB at the default max
//     payload); parts that arrive while the buffer is full are dropped by
//     nats.go, and the reply then ends in ErrUnavailable.
package store
