package web

import (
	"context"
	"net/http"

	"github.com/indexer/indexer/projections"
)

// The operator's endpoints, kept apart as orchestrators expect:
//
//	GET /live    liveness: 200 while the process answers HTTP. Restart it
//	             when this fails; nothing else here should restart it.
//	GET /ready   readiness: 200 when the index answers queries (also while
//	             it catches up or a rebuild runs), 503 when it cannot be read.
//	GET /health  the judgement (Handler.Health): 200 only when the log
//	             answers, the projector follows it and the lag is zero or
//	             coming down; 503 with the reasons otherwise. Alert on it.

// live: GET /live.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, map[string]string{"status": "alive"})
}

// ready: GET /ready, 503 when the index cannot answer.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.Queries.Stats(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return writeJSON(w, map[string]string{"status": "not ready", "error": err.Error()})
	}
	return writeJSON(w, map[string]string{"status": "ready"})
}

// healthVerdict answers /health from Health, with the index's position
// for pyFileIndexer's clients.
func (h *Handler) healthVerdict(w http.ResponseWriter, r *http.Request, judge func(context.Context) projections.Verdict) error {
	v := judge(r.Context())
	body := map[string]any{"status": v.Status, "healthy": v.Healthy, "state": v.State, "lag": v.Lag, "lag_trend": v.LagTrend}
	if len(v.Reasons) > 0 {
		body["reasons"] = v.Reasons
	}
	if st, err := h.Queries.Status(r.Context()); err == nil {
		body["checkpoint"], body["last_seq"], body["live"] = st.Checkpoint, st.LastSeq, st.Live
	}
	if !v.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	return writeJSON(w, body)
}
