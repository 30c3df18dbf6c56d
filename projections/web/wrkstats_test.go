package web_test

import (
	"fmt"
	"net/http"
	"runtime/metrics"
	"slices"
	"sync"
	"time"
)

// runStats tells where a wrk run's latency went: the handlers' own time,
// measured inside the server, against how long this process's goroutines
// waited for a CPU once runnable, and how much of its CPU time was idle.
// Latency that wrk sees and the handlers do not is spent waiting for the
// kernel or the Go scheduler.
type runStats struct {
	mu    sync.Mutex
	times []time.Duration
	at    []metrics.Sample
}

var statNames = []string{"/sched/latencies:seconds", "/cpu/classes/total:cpu-seconds", "/cpu/classes/idle:cpu-seconds", "/cpu/classes/gc/total:cpu-seconds"}

// handler wraps h to time each request.
func (s *runStats) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		s.mu.Lock()
		s.times = append(s.times, d)
		s.mu.Unlock()
	})
}

func readStats() []metrics.Sample {
	ss := make([]metrics.Sample, len(statNames))
	for i, n := range statNames {
		ss[i].Name = n
	}
	metrics.Read(ss)
	return ss
}

// start begins a run.
func (s *runStats) start() {
	s.mu.Lock()
	s.times = s.times[:0]
	s.mu.Unlock()
	s.at = readStats()
}

// report describes the run since start.
func (s *runStats) report() string {
	now := readStats()
	s.mu.Lock()
	d := slices.Clone(s.times)
	s.mu.Unlock()
	slices.Sort(d)
	handler := "no requests"
	if n := len(d); n > 0 {
		handler = fmt.Sprintf("p50 %v, p99 %v, p99.9 %v", d[n/2], d[n*99/100], d[n*999/1000])
	}
	cpu := func(i int) float64 { return now[i].Value.Float64() - s.at[i].Value.Float64() }
	a, b := s.at[0].Value.Float64Histogram(), now[0].Value.Float64Histogram()
	return fmt.Sprintf("handlers: %s\nwaiting for a CPU: p99 <= %.3g ms, p99.9 <= %.3g ms\nCPU: %.1f s of %.1f idle, %.1f s garbage collection",
		handler, histQuantile(a, b, 0.99)*1000, histQuantile(a, b, 0.999)*1000, cpu(2), cpu(1), cpu(3))
}

// histQuantile returns the upper bound of the bucket holding quantile q of
// the observations b holds beyond a.
func histQuantile(a, b *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	for i := range b.Counts {
		total += b.Counts[i] - a.Counts[i]
	}
	want, seen := uint64(q*float64(total)), uint64(0)
	for i := range b.Counts {
		if seen += b.Counts[i] - a.Counts[i]; seen > want {
			return b.Buckets[i+1]
		}
	}
	return 0
}
