package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

// Timed passes every query to Queries and records how long it took, by
// query, in the histogram indexer_query_duration_seconds{query}. Put it in
// front of the Cache, so the figures are what a caller waits, cached or
// not. It is a prometheus.Collector: register it where metrics are
// scraped.
type Timed struct {
	service.Queries
	hist *prometheus.HistogramVec
}

// NewTimed returns Timed over q.
func NewTimed(q service.Queries) *Timed {
	return &Timed{Queries: q, hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "indexer_query_duration_seconds", Help: "Time to answer a query (HTTP or NATS), by query, cache hits included.",
		Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"query"})}
}

var _ service.Queries = (*Timed)(nil)

// Describe implements prometheus.Collector.
func (t *Timed) Describe(ch chan<- *prometheus.Desc) { t.hist.Describe(ch) }

// Collect implements prometheus.Collector.
func (t *Timed) Collect(ch chan<- prometheus.Metric) { t.hist.Collect(ch) }

func (t *Timed) since(query string, start time.Time) {
	t.hist.WithLabelValues(query).Observe(time.Since(start).Seconds())
}

func (t *Timed) Lookup(ctx context.Context, machine string, path events.Path) (projections.File, error) {
	defer t.since("lookup", time.Now())
	return t.Queries.Lookup(ctx, machine, path)
}

func (t *Timed) Show(ctx context.Context, machine string, path events.Path) (service.FileDetail, error) {
	defer t.since("show", time.Now())
	return t.Queries.Show(ctx, machine, path)
}

func (t *Timed) Find(ctx context.Context, q service.FindRequest) (projections.FindResult, error) {
	defer t.since("find", time.Now())
	return t.Queries.Find(ctx, q)
}

func (t *Timed) Dupes(ctx context.Context, q service.DupesRequest) (service.DupesResult, error) {
	defer t.since("dupes", time.Now())
	return t.Queries.Dupes(ctx, q)
}

func (t *Timed) Group(ctx context.Context, sha256 string, files int) (service.Group, error) {
	defer t.since("group", time.Now())
	return t.Queries.Group(ctx, sha256, files)
}

func (t *Timed) Stats(ctx context.Context) (projections.Stats, error) {
	defer t.since("stats", time.Now())
	return t.Queries.Stats(ctx)
}

func (t *Timed) Tree(ctx context.Context, q service.TreeRequest) (projections.Tree, error) {
	defer t.since("tree", time.Now())
	return t.Queries.Tree(ctx, q)
}

func (t *Timed) History(ctx context.Context, machine string, path events.Path) ([]service.HistoryEvent, error) {
	defer t.since("history", time.Now())
	return t.Queries.History(ctx, machine, path)
}

func (t *Timed) Machines(ctx context.Context) ([]projections.Machine, error) {
	defer t.since("machines", time.Now())
	return t.Queries.Machines(ctx)
}

func (t *Timed) Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error) {
	defer t.since("scans", time.Now())
	return t.Queries.Scans(ctx, machine, limit)
}

func (t *Timed) Rot(ctx context.Context, machine string) ([]service.RotFile, error) {
	defer t.since("rot", time.Now())
	return t.Queries.Rot(ctx, machine)
}

func (t *Timed) Status(ctx context.Context) (service.Status, error) {
	defer t.since("status", time.Now())
	return t.Queries.Status(ctx)
}
