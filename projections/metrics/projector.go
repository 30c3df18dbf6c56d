package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

// Projector are a Projector's Prometheus metrics. NewProjector makes them;
// set them as the Projector's Observer before Run, and register them (a
// prometheus.Collector) where they are scraped.
type Projector struct {
	applied   *prometheus.CounterVec
	batchSize prometheus.Histogram
	batchDur  prometheus.Histogram
	commitDur prometheus.Histogram
	status    func(context.Context) (projections.Status, error)
}

var _ projections.BatchObserver = (*Projector)(nil)

// NewProjector returns the metrics of p. Scraping them asks p.Status
// once, for the state, the dead letters and the index's size.
func NewProjector(p *projections.Projector) *Projector {
	m := &Projector{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "indexer_projection_events_applied_total", Help: "Events applied to the index by this process, by event type.",
		}, []string{"type"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "indexer_projection_batch_events", Help: "Events per committed batch (one bbolt transaction).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8), // 1 .. 16384
		}),
		batchDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "indexer_projection_batch_duration_seconds", Help: "Time to apply and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10), // 1 ms .. 3.8 s
		}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "indexer_projection_commit_duration_seconds", Help: "Time to commit one batch's transaction (write and fsync), after applying it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 10), // 0.5 ms .. 1.9 s
		}),
		status: p.Status,
	}
	for _, t := range events.Types { // every series from zero, for rate()
		m.applied.WithLabelValues(string(t))
	}
	return m
}

// ObserveBatch records one committed batch.
func (m *Projector) ObserveBatch(b projections.Batch) {
	for t, n := range b.Applied {
		if n > 0 {
			m.applied.WithLabelValues(string(t)).Add(float64(n))
		}
	}
	if b.Undecodable > 0 {
		m.applied.WithLabelValues("undecodable").Add(float64(b.Undecodable))
	}
	if b.Events == 0 {
		return
	}
	m.batchSize.Observe(float64(b.Events))
	m.batchDur.Observe(b.Total.Seconds())
	m.commitDur.Observe(max(b.Total-b.Apply, 0).Seconds())
}

var (
	descState       = prometheus.NewDesc("indexer_projection_state", "1 for the projector's current state, 0 for the others.", []string{"state"}, nil)
	descDead        = prometheus.NewDesc("indexer_projection_dead_letters", "Events the projector could not apply, recorded in the index's dead letters.", nil, nil)
	descIndexBytes  = prometheus.NewDesc("indexer_index_size_bytes", "Size of index.db on disk (bbolt never shrinks it: see indexer-project compact).", nil, nil)
	descRebuilds    = prometheus.NewDesc("indexer_projection_rebuilds_total", "Rebuilds swapped in by this process.", nil, nil)
	descStatusError = prometheus.NewDesc("indexer_projection_status_up", "1 when the projector's status (which asks the log) could be read.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Projector) Describe(ch chan<- *prometheus.Desc) {
	m.applied.Describe(ch)
	m.batchSize.Describe(ch)
	m.batchDur.Describe(ch)
	m.commitDur.Describe(ch)
	for _, d := range []*prometheus.Desc{descState, descDead, descIndexBytes, descRebuilds, descStatusError} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Projector) Collect(ch chan<- prometheus.Metric) {
	m.applied.Collect(ch)
	m.batchSize.Collect(ch)
	m.batchDur.Collect(ch)
	m.commitDur.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := m.status(ctx)
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(descStatusError, prometheus.GaugeValue, up)
	for _, st := range projections.States {
		v := 0.0
		if st == s.State {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, st)
	}
	ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(s.DeadLetters))
	ch <- prometheus.MustNewConstMetric(descIndexBytes, prometheus.GaugeValue, float64(s.IndexBytes))
	ch <- prometheus.MustNewConstMetric(descRebuilds, prometheus.CounterValue, float64(s.Rebuilds))
}
