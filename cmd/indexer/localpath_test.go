package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/events"
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
