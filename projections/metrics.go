package projections

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/indexer/indexer/events"
)

// Projector states, as the state gauge and Status.State name them (the way
// KurrentDB shows a projection's state).
const (
	StateRunning    = "running"     // following the log, caught up
	StateCatchingUp = "catching_up" // following the log, behind it
	StateRebuilding = "rebuilding"  // building a new index beside the live one
	StateStopped    = "stopped"     // not following the log: Run not started, returned, or failed
)

// States lists the states in the order the metrics give them.
var States = []string{StateRunning, StateCatchingUp, StateRebuilding, StateStopped}

// Metrics are a Projector's Prometheus metrics. NewMetrics makes them; set
// Projector.Metrics before Run and register the Metrics (a
// prometheus.Collector) where they are scraped. A Projector without Metrics
// records nothing.
type Metrics struct {
	applied   *prometheus.CounterVec
	batchSize prometheus.Histogram
	batchDur  prometheus.Histogram
	commitDur prometheus.Histogram
	status    func(context.Context) (Status, error)
}

// NewMetrics returns the metrics of p. Scraping them asks p.Status once,
// for the state, the dead letters and the index's size.
func NewMetrics(p *Projector) *Metrics {
	m := &Metrics{
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

var (
	descState       = prometheus.NewDesc("indexer_projection_state", "1 for the projector's current state, 0 for the others.", []string{"state"}, nil)
	descDead        = prometheus.NewDesc("indexer_projection_dead_letters", "Events the projector could not apply, recorded in the index's dead letters.", nil, nil)
	descIndexBytes  = prometheus.NewDesc("indexer_index_size_bytes", "Size of index.db on disk (bbolt never shrinks it: see indexer-project compact).", nil, nil)
	descRebuilds    = prometheus.NewDesc("indexer_projection_rebuilds_total", "Rebuilds swapped in by this process.", nil, nil)
	descStatusError = prometheus.NewDesc("indexer_projection_status_up", "1 when the projector's status (which asks the log) could be read.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.applied.Describe(ch)
	m.batchSize.Describe(ch)
	m.batchDur.Describe(ch)
	m.commitDur.Describe(ch)
	for _, d := range []*prometheus.Desc{descState, descDead, descIndexBytes, descRebuilds, descStatusError} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
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
	for _, st := range States {
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

// observeApplied counts the events of one batch above the checkpoint cp,
// by type.
func (m *Metrics) observeApplied(items []item, cp uint64) {
	if m == nil {
		return
	}
	counts := make([]int, len(events.Types))
	other := 0
	for i := range items {
		if items[i].rec.Seq <= cp {
			continue
		}
		if j, ok := typeIndex[items[i].ev.Type]; ok {
			counts[j]++
		} else {
			other++ // a dead letter: no type
		}
	}
	for j, n := range counts {
		if n > 0 {
			m.applied.WithLabelValues(string(events.Types[j])).Add(float64(n))
		}
	}
	if other > 0 {
		m.applied.WithLabelValues("undecodable").Add(float64(other))
	}
}

// observeBatch records one committed batch of n events that took total,
// of which apply was spent before the commit.
func (m *Metrics) observeBatch(n int, apply, total time.Duration) {
	if m == nil || n == 0 {
		return
	}
	m.batchSize.Observe(float64(n))
	m.batchDur.Observe(total.Seconds())
	m.commitDur.Observe(max(total-apply, 0).Seconds())
}

// typeIndex maps an event type to its place in events.Types.
var typeIndex = func() map[events.Type]int {
	m := make(map[events.Type]int, len(events.Types))
	for i, t := range events.Types {
		m[t] = i
	}
	return m
}()
