package projections

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/indexer/indexer/events"
)

// TestCompactKeepsAnswers: an index that held 6,000 files and lost half
// is compacted while the projector runs and queries are asked; every
// answer (the dump of every read model) is the same, the file is smaller,
// and events after the compaction are applied to the new file.
func TestCompactKeepsAnswers(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	g := newGen("m", 1)
	const n = 6_000
	evs := []events.Event{g.ev(&events.ScanStarted{Root: "/"})}
	for i := range n {
		evs = append(evs, g.ev(&events.FileScanned{File: file(fmt.Sprintf("/d%d/file-%05d.txt", i%50, i), int64(100+i), byte(i%200+1), uint64(i+1))}))
	}
	for len(evs) > 0 { // in parts: a busy machine acknowledges slowly
		k := min(len(evs), 1000)
		appendAll(t, log, evs[:k]...)
		evs = evs[k:]
	}
	for i := 0; i < n; i += 2 {
		evs = append(evs, g.ev(&events.FileDeleted{Path: events.Path(fmt.Sprintf("/d%d/file-%05d.txt", i%50, i))}))
	}
	last := appendAll(t, log, evs...)
	waitFor(t, p, last)
	before := dump(t, p.Index())

	stop := make(chan struct{})
	var answered atomic.Int64
	queried := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				queried <- nil
				return
			default:
			}
			if _, err := p.Index().Stats(); err != nil {
				queried <- err
				return
			}
			answered.Add(1)
		}
	}()
	c, err := p.Compact(context.Background())
	close(stop)
	if qerr := <-queried; qerr != nil {
		t.Fatalf("a query during the compaction: %v", qerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files, half deleted: %d -> %d bytes in %s; %d queries answered meanwhile", n, c.Before, c.After, c.Took, answered.Load())
	if c.After >= c.Before || c.Seq != last {
		t.Fatalf("compaction %+v: want smaller, at seq %d", c, last)
	}
	if fi, err := os.Stat(p.Path); err != nil || fi.Size() != c.After {
		t.Fatalf("index.db after: %v %v", fi, err)
	}
	if _, err := os.Stat(CompactPath(p.Path)); !os.IsNotExist(err) {
		t.Fatalf("the compacted copy is left behind: %v", err)
	}
	if after := dump(t, p.Index()); after != before {
		t.Fatal("answers changed by the compaction")
	}
	// The projector goes on with the new file.
	last = appendAll(t, log, g.ev(&events.FileScanned{File: file("/new", 1, 9, 999_999)}))
	waitFor(t, p, last)
	if got, want := dump(t, p.Index()), dump(t, builtIndex(t, log)); got != want {
		t.Fatal("after the compaction the index differs from a fresh build")
	}
}
