package scancmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner"
)

// scanMetrics are indexer-scan's Prometheus metrics, served on --metrics
// while the scan runs. Names follow pyFileIndexer's scan metrics where it
// has one (files_scanned_total is files seen here, bytes_hashed_total is
// bytes read, errors_total{scope} is errors by kind, scan_in_progress).
type scanMetrics struct {
	reg     *prometheus.Registry
	machine string

	mu       sync.Mutex
	cur      *scanner.Progress // the root being scanned, nil between roots
	curStart time.Time
	done     progressTotals // of the roots finished
	skipped  int64
	lastEnd  time.Time

	events *prometheus.CounterVec
	errs   *prometheus.CounterVec
}

type progressTotals struct{ dirs, files, toRead, bytesToRead, read, bytesRead int64 }

func (t *progressTotals) add(p *scanner.Progress) {
	t.dirs += p.Dirs.Load()
	t.files += p.Files.Load()
	t.toRead += p.ToRead.Load()
	t.bytesToRead += p.BytesToRd.Load()
	t.read += p.Read.Load()
	t.bytesRead += p.BytesRead.Load()
}

func newScanMetrics(machine string) *scanMetrics {
	m := &scanMetrics{reg: prometheus.NewRegistry(), machine: machine,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "indexer_scan_events_total", Help: "Events the scan appended to the log, by type.",
		}, []string{"type"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "indexer_scan_errors_total", Help: "Paths that could not be read, by kind (pyFileIndexer's errors_total).",
		}, []string{"kind"}),
	}
	// Every series from zero, so rate() and alerts see the first one.
	for _, k := range errorKinds {
		m.errs.WithLabelValues(k)
	}
	for _, t := range events.Types {
		m.events.WithLabelValues(string(t))
	}
	m.reg.MustRegister(m, m.events, m.errs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var (
	scanLabels      = []string{"machine"}
	descScanDirs    = prometheus.NewDesc("indexer_scan_directories_total", "Directories listed (pyFileIndexer's directories_scanned_total).", scanLabels, nil)
	descScanSeen    = prometheus.NewDesc("indexer_scan_files_seen_total", "Files seen by the walk (pyFileIndexer's files_scanned_total).", scanLabels, nil)
	descScanToRead  = prometheus.NewDesc("indexer_scan_files_to_read_total", "Files new or changed, queued to be read and hashed.", scanLabels, nil)
	descScanBytesTo = prometheus.NewDesc("indexer_scan_bytes_to_read_total", "Bytes of the files queued to be read.", scanLabels, nil)
	descScanRead    = prometheus.NewDesc("indexer_scan_files_read_total", "Files read and hashed.", scanLabels, nil)
	descScanBytes   = prometheus.NewDesc("indexer_scan_bytes_read_total", "Bytes read from disk and hashed (pyFileIndexer's bytes_hashed_total).", scanLabels, nil)
	descScanSkipped = prometheus.NewDesc("indexer_scan_files_skipped_total", "FIFOs, sockets and devices: never opened, not indexed (counted when a root's scan ends).", scanLabels, nil)
	descScanRate    = prometheus.NewDesc("indexer_scan_read_bytes_per_second", "Bytes read per second over the current root's scan so far.", scanLabels, nil)
	descScanRunning = prometheus.NewDesc("indexer_scan_in_progress", "1 while a root is being scanned (pyFileIndexer's scan_in_progress).", scanLabels, nil)
	descScanLastEnd = prometheus.NewDesc("indexer_last_scan_completed_timestamp_seconds", "When this process last finished scanning a root (Unix time).", scanLabels, nil)
)

// Describe implements prometheus.Collector.
func (m *scanMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descScanDirs, descScanSeen, descScanToRead, descScanBytesTo, descScanRead,
		descScanBytes, descScanSkipped, descScanRate, descScanRunning, descScanLastEnd} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *scanMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	t, cur, start, skipped, lastEnd := m.done, m.cur, m.curStart, m.skipped, m.lastEnd
	m.mu.Unlock()
	rate, running := 0.0, 0.0
	if cur != nil {
		t.add(cur)
		running = 1
		if el := time.Since(start).Seconds(); el > 0 {
			rate = float64(cur.BytesRead.Load()) / el
		}
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), m.machine)
	}
	counter(descScanDirs, t.dirs)
	counter(descScanSeen, t.files)
	counter(descScanToRead, t.toRead)
	counter(descScanBytesTo, t.bytesToRead)
	counter(descScanRead, t.read)
	counter(descScanBytes, t.bytesRead)
	counter(descScanSkipped, skipped)
	ch <- prometheus.MustNewConstMetric(descScanRate, prometheus.GaugeValue, rate, m.machine)
	ch <- prometheus.MustNewConstMetric(descScanRunning, prometheus.GaugeValue, running, m.machine)
	if !lastEnd.IsZero() {
		ch <- prometheus.MustNewConstMetric(descScanLastEnd, prometheus.GaugeValue, float64(lastEnd.UnixNano())/1e9, m.machine)
	}
}

// begin starts counting the scan of a root.
func (m *scanMetrics) begin(p *scanner.Progress) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur, m.curStart = p, time.Now()
}

// end adds a root's scan to the totals.
func (m *scanMetrics) end(res scanner.Result) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil {
		m.done.add(m.cur)
	}
	m.cur = nil
	m.skipped += res.Skipped
	if res.Complete {
		m.lastEnd = time.Now()
	}
}

// sink counts the events s appends.
func (m *scanMetrics) sink(s scanner.Sink) scanner.Sink {
	if m == nil {
		return s
	}
	return &countingSink{Sink: s, m: m}
}

type countingSink struct {
	scanner.Sink
	m *scanMetrics
}

func (c *countingSink) Append(ctx context.Context, e events.Event) error {
	err := c.Sink.Append(ctx, e)
	if err == nil {
		c.m.events.WithLabelValues(string(e.Type)).Inc()
		if u, ok := e.Data.(*events.FileUnreadable); ok {
			c.m.errs.WithLabelValues(errorKind(u.Error)).Inc()
		}
	}
	return err
}

// errorKinds are the kinds errorKind returns.
var errorKinds = []string{"permission", "vanished", "changed_while_read", "io", "limits", "other"}

// errorKind sorts a FileUnreadable's error text into a few kinds.
func errorKind(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "permission denied"), strings.Contains(t, "operation not permitted"):
		return "permission"
	case strings.Contains(t, "no such file"), strings.Contains(t, "not a directory"):
		return "vanished"
	case strings.Contains(t, "changed while being read"):
		return "changed_while_read"
	case strings.Contains(t, "input/output error"):
		return "io"
	case strings.Contains(t, "too many"), strings.Contains(t, "name too long"):
		return "limits"
	}
	return "other"
}

// serveMetrics serves m on addr until the returned stop is called. A
// bare port (":9464") is served on loopback only: the endpoint has no
// authentication.
func serveMetrics(addr string, m *scanMetrics, logger interface{ Info(string, ...any) }) (url string, stop func(), err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, app.Usagef("--metrics %q: want host:port or :port (%v)", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Info("metrics server stopped", "err", err)
		}
	}()
	url = "http://" + ln.Addr().String() + "/metrics"
	logger.Info("serving metrics", "url", url)
	return url, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
