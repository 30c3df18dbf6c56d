package scanner_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
)

// sha256sum is coreutils' digest of the file at p.
func sha256sum(t *testing.T, p string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

// recordAs appends, as an earlier scan of machine m1 would have, a
// FileScanned of the path gone (not on disk) with the inode, device, size
// and mtime of the file at p, the birth time btime and the default digests
// of content: what the scan state holds after a file was deleted and the file
// system gave its inode to the file at p. (ext4 hands a freed inode to the
// next file created, but under parallel tests another file may take it, so
// the tests do not wait for the file system to do it.)
func recordAs(t *testing.T, h *harness, gone, p string, btime int64, content string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	sys := fi.Sys().(*syscall.Stat_t)
	sum := sha256.Sum256([]byte(content))
	md, sh := md5.Sum([]byte(content)), sha1.Sum([]byte(content))
	f := events.File{Path: events.Path(gone), Size: fi.Size(), Mode: uint32(fi.Mode().Perm()),
		MTime: fi.ModTime().UnixNano(), CTime: sys.Ctim.Nano(), BTime: btime,
		Inode: sys.Ino, Device: sys.Dev, Nlink: 1, Hashes: events.Hashes{
			MD5: hex.EncodeToString(md[:]), SHA1: hex.EncodeToString(sh[:]), SHA256: hex.EncodeToString(sum[:])}}
	if err := h.log.Append(context.Background(), events.New("m1", events.NewID(), time.Now(), &events.FileScanned{File: f})); err != nil {
		t.Fatal(err)
	}
}

// btimeOf is the birth time the scanner records for the file at p.
func btimeOf(t *testing.T, h *harness, root, p string) int64 {
	t.Helper()
	_, evs := h.mustScan(root)
	for _, e := range evs {
		if d, ok := e.Data.(*events.FileScanned); ok && string(d.Path) == p {
			if d.BTime == 0 {
				t.Fatalf("premise: %s was recorded without a birth time", p)
			}
			return d.BTime
		}
	}
	t.Fatalf("%s not scanned", p)
	return 0
}

// A new file in a deleted file's inode, with its size and mtime (as
// restoring a file with its times gives), is not a move of it: it is read,
// and recorded with its own content.
func TestReusedInodeIsNotAMove(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	x, y := filepath.Join(root, "x"), filepath.Join(root, "y")
	writeTree(t, root, map[string]string{"y": "BBBB"})
	btime := btimeOf(t, h, root, y)
	// y is new to the index again, and x was "AAAA" in y's inode, born
	// earlier.
	if err := h.log.Append(context.Background(), events.New("m1", events.NewID(), time.Now(), &events.FileDeleted{Path: events.Path(y)})); err != nil {
		t.Fatal(err)
	}
	recordAs(t, h, x, y, btime-1e9, "AAAA")
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
	writeTree(t, root, map[string]string{"dir/a": "same content", "dir/c": "new content"})
	dir := filepath.Join(root, "dir")
	a, c := filepath.Join(dir, "a"), filepath.Join(dir, "c")
	// a, recorded without its birth time, then renamed; c is new, in the
	// inode that b, recorded without a birth time, had with other content.
	recordAs(t, h, a, a, 0, "same content")
	if err := os.Rename(a, filepath.Join(root, "a2")); err != nil {
		t.Fatal(err)
	}
	recordAs(t, h, filepath.Join(dir, "b"), c, 0, "old content")
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
			if d.Hashes.SHA256 != sha256sum(t, c) {
				t.Fatalf("c recorded with sha256 %s, sha256sum says %s", d.Hashes.SHA256, sha256sum(t, c))
			}
		case *events.FileMoved:
			if d.Hashes.SHA256 != sha256sum(t, filepath.Join(root, "a2")) || d.BTime == 0 {
				t.Fatalf("a2 moved with sha256 %s btime %d, sha256sum says %s", d.Hashes.SHA256, d.BTime, sha256sum(t, filepath.Join(root, "a2")))
			}
		}
	}
}

// linkedTree makes base/real/sub/a and base/link, a symbolic link to real.
func linkedTree(t *testing.T) (base, real, link string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real, link = filepath.Join(base, "real"), filepath.Join(base, "link")
	writeTree(t, real, map[string]string{"sub/a": "a"})
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	return base, real, link
}

// A root given through a symbolic link is scanned at its real path, so two
// roots that reach the same files record them once.
func TestSymlinkedRootScansTheRealPath(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, real, link := linkedTree(t)
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

// Files an earlier scan recorded under a root given through a symbolic
// link (before roots were resolved) are recorded again under their real
// paths, without being read, and their old paths are deleted.
func TestAliasRootPathsAreReplaced(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base, real, link := linkedTree(t)
	recordAs(t, h, filepath.Join(link, "sub/a"), filepath.Join(real, "sub/a"), 0, "a")
	// A file deleted since: its record has another file's inode.
	writeTree(t, base, map[string]string{"elsewhere": "gone since"})
	recordAs(t, h, filepath.Join(link, "sub/gone"), filepath.Join(base, "elsewhere"), 0, "gone since")
	res, evs := h.mustScan(link)
	want := []string{"FileDeleted " + link + "/sub/a", "FileDeleted " + link + "/sub/gone", "FileScanned sub/a"}
	if got := summary(real, evs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
	if res.Counts.Read != 0 {
		t.Fatalf("read %d files, want 0: their content is recorded", res.Counts.Read)
	}
	if _, evs := h.mustScan(link); len(evs) != 0 {
		t.Fatalf("rescan: %q, want no events", summary(real, evs))
	}
}
