// Package scancmd is the indexer-scan command, which walks file trees,
// hashes what is new or changed since the machine's last scan, and appends
// the facts to the event log. Two programs run it: indexer-scan, which
// links the embedded NATS server (cmd/internal/inproc), and indexer-watch,
// which does not and runs --watch (watch.go says why).
//
//	indexer-scan [--data DIR] [--server URL] [--machine NAME] [--hashes LIST]
//	             [--exclude PATTERN]... [--one-file-system] [--verify]
//	             [--allow-mass-delete] [--max-file-size SIZE]
//	             [--json] [--quiet] [--priority idle|low|normal]
//	             [--watch [--watch-delay D] [--rescan-every D]] PATH...
//
// Standalone (no --server and no indexer-project on the data directory) it
// runs the embedded NATS server and updates index.db before it exits; as a
// client it only publishes, and says so (exit 4) when the owner of the
// data directory does not index. Its summary counts what the log
// acknowledged; bit rot (exit 6) and deletions held by the mass-delete
// guard (exit 5) are said apart. It runs at idle CPU priority unless asked
// otherwise. Run it with --help for flags and exit codes.
//
// Standalone, the process holds the server, the scan and the index update
// under one memory budget (memory.go): a soft memory limit of 128 MiB
// while the live heap is small, growing with it beyond (no GOMEMLIMIT of
// the user's is replaced); bbolt's mapped pages of the scan state and of
// index.db are dropped as they are written (store.DB.DropPages).
//
// The pieces: scan.go (Main.Run's steps: flags, opening the data
// directory with the machine's lease and scan state, each root's scan, the
// summary), progress.go (the terminal line), index.go (the standalone index
// update), memory.go (the standalone memory budget), priority.go (the CPU priority of every thread), watch.go (--watch:
// inotify, and rescans of what changed). The work itself is package
// scanner's.
package scancmd
