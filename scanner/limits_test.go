package scanner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner"
)

// hugeSparse creates a file of size bytes that is all hole.
func hugeSparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skipf("this file system cannot hold a sparse file of %d bytes: %v", size, err)
	}
}

// TestInterruptWhileHashingHoles: a huge sparse file is hashed hole by hole
// (no shortcut exists: each block of zeros costs a compression), so the
// scan must stay interruptible in the holes, and its progress must count
// them.
func TestInterruptWhileHashingHoles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	hugeSparse(t, filepath.Join(root, "huge.img"), 1<<40-1)
	prog := &scanner.Progress{}
	h.opts = func(s *scanner.Scanner) { s.Progress = prog }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		evs []events.Event
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, evs, err := h.scan(ctx, root)
		done <- result{evs, err}
	}()
	// Wait until progress shows hole bytes hashed (a generous bound, so a
	// scan whose progress never moves fails instead of hanging).
	deadline := time.Now().Add(30 * time.Second)
	for prog.BytesRead.Load() < 1<<20 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("progress shows %d bytes after 30s of hashing holes", prog.BytesRead.Load())
		}
		time.Sleep(10 * time.Millisecond) // polling a counter: the condition itself
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("interrupted scan returned %v", r.err)
		}
		if got := types(r.evs); strings.Join(got, ",") != "ScanStarted,ScanCompleted" {
			t.Fatalf("events %v", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the scan did not stop within 30s of the interrupt: hashing holes ignores it")
	}
}

// TestHashAddedLaterIsFilledIn: a scan that asks for an algorithm a record
// lacks reads the file again and records every digest, the old ones kept
// when the content is the same.
func TestHashAddedLaterIsFilledIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "alpha", "sub/b": "beta"})
	withHashes := func(algos ...string) { h.opts = func(s *scanner.Scanner) { s.Hashes = algos } }
	withHashes("md5", "sha1", "sha256")
	h.mustScan(root)
	withHashes("md5", "sha1", "sha256", "blake3")
	_, evs := h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileChanged a hashes,FileChanged sub/b hashes" {
		t.Fatalf("scan adding blake3: %q", got)
	}
	for _, e := range evs {
		f := e.Data.(*events.FileChanged)
		if x := f.Hashes; x.MD5 == "" || x.SHA1 == "" || x.SHA256 == "" || x.BLAKE3 == "" || f.PrevSHA256 != x.SHA256 {
			t.Fatalf("%s: hashes %+v, prev %s: want all four, the content unchanged", f.Path, x, f.PrevSHA256)
		}
	}
	if _, evs := h.mustScan(root); len(evs) != 0 {
		t.Fatalf("a rescan after the digests were filled in: %q", summary(root, evs))
	}
	// A scan asking for fewer keeps what the records have; a new file
	// scanned with sha256 alone gets md5 from the next scan that asks.
	withHashes("sha256")
	writeTree(t, root, map[string]string{"c": "gamma"})
	_, evs = h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileScanned c" {
		t.Fatalf("sha256-only scan: %q", got)
	}
	withHashes("md5", "sha256")
	_, evs = h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileChanged c hashes" {
		t.Fatalf("scan asking md5 again: %q", got)
	}
	if f := evs[0].Data.(*events.FileChanged); f.Hashes.MD5 != "05b048d7242cb7b8b57cfa3b1d65ecea" {
		t.Fatalf("md5 of c %q", f.Hashes.MD5)
	}
	// A metadata change keeps the digests the record had.
	withHashes("sha256")
	os.Chmod(filepath.Join(root, "a"), 0o600)
	_, evs = h.mustScan(root)
	if len(evs) != 1 {
		t.Fatalf("chmod: %q", summary(root, evs))
	}
	if f := evs[0].Data.(*events.FileChanged); f.Reason != events.ReasonMetadata || f.Hashes.MD5 == "" || f.Hashes.BLAKE3 == "" {
		t.Fatalf("metadata change recorded %s with %+v: want the record's digests kept", f.Reason, f.Hashes)
	}
}

// TestMassDeleteGuard: a root that lost most of its files (an unmounted
// disk's empty mount point) deletes nothing without AllowMassDelete, and
// neither does a root now on another file system than its records.
func TestMassDeleteGuard(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	tree := map[string]string{}
	for i := range 300 {
		tree[fmt.Sprintf("d%d/f%03d", i%3, i)] = fmt.Sprint(i)
	}
	writeTree(t, root, tree)
	h.mustScan(root)
	// 120 of 300 gone: under half, deleted.
	for i := range 120 {
		os.Remove(filepath.Join(root, fmt.Sprintf("d%d/f%03d", i%3, i)))
	}
	res, evs := h.mustScan(root)
	if len(evs) != 120 || res.MassDelete != nil {
		t.Fatalf("120 of 300 gone: %d events, guard %+v; want 120 deletions", len(evs), res.MassDelete)
	}
	// The mount point is empty now: 180 of 180 gone, held.
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(root, e.Name()))
	}
	res, evs = h.mustScan(root)
	if len(evs) != 0 || res.MassDelete == nil || res.MassDelete.Gone != 180 || res.MassDelete.Recorded != 180 {
		t.Fatalf("empty root: %q, guard %+v; want nothing deleted, 180 of 180 held", summary(root, evs), res.MassDelete)
	}
	h.opts = func(s *scanner.Scanner) { s.AllowMassDelete = true }
	if res, evs = h.mustScan(root); len(evs) != 180 || res.MassDelete != nil {
		t.Fatalf("with AllowMassDelete: %d events, guard %+v", len(evs), res.MassDelete)
	}

	// Every file recorded on a device the scan found no directory on: a
	// file system that is not mounted. One file gone is enough.
	h.opts = nil
	other := t.TempDir()
	st, err := os.Stat(other)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.File{Path: events.Path(filepath.Join(other, "on-the-disk")), Size: 1,
		Device: st.Sys().(*syscall.Stat_t).Dev + 1, Inode: 7, Hashes: events.Hashes{SHA256: strings.Repeat("0", 64)}}
	if err := h.log.Append(context.Background(), events.New("m1", events.NewID(), time.Now(), &events.FileScanned{File: rec})); err != nil {
		t.Fatal(err)
	}
	res, evs = h.mustScan(other)
	if len(evs) != 0 || res.MassDelete == nil || !strings.Contains(res.MassDelete.Reason, "found no directory on it") {
		t.Fatalf("root on another device: %q, guard %+v", summary(other, evs), res.MassDelete)
	}
}

// TestUnmountedDiskDeletesNothing mounts a real file system (a tmpfs, as
// root) under the root, scans, unmounts it and scans again: its files are
// not deleted, however few.
func TestUnmountedDiskDeletesNothing(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"home/notes": "kept"})
	disk := filepath.Join(root, "disk")
	os.Mkdir(disk, 0o755)
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	mounted := true
	defer func() {
		if mounted {
			syscall.Unmount(disk, 0)
		}
	}()
	writeTree(t, disk, map[string]string{"photos/a.jpg": "a", "photos/b.jpg": "b", "c.txt": "c"})
	h.mustScan(root)
	if err := syscall.Unmount(disk, 0); err != nil {
		t.Fatal(err)
	}
	mounted = false
	res, evs := h.mustScan(root)
	if len(evs) != 0 || res.MassDelete == nil || res.MassDelete.Gone != 3 {
		t.Fatalf("scan of the unmounted disk's mount point: %q, guard %+v; want nothing deleted, 3 held", summary(root, evs), res.MassDelete)
	}
	// A file deleted on the root's own file system is deleted; the disk's
	// files are still held.
	os.Remove(filepath.Join(root, "home/notes"))
	res, evs = h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileDeleted home/notes" || res.MassDelete == nil || res.MassDelete.Gone != 3 {
		t.Fatalf("a deletion beside the unmounted disk: %q, guard %+v", got, res.MassDelete)
	}
}

// A file recorded without hashes (too large then, or changing while read)
// and read later with its metadata unchanged gets its hashes as a
// FileChanged "hashes", not as bit rot: there was no digest to differ.
func TestUnhashedRecordHashedLater(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"big": strings.Repeat("b", 4096)})
	h.opts = func(s *scanner.Scanner) { s.MaxFileSize = 1024 }
	res, evs := h.mustScan(root)
	if f, ok := evs[0].Data.(*events.FileScanned); !ok || !f.Hashes.IsZero() || f.Unhashed != events.UnhashedTooLarge || res.TooLarge != 1 {
		t.Fatalf("a file over the limit was recorded as %#v", evs[0].Data)
	}
	h.opts = func(s *scanner.Scanner) { s.MaxFileSize = 0; s.Verify = true }
	res, evs = h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileChanged big hashes" || len(res.Rot) != 0 {
		t.Fatalf("the limit raised: %q, rot %v", got, res.Rot)
	}
}
