package store_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/store"
)

// TestDropPages writes 32 MiB into a file with DropPages, reads it all
// (which maps every page), and checks that the process's resident pages of
// the file (/proc/self/smaps) are gone after the next commit and after
// Tx.DropPages, while every value still reads back as written.
func TestDropPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db := &store.DB{Path: path, DropPages: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 4000) }
	const n = 8192
	for start := 0; start < n; start += 1024 {
		if err := db.Update(func(tx *store.Tx) error {
			for i := start; i < start+1024; i++ {
				if err := tx.Bucket([]byte("files")).Put(fmt.Appendf(nil, "k%05d", i), value(i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func(tx *store.Tx) {
		for i := range n {
			if got := tx.Bucket([]byte("files")).Get(fmt.Appendf(nil, "k%05d", i)); !bytes.Equal(got, value(i)) {
				t.Fatalf("k%05d reads %d bytes, not as written", i, len(got))
			}
		}
	}
	db.View(func(tx *store.Tx) error { readAll(tx); return nil })
	if rss := mappedKB(t, path); rss < 16<<10 {
		t.Fatalf("%d KiB of the file resident after reading 32 MiB of it: the test reads nothing", rss)
	}
	if err := db.Update(func(*store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if rss := mappedKB(t, path); rss > 1<<10 {
		t.Fatalf("%d KiB of the file resident after a commit with DropPages", rss)
	}
	db.View(func(tx *store.Tx) error {
		readAll(tx)
		if rss := mappedKB(t, path); rss < 16<<10 {
			t.Fatalf("%d KiB resident after reading the file again", rss)
		}
		tx.DropPages()
		if rss := mappedKB(t, path); rss > 1<<10 {
			t.Fatalf("%d KiB of the file resident after Tx.DropPages", rss)
		}
		readAll(tx) // the keys and values of the transaction read on
		return nil
	})
}

// mappedKB returns this process's resident KiB of the file at path.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kb, in := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && f[5] == path
			continue
		}
		var v int
		if _, err := fmt.Sscanf(l, "Rss: %d kB", &v); err == nil && in {
			kb += v
		}
	}
	return kb
}
