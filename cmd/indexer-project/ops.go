package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/metrics"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/web"
	"github.com/indexer/indexer/store"
)

// healthWatch samples the projector's status once a second (with the
// status file) into a projections.Health and keeps the last verdict for
// /health, the status file and the indexer_healthy gauge.
type healthWatch struct {
	judge projections.Health
	p     *projections.Projector
	log   *store.Log
	// noLeases: the log's scan leases are not asked (a read replica's
	// reader credential may not read them), so a scan that holds its
	// lease while nothing reaches the log is not noticed here.
	noLeases bool

	mu       sync.Mutex
	last     projections.Verdict
	followed bool // the projector was seen following the log once
}

// observe judges s, taken with err, asking the log whether a scan runs.
func (hw *healthWatch) observe(ctx context.Context, s projections.Status, err error) projections.Verdict {
	scanning := false
	if err == nil && !hw.noLeases {
		held, lerr := hw.log.HeldLeases(ctx)
		scanning = lerr == nil && len(held) > 0
	}
	hw.mu.Lock()
	defer hw.mu.Unlock()
	switch {
	case s.State != projections.StateStopped:
		hw.followed = true
	case s.Error == "" && !hw.followed:
		// Run has not begun yet (the HTTP server starts first): the
		// projector is starting, not stopped.
		s.State = projections.StateCatchingUp
	}
	v := hw.judge.Observe(s, err, scanning)
	hw.last = v
	return v
}

// verdict returns the last verdict; before the first sample it takes one.
func (hw *healthWatch) verdict(ctx context.Context) projections.Verdict {
	hw.mu.Lock()
	v := hw.last
	hw.mu.Unlock()
	if v.State != "" {
		return v
	}
	s, err := hw.p.Status(ctx)
	return hw.observe(ctx, s, err)
}

// newWebHandler is the HTTP handler of run: the queries, the projector's
// and the embedded server's metrics, health, and the server's monitoring
// endpoints under /nats/.
func newWebHandler(queries *metrics.Timed, pm *metrics.Projector, cache *service.Cache, work func() service.Work, env *app.Env, hw *healthWatch, logger *slog.Logger) *web.Handler {
	healthy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "indexer_healthy", Help: "1 when /health says healthy (see the README's Operations section), else 0.",
	}, func() float64 {
		if hw.verdict(context.Background()).Healthy {
			return 1
		}
		return 0
	})
	h := &web.Handler{Queries: queries, Logger: logger, CacheStats: cache.CacheStats, Work: work, Health: hw.verdict,
		Collectors: []prometheus.Collector{queries, pm, healthy}}
	if srv := inproc.Of(env); srv != nil {
		h.Collectors = append(h.Collectors, srv.Collector())
		h.Mounts = map[string]http.Handler{"GET /nats/": srv.MonitorHandler("/nats")}
	}
	h.Init()
	return h
}

// judgeOnce gives st a health verdict when no running projector wrote
// one: then nothing follows the log, which is unhealthy.
func judgeOnce(st *ownerStatus) {
	if st.Health != nil {
		return
	}
	if st.State == "" {
		st.State = projections.StateStopped
	}
	v := (&projections.Health{}).Observe(st.Status, nil, false)
	st.Health = &v
}

// printHealth prints the verdict's lines of `indexer-project status`.
func printHealth(w io.Writer, v *projections.Verdict) {
	if v == nil {
		return
	}
	fmt.Fprintf(w, "health           %s (state %s, lag %s)\n", v.Status, v.State, v.LagTrend)
	for _, r := range v.Reasons {
		fmt.Fprintf(w, "  because        %s\n", r)
	}
}
