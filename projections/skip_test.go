package projections

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
)

// TestSkipMovesPastANewerEvent: an event of a newer schema stops the
// projector with its sequence in Status; the operator skips it, which the
// index records and a rebuild keeps, and projection goes on.
func TestSkipMovesPastANewerEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := MustOpenLog(t, MustOpenServer(t))
	g := newGen("nas1", 1)
	appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"}), g.ev(&events.FileScanned{File: file("/a", 1, 1, 1)}))
	newer := appendRaw(t, log, "idx.nas1.file.scanned", `{"v":2,"type":"FileScanned","id":"01KE1FHYPGAAAAAAAAAAAAAAAA","machine":"nas1","data":{"path":"/b"}}`)
	last := appendAll(t, log, g.ev(&events.FileScanned{File: file("/c", 1, 2, 2)}))

	p := MustOpenProjector(t, log, "")
	if err := p.CatchUp(ctx); !errors.Is(err, events.ErrNewerSchema) || !strings.Contains(err.Error(), "indexer-project skip 3") {
		t.Fatalf("CatchUp = %v, want a stop naming 'indexer-project skip 3'", err)
	}
	if err := runProjector(t, p)(); !errors.Is(err, events.ErrNewerSchema) {
		t.Fatalf("Run = %v", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.StoppedAt != newer || !strings.Contains(st.Error, "seq 3") || st.CaughtUp {
		t.Fatalf("status %+v: want stopped at %d with the reason", st, newer)
	}
	if err := p.Skip(ctx, 2); !errors.Is(err, ErrNotSkippable) {
		t.Fatalf("Skip of an applied event = %v", err)
	}
	if err := p.Skip(ctx, last); !errors.Is(err, ErrNotSkippable) {
		t.Fatalf("Skip of an event this binary applies = %v", err)
	}
	if err := p.Skip(ctx, newer); err != nil {
		t.Fatal(err)
	}
	runProjector(t, p)
	waitFor(t, p, last)
	if _, err := p.Index().Lookup("nas1", "/c"); err != nil {
		t.Fatal(err)
	}
	dl, err := p.Index().DeadLetters(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Seq != newer || !strings.Contains(dl[0].Reason, "skipped by the operator") || !strings.Contains(dl[0].Reason, "version 2") {
		t.Fatalf("dead letters %+v", dl)
	}
	if st, err = p.Status(ctx); err != nil || !slices.Equal(st.Skipped, []uint64{newer}) || st.Error != "" || st.StoppedAt != 0 {
		t.Fatalf("status %+v, %v: want the skip listed and no error", st, err)
	}
	// A rebuild keeps the operator's decision.
	if err := p.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, last)
	if st, err = p.Status(ctx); err != nil || !slices.Equal(st.Skipped, []uint64{newer}) {
		t.Fatalf("status after rebuild %+v, %v", st, err)
	}
}
