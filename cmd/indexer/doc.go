// Command indexer answers questions about the index (find, dupes, stats,
// show, history, tree, machines, scans), prints the event log (events), and
// carries it between logs as JSON lines (export, import: each event once).
// Run it with --help for the commands, and 'indexer COMMAND --help' for
// each one's flags. One file per subcommand; run.go holds the table.
package main
