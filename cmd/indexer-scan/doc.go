// Command indexer-scan walks file trees, hashes what is new or changed since
// the machine's last scan, and appends the facts to the event log.
//
//	indexer-scan [--data DIR] [--server URL] [--machine NAME] [--hashes LIST]
//	             [--exclude PATTERN]... [--one-file-system] [--verify]
//	             [--allow-mass-delete] [--max-file-size SIZE]
//	             [--json] [--quiet] [--priority idle|low|normal]
//	             [--watch [--watch-delay D] [--rescan-every D]] PATH...
//
// Its code is package cmd/internal/scancmd's, which indexer-watch shares;
// this program adds the embedded NATS server, run in its own process, and
// hands --watch to indexer-watch (exec, the same process). Run it with
// --help for flags and exit codes.
package main
