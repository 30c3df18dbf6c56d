package scanner_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// sha256sum is coreutils' digest of the file at p.
func sha256sum(t *testing.T, p string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

// reuseInode removes from and writes content to the new path to, with
// from's old mtime, as restoring a file with its times does, and checks
// that the file system gave to the inode from had: ext4 hands a freed
// inode to the next file created in the directory.
func reuseInode(t *testing.T, from, to, content string) {
	t.Helper()
	ino := inode(t, from)
	fi, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(from); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(to, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := inode(t, to); got != ino {
		t.Fatalf("premise: the file system gave the new file inode %d, not the freed %d", got, ino)
	}
}

// A new file in a deleted file's inode, with its size and mtime, is not a
// move of it: it is read, and recorded with its own content.
func TestReusedInodeIsNotAMove(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	x, y := filepath.Join(root, "x"), filepath.Join(root, "y")
	writeTree(t, root, map[string]string{"x": "AAAA"})
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(x, old, old); err != nil {
		t.Fatal(err)
	}
	h.mustScan(root)
	reuseInode(t, x, y, "BBBB")
	res, evs := h.mustScan(root)
	if got, want := summary(root, evs), []string{"FileDeleted x", "FileScanned y"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
	if res.Counts.Read != 1 || res.Counts.Moved != 0 {
		t.Fatalf("read %d, moved %d; want the new file read, nothing moved", res.Counts.Read, res.Counts.Moved)
	}
	for _, e := range evs {
		if d, ok := e.Data.(*events.FileScanned); ok && d.Hashes.SHA256 != sha256sum(t, y) {
			t.Fatalf("y recorded with sha256 %s, sha256sum says %s", d.Hashes.SHA256, sha256sum(t, y))
		}
	}
	// A rename keeps the birth time: still a move, not read.
	if err := os.Rename(y, x); err != nil {
		t.Fatal(err)
	}
	res, evs = h.mustScan(root)
	if got, want := summary(root, evs), []string{"FileMoved y -> x"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after a rename: events %q, want %q", got, want)
	}
	if res.Counts.Read != 0 {
		t.Fatalf("a rename read %d files, want 0", res.Counts.Read)
	}
}

// Where the recorded entry has no birth time (a file system without one,
// or events of another scanner), a file in a gone path's inode is read: a
// move if its content is the recorded one, a new file if not.
func TestMoveWithoutBirthTimeIsCheckedByContent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"dir/a": "same content", "dir/b": "old content"})
	_, evs := h.mustScan(root)
	// Record both again without their birth times, as a scanner on a file
	// system that keeps none would have.
	a := h.log.NewAppender()
	for _, e := range evs {
		d := e.Data.(*events.FileScanned)
		if d.BTime == 0 {
			t.Fatalf("premise: %s was recorded without a birth time", d.Path)
		}
		f := d.File
		f.BTime = 0
		if err := a.Append(context.Background(), events.New("m1", e.Scan, time.Now(), &events.FileChanged{File: f, Reason: events.ReasonMetadata})); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "dir")
	if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(root, "a2")); err != nil {
		t.Fatal(err)
	}
	reuseInode(t, filepath.Join(dir, "b"), filepath.Join(dir, "c"), "new content")
	res, evs := h.mustScan(root)
	want := []string{"FileDeleted dir/b", "FileMoved dir/a -> a2", "FileScanned dir/c"}
	if got := summary(root, evs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
	if res.Counts.Read != 2 {
		t.Fatalf("read %d files, want both checked by content", res.Counts.Read)
	}
	for _, e := range evs {
		switch d := e.Data.(type) {
		case *events.FileScanned:
			if d.Hashes.SHA256 != sha256sum(t, filepath.Join(dir, "c")) {
				t.Fatalf("c recorded with sha256 %s, sha256sum says %s", d.Hashes.SHA256, sha256sum(t, filepath.Join(dir, "c")))
			}
		case *events.FileMoved:
			if d.Hashes.SHA256 != sha256sum(t, filepath.Join(root, "a2")) || d.BTime == 0 {
				t.Fatalf("a2 moved with sha256 %s btime %d, sha256sum says %s", d.Hashes.SHA256, d.BTime, sha256sum(t, filepath.Join(root, "a2")))
			}
		}
	}
}

// A root given through a symbolic link is scanned at its real path, so two
// roots that reach the same files record them once.
func TestSymlinkedRootScansTheRealPath(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real, link := filepath.Join(base, "real"), filepath.Join(base, "link")
	writeTree(t, real, map[string]string{"sub/a": "a"})
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	res, evs := h.mustScan(link + "/")
	if res.Root != real || res.Counts.Unreadable != 0 {
		t.Fatalf("root %s, unreadable %d; want %s, 0", res.Root, res.Counts.Unreadable, real)
	}
	if got, want := summary(real, evs), []string{"FileScanned sub/a"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
	if _, evs := h.mustScan(filepath.Join(link, "sub")); len(evs) != 0 {
		t.Fatalf("the same files through the link again: %q, want no events", summary(real, evs))
	}
}
