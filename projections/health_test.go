package projections

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// TestHealthFollowsTheProjector: a running, caught-up projector is healthy;
// stopped it is unhealthy (state stopped); running again, healthy again.
func TestHealthFollowsTheProjector(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	p := MustOpenProjector(t, log, "")
	g := newGen("m", 1)
	last := appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"}), g.ev(&events.FileScanned{File: file("/a", 1, 1, 1)}))
	h := &Health{}
	judge := func() Verdict {
		t.Helper()
		s, err := p.Status(context.Background())
		return h.Observe(s, err, false)
	}
	if v := judge(); v.Healthy || v.State != StateStopped || !strings.Contains(strings.Join(v.Reasons, ";"), "not following") {
		t.Fatalf("before Run: %+v", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, p, last)
	if v := judge(); !v.Healthy || v.State != StateRunning {
		t.Fatalf("running and caught up: %+v", v)
	}
	cancel()
	<-done
	if v := judge(); v.Healthy || v.State != StateStopped {
		t.Fatalf("after Run returned: %+v", v)
	}
	runProjector(t, p)
	last = appendAll(t, log, g.ev(&events.FileScanned{File: file("/b", 1, 2, 2)}))
	waitFor(t, p, last)
	if v := judge(); !v.Healthy || v.State != StateRunning || v.Lag != 0 {
		t.Fatalf("running again: %+v", v)
	}
}

// TestHealthLogUnreachable: a projector whose log's server is gone is
// unhealthy, and healthy again once the server is back.
func TestHealthLogUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	open := func() *embedded.Server {
		srv := &embedded.Server{DataDir: dir, Port: port}
		if err := srv.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := open()
	defer func() { srv.Close() }()
	nc, err := store.Dial(context.Background(), srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc}
	if err := log.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	g := newGen("m", 1)
	waitFor(t, p, appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"})))
	h := &Health{}
	judge := func() Verdict {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := p.Status(ctx)
		return h.Observe(s, err, false)
	}
	if v := judge(); !v.Healthy {
		t.Fatalf("with the log: %+v", v)
	}
	srv.Close()
	if v := judge(); v.Healthy || !strings.Contains(strings.Join(v.Reasons, ";"), "the log did not answer") {
		t.Fatalf("without the log: %+v", v)
	}
	srv = open()
	deadline := time.Now().Add(30 * time.Second)
	for v := judge(); !v.Healthy; v = judge() {
		if time.Now().After(deadline) {
			t.Fatalf("the log is back, still: %+v", v)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the client to reconnect
	}
}

// TestHealthRules drives the judge with statuses at known times: the rules
// are Burrow's, over the samples of the window.
func TestHealthRules(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := func(sec int, cp, last uint64) Status {
		return Status{Time: t0.Add(time.Duration(sec) * time.Second), Checkpoint: cp, StreamLastSeq: last, Lag: last - cp, State: StateCatchingUp}
	}
	cases := []struct {
		name     string
		samples  []Status
		scanning bool
		healthy  bool
		trend    string
		reason   string
	}{
		{"caught up", []Status{st(0, 10, 10), st(10, 10, 10)}, false, true, "zero", ""},
		{"behind and catching up", []Status{st(0, 0, 1000), st(20, 400, 1200), st(40, 900, 1300), st(60, 1200, 1400)}, false, true, "shrinking", ""},
		{"lag grows", []Status{st(0, 0, 100), st(20, 50, 200), st(40, 100, 400), st(60, 150, 800)}, false, false, "growing", "falling behind"},
		{"lag grows, too early to say", []Status{st(0, 0, 100), st(5, 50, 200)}, false, true, "growing", ""},
		{"stalled", []Status{st(0, 5, 100), st(30, 5, 100), st(61, 5, 100)}, false, false, "steady", "stalled"},
		{"head still while a scan runs", []Status{st(0, 10, 10), st(300, 10, 10), st(601, 10, 10)}, true, false, "zero", "a scan holds its lease"},
		{"head still, no scan", []Status{st(0, 10, 10), st(601, 10, 10)}, false, true, "zero", ""},
		{"rebuilding is not a stall", []Status{{Time: t0, Lag: 50, StreamLastSeq: 50, Rebuilding: true, State: StateRebuilding}, {Time: t0.Add(2 * time.Minute), Lag: 50, StreamLastSeq: 50, Rebuilding: true, State: StateRebuilding}}, false, true, "steady", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &Health{}
			var v Verdict
			for _, s := range c.samples {
				v = h.Observe(s, nil, c.scanning)
			}
			if v.Healthy != c.healthy || v.LagTrend != c.trend || !strings.Contains(strings.Join(v.Reasons, ";"), c.reason) {
				t.Fatalf("got %+v, want healthy=%v trend %s reason %q", v, c.healthy, c.trend, c.reason)
			}
		})
	}
	// Healthy again once the lag comes down.
	h := &Health{}
	for _, s := range []Status{st(0, 0, 100), st(20, 50, 200), st(40, 100, 400), st(60, 150, 800)} {
		h.Observe(s, nil, false)
	}
	if v := h.Observe(st(80, 700, 800), nil, false); !v.Healthy || v.LagTrend != "shrinking" {
		t.Fatalf("after the lag came down: %+v", v)
	}
}
