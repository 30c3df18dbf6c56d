package projections

import (
	"fmt"
	"sync"
	"time"
)

// Defaults of a Health judge.
const (
	// DefaultHealthWindow is how far back Health looks at the lag.
	DefaultHealthWindow = time.Minute
	// DefaultStallAfter is how long the checkpoint may stay put while
	// the lag is above zero.
	DefaultStallAfter = time.Minute
	// DefaultHeadStaleAfter is how long the log's last sequence may stay
	// put while a scan holds its lease. A scan of unchanged files appends
	// nothing between its ScanStarted and ScanCompleted, so this is longer
	// than the walk of a large tree takes.
	DefaultHeadStaleAfter = 10 * time.Minute
)

// Health judges whether a projector is healthy from its Status sampled
// over time, the way Burrow judges a Kafka consumer: a lag above zero is
// fine while it comes down, and no fixed lag threshold applies. Feed it
// every Status taken (Observe); any number of goroutines may call it.
//
// It is unhealthy when:
//   - the log did not answer (the Status came with an error);
//   - the projector is stopped (not following the log, or failed);
//   - the checkpoint has not moved for StallAfter while the lag is above
//     zero (stalled);
//   - over the whole Window the lag never was zero and never came down,
//     and grew (falling behind);
//   - a scan holds its lease and the log's last sequence has not moved for
//     HeadStaleAfter (the scan says it runs, but nothing reaches the log:
//     the blind spot of a lag check, since the lag stays zero against a
//     head that does not move).
//
// A rebuild in progress is healthy: queries are answered from the old
// index until the new one is swapped in.
type Health struct {
	Window         time.Duration // DefaultHealthWindow when 0
	StallAfter     time.Duration // DefaultStallAfter when 0
	HeadStaleAfter time.Duration // DefaultHeadStaleAfter when 0

	mu       sync.Mutex
	samples  []healthSample
	cpMoved  time.Time // when the checkpoint last moved (or the first sample)
	headMove time.Time // when the log's last sequence last moved
	last     healthSample
}

type healthSample struct {
	t                 time.Time
	checkpoint, lsn   uint64
	lag               uint64
	haveLog, anything bool
}

// Verdict is Health's judgement.
type Verdict struct {
	Healthy bool `json:"healthy"`
	// Status is "healthy" or "unhealthy" (pyFileIndexer's /health field).
	Status string `json:"status"`
	// Reasons say why it is unhealthy, one line each.
	Reasons []string `json:"reasons,omitempty"`
	// State is the projector's (StateRunning, ...).
	State string `json:"state"`
	Lag   uint64 `json:"lag"`
	// LagTrend is "zero", "shrinking", "steady" or "growing" over the
	// window.
	LagTrend string `json:"lag_trend"`
}

func (h *Health) window() time.Duration     { return durOr(h.Window, DefaultHealthWindow) }
func (h *Health) stallAfter() time.Duration { return durOr(h.StallAfter, DefaultStallAfter) }
func (h *Health) headStale() time.Duration  { return durOr(h.HeadStaleAfter, DefaultHeadStaleAfter) }

func durOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Observe records s, taken at s.Time (now when zero), with err the error
// that came with it (the log did not answer), and scanning whether a scan
// holds its lease; it returns the verdict as of this sample.
func (h *Health) Observe(s Status, err error, scanning bool) Verdict {
	now := s.Time
	if now.IsZero() {
		now = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := healthSample{t: now, checkpoint: s.Checkpoint, lsn: s.StreamLastSeq, lag: s.Lag, haveLog: err == nil, anything: true}
	if !h.last.anything || cur.checkpoint != h.last.checkpoint {
		h.cpMoved = now
	}
	if cur.haveLog && (!h.last.anything || !h.last.haveLog || cur.lsn != h.last.lsn) {
		h.headMove = now
	}
	h.last = cur
	if cur.haveLog {
		h.samples = append(h.samples, cur)
	}
	cut := 0
	for cut < len(h.samples)-1 && now.Sub(h.samples[cut].t) > h.window() {
		cut++
	}
	h.samples = h.samples[cut:]

	v := Verdict{State: s.State, Lag: s.Lag, LagTrend: h.trend()}
	if err != nil {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the log did not answer: %v", err))
	}
	if s.State == StateStopped {
		why := "the projector is not following the log"
		if s.Error != "" {
			why += ": " + s.Error
		}
		v.Reasons = append(v.Reasons, why)
	}
	if err == nil && !s.Rebuilding && s.State != StateStopped {
		if s.Lag > 0 && now.Sub(h.cpMoved) >= h.stallAfter() {
			v.Reasons = append(v.Reasons, fmt.Sprintf("stalled: the checkpoint has stayed at %d for %s with %d events to apply",
				s.Checkpoint, now.Sub(h.cpMoved).Round(time.Second), s.Lag))
		} else if v.LagTrend == "growing" && h.spanned() {
			v.Reasons = append(v.Reasons, fmt.Sprintf("falling behind: the lag grew to %d and never came down in the last %s", s.Lag, h.window()))
		}
	}
	if err == nil && scanning && now.Sub(h.headMove) >= h.headStale() {
		v.Reasons = append(v.Reasons, fmt.Sprintf("a scan holds its lease, but the log's last sequence has stayed at %d for %s",
			s.StreamLastSeq, now.Sub(h.headMove).Round(time.Second)))
	}
	v.Healthy = len(v.Reasons) == 0
	v.Status = "healthy"
	if !v.Healthy {
		v.Status = "unhealthy"
	}
	return v
}

// spanned reports whether the samples cover most of the window, so a
// trend is evidence and not a first impression.
func (h *Health) spanned() bool {
	n := len(h.samples)
	return n >= 3 && h.samples[n-1].t.Sub(h.samples[0].t) >= h.window()*3/4
}

// trend classifies the lag over the window (Burrow's rules): zero if it was
// zero at any sample; shrinking if it came down at some step; growing if
// it never came down and ended higher than it began; steady otherwise.
func (h *Health) trend() string {
	down := false
	for i, s := range h.samples {
		if s.lag == 0 {
			return "zero"
		}
		if i > 0 && s.lag < h.samples[i-1].lag {
			down = true
		}
	}
	switch n := len(h.samples); {
	case n == 0:
		return "zero"
	case down:
		return "shrinking"
	case h.samples[n-1].lag > h.samples[0].lag:
		return "growing"
	}
	return "steady"
}
