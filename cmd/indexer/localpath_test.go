package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// Paths of this host are looked up as a scan records them: real.
func TestLocalPathResolvesLinks(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(base, "real")
	if err := os.MkdirAll(filepath.Join(real, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(real, "sub", "a"), []byte("a"), 0o644)
	for _, l := range [][2]string{{"real", "link"}, {"a", filepath.Join("real", "sub", "alink")}} {
		if err := os.Symlink(l[0], filepath.Join(base, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link")
	for _, c := range []struct {
		p    string
		dir  bool
		want string
	}{
		{link + "/sub/a", false, real + "/sub/a"},
		{link + "/sub/alink", false, real + "/sub/alink"}, // a recorded link stays itself
		{link, true, real},
		{link + "/sub/", true, real + "/sub"},
		{link + "/gone/x", false, link + "/gone/x"}, // nothing to resolve: as given
		{link + "/sub/gone", false, real + "/sub/gone"},
	} {
		if got := localPath(c.p, c.dir); got != events.Path(c.want) {
			t.Errorf("localPath(%q, %v) = %q, want %q", c.p, c.dir, got, c.want)
		}
	}
}

// A data directory a standalone scan owns answers no queries: scanning
// says so; one an indexer-project owns, or nobody, is not scanning.
func TestScanningOwner(t *testing.T) {
	dir := t.TempDir()
	if err := scanning(dir); err != nil {
		t.Fatalf("free directory: %v", err)
	}
	for owner, want := range map[string]bool{"indexer-scan": true, "indexer-project": false} {
		l, err := store.LockDir(dir, owner)
		if err != nil {
			t.Fatal(err)
		}
		err = scanning(dir)
		l.Close()
		if got := err != nil && errors.Is(err, store.ErrLocked); got != want {
			t.Errorf("owned by %s: scanning = %v", owner, err)
		}
	}
}
