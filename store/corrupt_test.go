package store_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/store"
)

// buildFile writes a real bbolt file with a few buckets of many pages and
// returns its path and page size.
func buildFile(t *testing.T) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	db := &store.DB{Path: path, SyncFreelist: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 100)
	for _, name := range []string{"a", "b", "c"} {
		err := db.Update(func(tx *store.Tx) error {
			b := tx.Bucket([]byte(name))
			for i := range 20000 {
				if err := b.Put(fmt.Appendf(nil, "key-%08d", i), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, os.Getpagesize()
}

// openReadOnly opens path shared, closed at the test's end.
func openReadOnly(t *testing.T, path string) *store.DB {
	t.Helper()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// readAll reads every key of every bucket.
func readAll(db *store.DB) error {
	return db.View(func(tx *store.Tx) error {
		n := 0
		for _, name := range []string{"a", "b", "c"} {
			c := tx.Bucket([]byte(name)).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				n += len(v)
			}
		}
		return nil
	})
}

// TestOpenFindsTruncatedFile: a file cut to half its size is ErrCorrupt at
// Open, before anything reads it through the memory map (where the first
// read past the end was a SIGBUS that killed the process).
func TestOpenFindsTruncatedFile(t *testing.T) {
	t.Parallel()
	for _, readOnly := range []bool{false, true} {
		path, _ := buildFile(t)
		fi, _ := os.Stat(path)
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		db := &store.DB{Path: path, ReadOnly: readOnly, SyncFreelist: true}
		err := db.Open()
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Open(readOnly=%v) of a truncated file = %v, want ErrCorrupt", readOnly, err)
		}
	}
}

// TestFaultWhileOpenIsAnError: a file truncated while open (after Open's
// check) makes reads fault on the memory map; View returns ErrCorrupt and
// the process lives on.
func TestFaultWhileOpenIsAnError(t *testing.T) {
	t.Parallel()
	path, _ := buildFile(t)
	db := openReadOnly(t, path)
	if err := readAll(db); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()/4); err != nil {
		t.Fatal(err)
	}
	if err := readAll(db); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("reading a file truncated while open = %v, want ErrCorrupt", err)
	}
}

// TestOverwrittenPages: pages overwritten with garbage are found by Open's
// quick check when they are a bucket's root, and otherwise turn the read
// that meets them into ErrCorrupt instead of a panic; Check finds them.
func TestOverwrittenPages(t *testing.T) {
	t.Parallel()
	path, pageSize := buildFile(t)
	// Eight pages from the middle of the file, overwritten with garbage
	// that keeps each page's id and says it is a leaf.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	pages := int(fi.Size()) / pageSize
	garbage := make([]byte, pageSize)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	for id := pages / 2; id < pages/2+8; id++ {
		binary.NativeEndian.PutUint64(garbage, uint64(id)) // the page still says who it is
		binary.NativeEndian.PutUint16(garbage[8:], 0x02)   // a leaf
		binary.NativeEndian.PutUint16(garbage[10:], 60000) // of many elements, pointing anywhere
		binary.NativeEndian.PutUint32(garbage[12:], 0)     // no overflow: bbolt's Check would visit billions
		if _, err := f.WriteAt(garbage, int64(id*pageSize)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		if !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Open = %v, want nil or ErrCorrupt", err)
		}
		return // found at once
	}
	defer db.Close()
	if err := readAll(db); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("reading overwritten pages = %v, want ErrCorrupt", err)
	}
	if err := db.Check(); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Check = %v, want ErrCorrupt", err)
	}
}

// TestOverwrittenRootPage: a bucket whose root page was overwritten is
// found by Open.
func TestOverwrittenRootPage(t *testing.T) {
	t.Parallel()
	path, pageSize := buildFile(t)
	var root uint64
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	root = db.BucketRoot([]byte("b"))
	db.Close()
	if root == 0 {
		t.Fatal("bucket b is inline")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, pageSize), int64(root)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db = &store.DB{Path: path}
	err = db.Open()
	if err == nil {
		db.Close()
	}
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Open with bucket b's root page zeroed = %v, want ErrCorrupt", err)
	}
}

// TestPanicOfTheCallerIsNotCorruption: a panic raised by the function a
// transaction runs is a bug in the caller, passed on, not ErrCorrupt.
func TestPanicOfTheCallerIsNotCorruption(t *testing.T) {
	t.Parallel()
	path, _ := buildFile(t)
	db := openReadOnly(t, path)
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v, want the caller's panic", p)
		}
	}()
	db.View(func(*store.Tx) error { panic("boom") })
}
