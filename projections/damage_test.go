package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// manyFiles appends a scan of n files and returns the last sequence.
func manyFiles(t *testing.T, log *store.Log, n int) uint64 {
	t.Helper()
	g := newGen("nas1", 1)
	evs := []events.Event{g.ev(&events.ScanStarted{Root: "/"})}
	for i := range n {
		evs = append(evs, g.ev(&events.FileScanned{File: file(fmt.Sprintf("/d%03d/file-%06d.txt", i%97, i), int64(i), byte(i%251), uint64(i+1))}))
	}
	return appendAll(t, log, evs...)
}

func corruptFiles(t *testing.T, path string) []string {
	t.Helper()
	m, _ := filepath.Glob(path + ".corrupt-*")
	return m
}

// TestTruncatedIndexIsMovedAsideAndRebuilt: an index.db cut to half its
// size is found when the projector opens it (it used to start, answer
// /health, and die of SIGBUS at the first query), moved aside as
// index.db.corrupt-<time>, and built again from the log, with a log line.
func TestTruncatedIndexIsMovedAsideAndRebuilt(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	last := manyFiles(t, log, 5000)
	p := MustOpenProjector(t, log, "")
	if err := p.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := dump(t, p.Index())
	path := p.Path
	used := p.db.Used()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, used/2); err != nil {
		t.Fatal(err)
	}

	var logs logBuffer
	p = &Projector{Log: log, Path: path, Logger: testLoggerTo(&logs)}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.Contains(logs.String(), "index is corrupt") {
		t.Errorf("no log line about the corrupt index:\n%s", logs.String())
	}
	if got := corruptFiles(t, path); len(got) != 1 {
		t.Fatalf("corrupt files beside the index: %v, want one", got)
	}
	if got := p.Checkpoint(); got != 0 {
		t.Fatalf("checkpoint of the new index = %d, want 0", got)
	}
	if err := p.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Checkpoint() != last {
		t.Fatalf("checkpoint %d, want %d", p.Checkpoint(), last)
	}
	if got := dump(t, p.Index()); got != want {
		t.Fatalf("rebuilt index differs:\n%s", diff(want, got))
	}
}

// TestDamageWhileRunningIsRebuilt: a running projector whose file is
// truncated under it answers the query that meets the damage with
// ErrCorrupt (the process lives), moves the file aside and rebuilds it,
// and then answers as before.
func TestDamageWhileRunningIsRebuilt(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	last := manyFiles(t, log, 5000)
	p := MustOpenProjector(t, log, "")
	var logs logBuffer
	p.Logger = testLoggerTo(&logs)
	runProjector(t, p)
	waitFor(t, p, last)
	ix := p.Index()
	want := dump(t, ix)
	// The generation before the damage: the Find below that meets it
	// wakes Run, which may have moved the file aside before Find returns.
	p.mu.RLock()
	gen := p.gen
	p.mu.RUnlock()
	if err := os.Truncate(p.Path, p.db.Used()/4); err != nil {
		t.Fatal(err)
	}
	res, err := ix.Find(FindQuery{Limit: -1})
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Find on a file truncated under it = %d files, %v; want ErrCorrupt", len(res.Files), err)
	}
	// Run moves it aside and builds a new one from the log.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		p.mu.RLock()
		swapped := p.gen != gen
		p.mu.RUnlock()
		if swapped && p.Checkpoint() == last {
			break
		}
		if s, _ := p.Status(ctx); s.Error != "" {
			t.Fatalf("projector stopped: %s", s.Error)
		}
		select {
		case <-ctx.Done():
			p.mu.RLock()
			now := p.gen
			p.mu.RUnlock()
			t.Fatalf("no new index after the damage (generation %d, was %d; checkpoint %d of %d):\n%s", now, gen, p.Checkpoint(), last, logs.String())
		case <-changed(p):
		}
	}
	if got := corruptFiles(t, p.Path); len(got) != 1 {
		t.Fatalf("corrupt files beside the index: %v, want one", got)
	}
	if !strings.Contains(logs.String(), "index is corrupt") {
		t.Errorf("no log line about the corrupt index:\n%s", logs.String())
	}
	if got := dump(t, ix); got != want {
		t.Fatalf("rebuilt index differs:\n%s", diff(want, got))
	}
}

func testLoggerTo(l *logBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// changed returns the channel closed when p's checkpoint or state next
// moves.
func changed(p *Projector) <-chan struct{} {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	return p.changed
}
