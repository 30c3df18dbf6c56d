package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Handler's Prometheus metrics, in a registry of its own so
// that several Handlers (tests) do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(h *Handler) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "indexer_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "indexer_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statusCollector{h: h})
	m.reg.MustRegister(h.Collectors...)
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusCollector reports the index's position and the cache's counters
// when scraped, asking Status once per scrape.
type statusCollector struct{ h *Handler }

var (
	descCheckpoint = prometheus.NewDesc("indexer_index_checkpoint", "Last log sequence applied to the index.", nil, nil)
	descLastSeq    = prometheus.NewDesc("indexer_log_last_seq", "Last sequence in the log.", nil, nil)
	descLag        = prometheus.NewDesc("indexer_projection_lag", "Events in the log not yet applied to the index.", nil, nil)
	descUp         = prometheus.NewDesc("indexer_index_up", "1 when the index answered the status query.", nil, nil)
	descHits       = prometheus.NewDesc("indexer_query_cache_hits_total", "Queries answered from the cache.", nil, nil)
	descMisses     = prometheus.NewDesc("indexer_query_cache_misses_total", "Cacheable queries that had to be computed.", nil, nil)
	descEntries    = prometheus.NewDesc("indexer_query_cache_entries", "Answers held in the cache.", nil, nil)
	descExamined   = prometheus.NewDesc("indexer_query_rows_examined_total", "Rows (names, files, groups) the queries read.", nil, nil)
	descHeavy      = prometheus.NewDesc("indexer_heavy_queries_running", "Heavy queries (regex, no limit, every duplicate) running now.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCheckpoint, descLastSeq, descLag, descUp, descHits, descMisses, descEntries, descExamined, descHeavy} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.h.Queries.Status(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
	} else {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
		ch <- prometheus.MustNewConstMetric(descCheckpoint, prometheus.GaugeValue, float64(st.Checkpoint))
		ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(st.LastSeq))
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(st.Lag))
	}
	if c.h.CacheStats != nil {
		s := c.h.CacheStats()
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(s.Hits))
		ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(s.Misses))
		ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(s.Entries))
	}
	if c.h.Work != nil {
		w := c.h.Work()
		ch <- prometheus.MustNewConstMetric(descExamined, prometheus.CounterValue, float64(w.Examined))
		ch <- prometheus.MustNewConstMetric(descHeavy, prometheus.GaugeValue, float64(w.Heavy))
	}
}
