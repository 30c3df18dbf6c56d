// Package metrics is the Prometheus side of the projections: Projector,
// the projector's metrics (events applied by type, batch sizes and times,
// its state, dead letters, the index's size), and Timed, the time each
// query takes. indexer-project registers them on its /metrics beside the
// HTTP handler's own (package web) and the embedded server's
// (embedded.Server.Collector).
//
// They are apart from packages projections and service so that the
// indexer command, which answers queries from index.db, does not link
// Prometheus: its client's package initialisation cost a query's start
// about 0.6 ms (docs/performance.md, "Process start"). The projector
// reports each batch through the small projections.BatchObserver hook.
package metrics
