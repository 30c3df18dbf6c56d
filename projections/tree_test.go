package projections

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/indexer/indexer/events"
)

// indexOf appends evs to a new log and returns builtIndex of it.
func indexOf(t *testing.T, evs ...events.Event) *Index {
	t.Helper()
	_, log := openServerAt(t, t.TempDir())
	appendAll(t, log, evs...)
	return builtIndex(t, log)
}

// A scanned root with no files is an empty tree, not one the index does
// not know.
func TestTreeOfAnEmptyScannedRoot(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	ix := indexOf(t,
		g.ev(&events.ScanStarted{Root: "/srv/empty"}),
		g.ev(&events.ScanCompleted{Root: "/srv/empty", Complete: true}),
	)
	for _, dir := range []string{"/srv/empty", "/srv/empty/"} {
		if tr, err := ix.Tree("nas1", dir, 0, 0); err != nil || tr.Files != 0 || len(tr.Dirs) != 0 {
			t.Errorf("tree %s: %+v, %v; want empty", dir, tr, err)
		}
	}
	for _, c := range [][2]string{{"nas1", "/srv/other"}, {"laptop", "/srv/empty"}} {
		if _, err := ix.Tree(c[0], c[1], 0, 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("tree %s:%s: %v, want not found", c[0], c[1], err)
		}
	}
}

// A subdirectory's name keeps its exact bytes in JSON, as paths do: one
// that is not UTF-8 is not replaced by U+FFFD.
func TestTreeNamesAreExact(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	ix := indexOf(t,
		g.ev(&events.ScanStarted{Root: "/d"}),
		g.ev(&events.FileScanned{File: file("/d/sub\xe9\x80/x", 1, 1, 1)}),
		g.ev(&events.ScanCompleted{Root: "/d", Complete: true}),
	)
	tr, err := ix.Tree("nas1", "/d", 0, 0)
	if err != nil || len(tr.Dirs) != 1 {
		t.Fatalf("tree: %+v, %v", tr, err)
	}
	b, err := json.Marshal(tr.Dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ Name events.Path }
	if err := json.Unmarshal(b, &back); err != nil || back.Name != "sub\xe9\x80" {
		t.Fatalf("name through JSON: %q (%s), %v", back.Name, b, err)
	}
}
