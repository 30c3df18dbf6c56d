package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/simtree"
	"github.com/indexer/indexer/store"
)

// TestTapMatchesTheLog projects a history through a Tap while it is being
// stored, as a standalone scan does, with everything that makes the tap
// differ from the log: another process storing events in between (gaps),
// acknowledgements handed over out of order (a retried event), and more
// events than the tap holds arriving before the projector takes any
// (dropped). The index must come out as a rebuild from the log makes it, and
// match the simulated truth; and the tap must have been used, and the
// log read for what it lacked.
func TestTapMatchesTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := MustOpenServer(t)
	log, other := MustOpenLog(t, srv), MustOpenLog(t, srv)
	p := MustOpenProjector(t, log, "")
	p.BatchSize = 2000
	tap := NewTap(4000)
	followed := make(chan error, 1)

	// This process appends alpha's events and hands each to the tap once
	// stored, in windows of up to 8 shuffled; beta's events are stored by
	// another connection between them, and never tapped.
	rng := rand.New(rand.NewPCG(5, 6))
	var held []tapped
	var handed uint64 // the highest sequence handed over
	handOver := func() {
		rng.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
		for _, h := range held {
			tap.Add(h.seq, h.e)
			handed = max(handed, h.seq)
		}
		held = held[:0]
	}
	a := log.NewAppender()
	a.OnStored = func(seq uint64, e events.Event) {
		held = append(held, tapped{seq: seq, e: e})
		if len(held) >= 1+rng.IntN(8) {
			handOver()
		}
	}
	started := false
	alpha, beta := simtree.New("alpha", 11), simtree.New("beta", 12)
	trees := []*simtree.Tree{alpha, beta}
	for round := range 3 {
		if err := a.Append(ctx, alpha.StartScan()); err != nil {
			t.Fatal(err)
		}
		appendAll(t, other, beta.StartScan())
		for i := range 5000 {
			if err := a.Append(ctx, alpha.Step()); err != nil {
				t.Fatal(err)
			}
			if round == 0 && i == 4100 {
				if err := a.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				go func() { followed <- p.FollowTap(ctx, tap) }() // the tap let about 100 go
				started = true
			}
			if started && i%2000 == 1999 {
				// The projector keeps up from here, however slow the
				// machine: the tap lets go of nothing more.
				if err := a.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				handOver()
				waitFor(t, p, handed)
			}
			if i%(50+round*400) == 0 {
				if err := a.Flush(ctx); err != nil { // so that beta's land between alpha's
					t.Fatal(err)
				}
				appendAll(t, other, beta.Step(), beta.Step())
			}
		}
		if err := a.Append(ctx, alpha.EndScan()); err != nil {
			t.Fatal(err)
		}
		appendAll(t, other, beta.EndScan())
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	handOver()
	tap.Close()
	if err := <-followed; err != nil {
		t.Fatalf("FollowTap: %v", err)
	}
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	used, read := tap.used.Load(), tap.read.Load()
	t.Logf("events fed from the tap %d, read from the log %d", used, read)
	// Read from the log: the about 100 the tap let go, beta's 54, and the
	// events of a shuffled window that the feed took apart (at most 7 a
	// take, more on a slow machine).
	if used < 15006/2 || read < 154 {
		t.Errorf("fed %d events from the tap and read %d from the log: want most of alpha's 15,006 from the tap, and from the log the about 100 it let go and beta's 54", used, read)
	}
	ix := p.Index()
	checkTruth(t, ix, trees)
	if got, want := dump(t, ix), dump(t, builtIndex(t, log)); got != want {
		t.Errorf("the index fed by the tap differs from a rebuild:\n%s", diff(want, got))
	}
}

// TestTapFeedHoldsABatch: while the projector's commits wait (a slow
// disk), the feed behind it takes at most about a batch beyond the one
// being applied, from the tap or from the log, and the tap holds its own
// bound: what a standalone scan holds in memory does not grow with what
// it stores meanwhile. The feed held up to 64 chunks of 256 events (16,384
// events) whatever the batch, and a scan of a zip of 100,000 members
// peaked above its 200 MB goal when another process kept the disk busy.
func TestTapFeedHoldsABatch(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := MustOpenLog(t, MustOpenServer(t))
	p := MustOpenProjector(t, log, "")
	p.BatchSize = 1024
	tap := NewTap(2048)
	// Commits wait for a write transaction the test holds open.
	held, release, holding := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		holding <- p.db.Update(func(*store.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	followed := make(chan error, 1)
	go func() { followed <- p.FollowTap(ctx, tap) }()
	a := log.NewAppender()
	a.OnStored = func(seq uint64, e events.Event) { tap.Add(seq, e) }
	g := newGen("m", 1)
	const stored = 20000
	for i := range stored {
		if err := a.Append(ctx, g.ev(&events.FileScanned{File: file(fmt.Sprintf("/d/f%05d", i), int64(i+1), byte(i%200+1), uint64(i+1))})); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The feed takes what it may, then waits: its count stops moving.
	taken := func() int64 { return tap.used.Load() + tap.read.Load() }
	for last, still := taken(), 0; still < 10; time.Sleep(50 * time.Millisecond) {
		if n := taken(); n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
	tap.mu.Lock()
	inTap := len(tap.items)
	tap.mu.Unlock()
	took := taken()
	t.Logf("with commits waiting, the feed took %d of %d events stored (from the tap %d, from the log %d); the tap holds %d", took, stored, tap.used.Load(), tap.read.Load(), inTap)
	if limit := int64(2*p.BatchSize + 4*chunkLen); took > limit {
		t.Errorf("the feed took %d events while commits waited, want at most %d (the batch being applied and about one more)", took, limit)
	}
	if inTap > 2048 {
		t.Errorf("the tap holds %d events, want at most its 2048", inTap)
	}
	unblock()
	if err := <-holding; err != nil {
		t.Fatal(err)
	}
	tap.Close()
	if err := <-followed; err != nil {
		t.Fatalf("FollowTap: %v", err)
	}
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if cp := p.Checkpoint(); cp != stored {
		t.Fatalf("index at %d after the commits went on, want %d", cp, stored)
	}
}
