package projections

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
)

// TestAbsurdEventsAreDeadLettered forges events a scanner never writes:
// each is a dead letter with its reason, and the index holds none of them.
func TestAbsurdEventsAreDeadLettered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := MustOpenLog(t, MustOpenServer(t))
	g := newGen("nas1", 1)
	appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"}), g.ev(&events.FileScanned{File: file("/ok", 1, 1, 1)}))
	p := MustOpenProjector(t, log, "")
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	before := p.db.Size()

	deep := strings.Repeat("/a", 2000) // 2,000 levels, 4,000 bytes
	atLimit := strings.Repeat("/a", maxDepth)
	other := newGen("nas1", 2) // a scan that never started
	cases := []struct {
		ev   events.Event
		want string // in the reason
	}{
		{g.ev(&events.FileScanned{File: file("relative/x", 1, 2, 2)}), "not absolute"},
		{g.ev(&events.FileScanned{File: file("/a/../etc/x", 1, 2, 3)}), "not clean"},
		{g.ev(&events.FileScanned{File: file("/a//x", 1, 2, 4)}), "not clean"},
		{g.ev(&events.FileScanned{File: file("/a/./x", 1, 2, 5)}), "not clean"},
		{g.ev(&events.FileScanned{File: file("/a/x/", 1, 2, 6)}), "not clean"},
		{g.ev(&events.FileMoved{From: "../x", File: file("/y", 1, 2, 7)}), "not absolute"},
		{g.ev(&events.FileDeleted{Path: "x"}), "not absolute"},
		{g.ev(&events.FileScanned{File: file(deep, 1, 2, 8)}), "2000 levels deep"},
		{g.ev(&events.FileScanned{File: file(strings.Repeat("/abcdefghijklmnopqrstuvwxyz0123456789", 400), 1, 2, 9)}), "directories' paths total"},
		{g.ev(&events.ScanCompleted{Root: "/", Counts: events.ScanCounts{Seen: -5}}), "negative seen"},
		{other.ev(&events.ScanCompleted{Root: "/", Complete: true, Counts: events.ScanCounts{Seen: 1}}), "never started"},
		{g.ev(&events.ScanStarted{Root: "tmp"}), "not absolute"},
	}
	for _, c := range cases {
		appendAll(t, log, c.ev)
	}
	// A time past what the index stores, forged as raw JSON.
	appendRaw(t, log, "idx.nas1.file.deleted", `{"v":1,"type":"FileDeleted","id":"01KE1FHYPGAAAAAAAAAAAAAAAB","machine":"nas1","time":"2300-01-01T00:00:00Z","data":{"path":"/ok"}}`)
	last := appendAll(t, log, g.ev(&events.FileScanned{File: file(atLimit, 1, 3, 10)}))
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	dl, err := p.Index().DeadLetters(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != len(cases)+1 {
		t.Fatalf("%d dead letters, want %d: %+v", len(dl), len(cases)+1, dl)
	}
	for i, c := range cases {
		if !strings.Contains(dl[i].Reason, c.want) {
			t.Errorf("dead letter %d: %q, want %q", dl[i].Seq, dl[i].Reason, c.want)
		}
	}
	if !strings.Contains(dl[len(cases)].Reason, "out of range") {
		t.Errorf("the event of 2300: %q", dl[len(cases)].Reason)
	}
	if p.Checkpoint() != last {
		t.Fatalf("checkpoint %d, want %d", p.Checkpoint(), last)
	}
	if _, err := p.Index().Lookup("nas1", "/ok"); err != nil {
		t.Fatalf("the file the forged delete named: %v", err)
	}
	if _, err := p.Index().Lookup("nas1", events.Path(atLimit)); err != nil {
		t.Fatalf("a path at the depth limit: %v", err)
	}
	scans, err := p.Index().Scans("nas1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 1 {
		t.Fatalf("scans %+v: want only the one that started", scans)
	}
	// The deep paths cost nothing; the one at the limit about its bound.
	if grew := p.db.Size() - before; grew > 8<<20 {
		t.Fatalf("index grew by %d bytes", grew)
	}
}

// TestHugeSizesDoNotWrapTotals stores files of the largest size Linux
// allows (a sparse file of 2^63-1 bytes), copies of one content: every sum
// saturates rather than wraps around to a small number.
func TestHugeSizesDoNotWrapTotals(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	g := newGen("nas1", 1)
	seq := appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"}),
		g.ev(&events.FileScanned{File: file("/d/small", 172, 1, 1)}),
		g.ev(&events.FileScanned{File: file("/d/huge1", math.MaxInt64, 2, 2)}),
		g.ev(&events.FileScanned{File: file("/d/huge2", math.MaxInt64, 2, 3)}),
		g.ev(&events.FileScanned{File: file("/d/huge3", math.MaxInt64, 2, 4)}),
	)
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	waitFor(t, p, seq)
	st, err := p.Index().Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Bytes saturated; two copies' waste (2^64-2) fits.
	if st.Bytes != math.MaxUint64 || st.Files != 4 || st.Wasted != math.MaxUint64-1 || st.UniqueBytes != 1 {
		t.Fatalf("stats %+v: want bytes saturated, wasted 2^64-2", st)
	}
	if st.Machines[0].Bytes != math.MaxUint64 {
		t.Fatalf("machine %+v", st.Machines[0])
	}
	// Removing one leaves a bound, never a wrapped sum.
	seq = appendAll(t, log, g.ev(&events.FileDeleted{Path: "/d/huge3"}))
	waitFor(t, p, seq)
	if st, err = p.Index().Stats(); err != nil || st.Bytes < math.MaxInt64 || st.Files != 3 {
		t.Fatalf("stats after a delete %+v, %v", st, err)
	}
	checkSameAsBuild(t, log, p.Index())
}
