package scanner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
)

// Files are hashed right whatever their size against the read buffer (256
// KiB): one read for a small file, the last read a short one or a full
// buffer, and with holes (read with SEEK_DATA and SEEK_HOLE) or without
// (read straight, with no read past the size). The truth is coreutils'.
func TestHashesAtReadBufferEdges(t *testing.T) {
	t.Parallel()
	h := archiveHarness(t) // an archive check on the first block of every file
	root := t.TempDir()
	const buf = 256 << 10
	sizes := []int{1, 511, 512, 513, buf - 1, buf, buf + 1, 2 * buf, 3*buf + 7}
	files := map[string]string{}
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		files[fmt.Sprintf("f%d", n)] = string(b)
	}
	writeTree(t, root, files)
	// A sparse file: data, a hole, data.
	sparse, err := os.Create(filepath.Join(root, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	sparse.WriteAt([]byte(strings.Repeat("head", 1000)), 0)
	sparse.WriteAt([]byte("tail"), 8<<20)
	sparse.Close()
	_, evs := h.mustScan(root)
	got := map[string]events.Hashes{}
	for _, e := range evs {
		if f, ok := e.Data.(*events.FileScanned); ok {
			got[filepath.Base(string(f.Path))] = f.Hashes
		}
	}
	if len(got) != len(sizes)+1 {
		t.Fatalf("scanned %d files, want %d", len(got), len(sizes)+1)
	}
	for name, hs := range got {
		for tool, sum := range map[string]string{"md5sum": hs.MD5, "sha1sum": hs.SHA1, "sha256sum": hs.SHA256} {
			if want := strings.Fields(sh(t, root, tool+" "+name))[0]; sum != want {
				t.Errorf("%s of %s: %s, want %s", tool, name, sum, want)
			}
		}
	}
}
