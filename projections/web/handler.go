package web

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

//go:embed ui
var uiFiles embed.FS

// Handler serves the HTTP API and the web UI over a service.Queries. Set
// the fields, then call Init (or use New); it is an http.Handler.
type Handler struct {
	// Queries answers every request; put a service.Cache in front of a
	// live index.
	Queries service.Queries
	// Logger receives failed requests; nil discards.
	Logger *slog.Logger
	// CacheStats, when set, is exported as the cache's metrics.
	CacheStats func() service.CacheStats
	// Work, when set, is exported as the queries' work: rows examined and
	// heavy queries running.
	Work func() service.Work
	// Health, when set, judges GET /health (see ops.go); without it
	// /health says healthy whenever the index answers.
	Health func(context.Context) projections.Verdict
	// Collectors are exported on /metrics beside the handler's own.
	Collectors []prometheus.Collector
	// Mounts are more handlers, by ServeMux pattern ("GET /nats/"), served
	// behind whatever wraps this Handler.
	Mounts map[string]http.Handler

	mux     *http.ServeMux
	metrics *metrics
}

// New returns a Handler over q.
func New(q service.Queries, logger *slog.Logger) *Handler {
	h := &Handler{Queries: q, Logger: logger}
	if c, ok := q.(*service.Cache); ok {
		h.CacheStats = c.CacheStats
		q = c.Queries
	}
	if l, ok := q.(*service.Local); ok {
		h.Work = l.Work
	}
	h.Init()
	return h
}

// Init registers the routes. Call it once, after setting the fields.
func (h *Handler) Init() {
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.metrics = newMetrics(h)
	h.mux = http.NewServeMux()
	routes := []struct {
		pattern string
		fn      func(http.ResponseWriter, *http.Request) error
	}{
		// pyFileIndexer's endpoints, its parameters and shapes.
		{"GET /health", h.health},
		{"GET /api/health", h.health},
		{"GET /api/files", h.files},
		{"GET /api/search", h.search},
		{"GET /api/statistics", h.statistics},
		{"GET /api/duplicates", h.duplicates},
		{"GET /api/tree", h.tree},
		// The indexer's own.
		{"GET /api/history", h.history},
		{"GET /api/file", h.file},
		{"GET /api/lookup", h.lookup},
		{"GET /api/find", h.find},
		{"GET /api/dupes", h.dupes},
		{"GET /api/group", h.group},
		{"GET /api/ls", h.ls},
		{"GET /api/stats", h.stats},
		{"GET /api/machines", h.machines},
		{"GET /api/scans", h.scans},
		{"GET /api/status", h.status},
		{"GET /api/rot", h.rot},
		{"GET /live", h.live},
		{"GET /ready", h.ready},
	}
	for _, r := range routes {
		h.mux.Handle(r.pattern, h.instrument(r.pattern, r.fn))
	}
	h.mux.Handle("GET /metrics", h.metrics.handler())
	for pattern, handler := range h.Mounts {
		h.mux.Handle(pattern, handler)
	}
	sub, _ := fs.Sub(uiFiles, "ui")
	static := http.FileServerFS(sub)
	h.mux.Handle("GET /", h.instrument("GET /", func(w http.ResponseWriter, r *http.Request) error {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			return fmt.Errorf("%w: no endpoint %s", projections.ErrNotFound, r.URL.Path)
		}
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			w.Header().Set("Cache-Control", "no-cache")
		}
		static.ServeHTTP(w, r)
		return nil
	}))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

// instrument turns a handler that returns an error into an http.Handler
// that writes the error with its status and counts the request.
func (h *Handler) instrument(route string, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				h.Logger.Error("panic serving request", "route", route, "url", r.URL.String(), "panic", p)
				if !sw.wrote {
					writeError(sw, http.StatusInternalServerError, "internal error")
				}
			}
			h.metrics.observe(route, sw.code, time.Since(start))
		}()
		if err := fn(sw, r); err != nil {
			code := statusOf(err)
			if code == http.StatusServiceUnavailable {
				sw.Header().Set("Retry-After", "1")
			}
			if code == http.StatusInternalServerError {
				h.Logger.Error("request failed", "route", route, "url", r.URL.String(), "err", err)
			}
			writeError(sw, code, err.Error())
		}
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.code, w.wrote = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// errBadParam marks a request whose parameters are wrong: a 400.
var errBadParam = errors.New("bad parameter")

func statusOf(err error) int {
	switch {
	case errors.Is(err, errBadParam), errors.Is(err, projections.ErrBadQuery):
		return http.StatusBadRequest
	case errors.Is(err, projections.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, service.ErrBusy), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Busy, or stopped: the client went away, or the server stops.
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError writes FastAPI's error shape, {"detail": "..."}, which
// pyFileIndexer's clients read.
func writeError(w http.ResponseWriter, code int, msg string) {
	msg = strings.TrimPrefix(msg, errBadParam.Error()+": ")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"detail": msg})
}

// writeJSON writes v as the response.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := service.AppendReply(nil, v) // modes as stat(2) gives them
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
	return nil
}

// params reads query parameters, keeping the first error.
type params struct {
	r   *http.Request
	q   url.Values // parsed once
	err error
}

func (p *params) values() url.Values {
	if p.q == nil {
		p.q = p.r.URL.Query()
	}
	return p.q
}

func (p *params) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s", errBadParam, fmt.Sprintf(format, args...))
	}
}

func (p *params) str(name string) string { return p.values().Get(name) }

func (p *params) has(name string) bool { return p.values().Has(name) }

// int reads an integer in [min, max], or def when absent or empty.
func (p *params) int(name string, def, min, max int64) int64 {
	s := strings.TrimSpace(p.str(name))
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.fail("%s=%q is not an integer", name, s)
		return def
	}
	if v < min || v > max {
		if max == maxInt {
			p.fail("%s=%d must be at least %d", name, v, min)
		} else {
			p.fail("%s=%d must be between %d and %d", name, v, min, max)
		}
		return def
	}
	return v
}

const maxInt = int64(^uint64(0) >> 1)

// bool reads a flag: 1, true, yes, on (or present without a value).
func (p *params) bool(name string) bool {
	if !p.has(name) {
		return false
	}
	switch strings.ToLower(p.str(name)) {
	case "", "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	p.fail("%s=%q: want true or false", name, p.str(name))
	return false
}

// oneOf reads one of the allowed values, or def.
func (p *params) oneOf(name, def string, allowed ...string) string {
	v := p.str(name)
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail("%s=%q: want one of %s", name, v, strings.Join(allowed, ", "))
	return def
}

// machine reads a machine name, checked.
func (p *params) machine(name string, required bool) string {
	m := p.str(name)
	if m == "" {
		if required {
			p.fail("%s is required", name)
		}
		return ""
	}
	if err := events.ValidateMachine(m); err != nil {
		p.fail("%s: %v", name, err)
	}
	return m
}

// path reads a path given as name (its exact bytes, percent-encoded) or
// name_b64 (standard or URL base64 of the bytes, for names that are not
// UTF-8, which a browser cannot put in a URL otherwise).
func (p *params) path(name string, required bool) events.Path {
	if b := p.str(name + "_b64"); b != "" {
		raw, err := decodeB64(b)
		if err != nil {
			p.fail("%s_b64: %v", name, err)
			return ""
		}
		return events.Path(raw)
	}
	v := p.str(name)
	if v == "" && required {
		p.fail("%s is required", name)
	}
	return events.Path(v)
}

func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("not base64")
}
