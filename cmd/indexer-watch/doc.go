// Command indexer-watch is what indexer-scan --watch runs (exec): it scans
// the PATHs, then keeps the index current as they change (inotify), with
// indexer-scan's flags.
//
//	indexer-watch [indexer-scan's flags] PATH...
//
// It is package cmd/internal/scancmd's code without the embedded NATS
// server linked, so nothing in it wakes while nothing changes; each scan
// runs the server in a child indexer-project (app.Sibling), found beside
// it or on PATH. See cmd/internal/scancmd/watch.go.
package main
