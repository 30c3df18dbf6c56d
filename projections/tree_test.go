package projections

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// A scanned root with no files is an empty tree, not one the index does
// not know.
func TestTreeOfAnEmptyScannedRoot(t *testing.T) {
	t.Parallel()
	_, log := openServerAt(t, t.TempDir())
	g := newGen("nas1", 1)
	appendAll(t, log,
		g.ev(&events.ScanStarted{Root: "/srv/empty"}),
		g.ev(&events.ScanCompleted{Root: "/srv/empty", Complete: true}),
	)
	path := filepath.Join(t.TempDir(), "index.db")
	if _, err := Build(context.Background(), log, path, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ix := NewIndex(db)
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
