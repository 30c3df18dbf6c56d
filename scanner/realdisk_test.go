package scanner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/store"
)

func TestHardLinksReadOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "same inode"})
	for _, n := range []string{"b", "c"} {
		if err := os.Link(filepath.Join(root, "a"), filepath.Join(root, n)); err != nil {
			t.Fatal(err)
		}
	}
	res, evs := h.mustScan(root)
	if got, want := summary(root, evs), []string{"FileScanned a", "FileScanned b", "FileScanned c"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
	if res.Counts.Read != 1 {
		t.Fatalf("read %d files for one inode, want 1", res.Counts.Read)
	}
	var sums []string
	for _, e := range evs {
		f := e.Data.(*events.FileScanned)
		sums = append(sums, f.Hashes.SHA256)
		if f.Nlink != 3 {
			t.Fatalf("nlink %d, want 3", f.Nlink)
		}
	}
	if sums[0] == "" || sums[0] != sums[1] || sums[1] != sums[2] {
		t.Fatalf("links have different hashes: %q", sums)
	}
	// A new link changes the inode's link count and ctime, so the known
	// links are metadata changes, and the inode is still read only once.
	os.Link(filepath.Join(root, "a"), filepath.Join(root, "d"))
	res, evs = h.mustScan(root)
	if res.Counts.Read > 1 {
		t.Fatalf("new link of a recorded inode read %d files, want at most 1", res.Counts.Read)
	}
	want := []string{"FileChanged a metadata", "FileChanged b metadata", "FileChanged c metadata", "FileScanned d"}
	if got := summary(root, evs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("new link: %q, want %q", got, want)
	}
}

func TestSymlinksRecordedNeverFollowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"d/real.txt": "r"})
	os.Symlink("loop2", filepath.Join(root, "loop1"))
	os.Symlink("loop1", filepath.Join(root, "loop2"))
	os.Symlink("..", filepath.Join(root, "d", "up")) // a directory loop through a link
	os.Symlink("/etc", filepath.Join(root, "outside"))
	os.Symlink("real.txt", filepath.Join(root, "d", "rel"))
	res, evs := h.mustScan(root)
	want := []string{"FileScanned d/real.txt", "FileScanned d/rel", "FileScanned d/up", "FileScanned loop1", "FileScanned loop2", "FileScanned outside"}
	if got := summary(root, evs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q\nwant %q", got, want)
	}
	if res.Counts.Read != 1 {
		t.Fatalf("read %d files, want only real.txt", res.Counts.Read)
	}
	for _, e := range evs {
		f := e.Data.(*events.FileScanned)
		if strings.HasSuffix(string(f.Path), "outside") && (f.Target != "/etc" || !f.Hashes.IsZero()) {
			t.Fatalf("symlink recorded as %+v", f)
		}
	}
	// Retargeting a link is a change.
	os.Remove(filepath.Join(root, "d", "rel"))
	os.Symlink("elsewhere", filepath.Join(root, "d", "rel"))
	if _, evs := h.mustScan(root); strings.Join(summary(root, evs), ",") != "FileChanged d/rel content" {
		t.Fatalf("retarget: %q", summary(root, evs))
	}
}

func TestSpecialFilesNeverOpened(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"f.txt": "x"})
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A socket, bound and left listening.
	fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(root, "sock")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, evs, err := h.scan(ctx, root)
	if err != nil {
		t.Fatalf("scan with a FIFO: %v (a hang ends here)", err)
	}
	if got := summary(root, evs); strings.Join(got, ",") != "FileScanned f.txt" {
		t.Fatalf("events %q", got)
	}
	if res.Skipped != 2 {
		t.Fatalf("skipped %d, want 2", res.Skipped)
	}
}

func TestHostileNamesRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	names := []string{"caf\xe9", "new\nline", "tab\there", `quote"back\slash`, "\xff\xfe", " lead space", "emoji-\U0001F600", "-dash", "ctrl\x01"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(root, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "dir\xe9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "dir\xe9\n", "in\xff"), []byte("x"), 0o644)
	_, evs := h.mustScan(root)
	got := map[string]bool{}
	for _, e := range evs {
		got[string(e.Data.(*events.FileScanned).Path)] = true
	}
	for _, n := range append(names, "dir\xe9\n/in\xff") {
		if !got[root+"/"+n] {
			t.Errorf("name %q not recorded exactly; have %v", n, got)
		}
	}
	// The state remembers them byte for byte: nothing changes on rescan.
	if _, evs := h.mustScan(root); len(evs) != 0 {
		t.Fatalf("rescan: %q", summary(root, evs))
	}
	os.Remove(filepath.Join(root, "caf\xe9"))
	if _, evs := h.mustScan(root); len(evs) != 1 || string(evs[0].Data.(*events.FileDeleted).Path) != root+"/caf\xe9" {
		t.Fatalf("delete of a non-UTF-8 name: %q", summary(root, evs))
	}
}

func TestExcludesAndIgnoreFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		scanner.IgnoreFile: "# comment\n*.tmp\n/build/\ncache/\n!important.tmp\n",
		"a.txt":            "a", "b.tmp": "b", "important.tmp": "i",
		"build/out.bin": "o", "src/build/keep.go": "k", "src/cache/x": "x", "node_modules/m.js": "m",
	})
	h.opts = func(s *scanner.Scanner) { s.Exclude = []string{"node_modules"} }
	_, evs := h.mustScan(root)
	want := []string{"FileScanned " + scanner.IgnoreFile, "FileScanned a.txt", "FileScanned important.tmp", "FileScanned src/build/keep.go"}
	if got := summary(root, evs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q\nwant %q", got, want)
	}
	// Excluding recorded paths later takes them out of the view: a
	// FileDeleted with the reason "excluded", though they are on disk.
	h.opts = func(s *scanner.Scanner) { s.Exclude = []string{"node_modules", "a.txt", "src"} }
	res, evs := h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileDeleted a.txt,FileDeleted src/build/keep.go" {
		t.Fatalf("excluding recorded paths produced %q", got)
	}
	for _, e := range evs {
		if d := e.Data.(*events.FileDeleted); d.Reason != events.DeletedExcluded || d.SHA256 == "" {
			t.Fatalf("%s left with reason %q, sha256 %q", d.Path, d.Reason, d.SHA256)
		}
	}
	if res.Left != 2 || res.Excluded != 5 || res.MassDelete != nil {
		t.Fatalf("left %d, excluded %d, held %+v", res.Left, res.Excluded, res.MassDelete)
	}
	if _, evs := h.mustScan(root); len(evs) != 0 {
		t.Fatalf("a rescan with the same excludes: %q", summary(root, evs))
	}
}

// TestExcludedLeaveBesideTheGuard: a scan that newly excludes most of a
// root's files takes them out of the view without the mass-delete guard
// holding them (they are there; the user left them out), and the files
// excluded neither hide nor count toward files really gone: those stay
// held when they are too many.
func TestExcludedLeaveBesideTheGuard(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	files := map[string]string{}
	for i := range 150 {
		if i < 100 {
			files[fmt.Sprintf("keep/f%03d", i)] = fmt.Sprint("k", i)
		}
		files[fmt.Sprintf("gone/f%03d", i)] = fmt.Sprint("g", i)
		files[fmt.Sprintf("cache/f%03d", i)] = fmt.Sprint("c", i)
		files[fmt.Sprintf("keep/x%03d.tmp", i)] = fmt.Sprint("t", i)
	}
	writeTree(t, root, files)
	h.mustScan(root)
	// 300 of 550 excluded, 150 gone: the guard holds the gone (more than
	// 100, and more than half of the 250 not excluded; counted among
	// 400, the excluded in keep/ would let them through), and the
	// excluded leave all the same.
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	h.opts = func(s *scanner.Scanner) { s.Exclude = []string{"/cache/", "*.tmp"} }
	res, evs := h.mustScan(root)
	reasons := map[string]int{}
	for _, e := range evs {
		if d, ok := e.Data.(*events.FileDeleted); ok {
			reasons[d.Reason]++
		} else {
			t.Fatalf("unexpected %s", e.Type)
		}
	}
	if reasons[events.DeletedExcluded] != 300 || len(reasons) != 1 || res.Left != 300 {
		t.Fatalf("deletions by reason %v, left %d", reasons, res.Left)
	}
	if res.MassDelete == nil || res.MassDelete.Gone != 150 || res.MassDelete.Recorded != 250 {
		t.Fatalf("guard %+v: want the 150 gone held, of 250 recorded and not excluded", res.MassDelete)
	}
	// Allowed, the gone are deleted, with no reason.
	h.opts = func(s *scanner.Scanner) { s.Exclude = []string{"/cache/", "*.tmp"}; s.AllowMassDelete = true }
	res, evs = h.mustScan(root)
	for _, e := range evs {
		if d, ok := e.Data.(*events.FileDeleted); !ok || d.Reason != "" {
			t.Fatalf("unexpected %#v", e.Data)
		}
	}
	if len(evs) != 150 || res.Left != 0 {
		t.Fatalf("%d events, left %d", len(evs), res.Left)
	}
}

// TestNestedIgnoreFiles: a directory's own .indexerignore applies below
// it, relative to it, and wins over the root's; a line that does not parse
// is left out, and an ignore file that is a FIFO is not opened for good.
func TestNestedIgnoreFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		scanner.IgnoreFile:        "*.log\n",
		"a/" + scanner.IgnoreFile: "build/\n[unclosed\n!keep.log\n/top.txt\n",
		"a/build/x.o":             "x", "a/keep.log": "k", "a/top.txt": "t", "a/sub/top.txt": "s", "a/sub/other.log": "o",
		"b/build/y.o": "y", "b/keep.log": "k",
		"c/file.txt": "f",
	})
	if err := unix.Mkfifo(filepath.Join(root, "c", scanner.IgnoreFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, evs := h.mustScan(root)
	got := summary(root, evs)
	want := []string{
		"FileScanned " + scanner.IgnoreFile, "FileScanned a/" + scanner.IgnoreFile,
		"FileScanned a/keep.log", "FileScanned a/sub/top.txt", "FileScanned b/build/y.o", "FileScanned c/file.txt",
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q\nwant %q", got, want)
	}
}

func TestInterruptedScanDeletesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	files := map[string]string{}
	for i := range 300 {
		files[filepath.Join("d"+string(rune('a'+i%10)), "f"+string(rune('a'+i/10)))] = strings.Repeat("x", 1000+i)
	}
	writeTree(t, root, files)
	h.mustScan(root)
	os.RemoveAll(filepath.Join(root, "da"))
	writeTree(t, root, map[string]string{"big": strings.Repeat("y", 64<<20)})
	ctx, cancel := context.WithCancel(context.Background())
	h.opts = func(s *scanner.Scanner) {
		s.Progress = &scanner.Progress{}
		go func() { // cancel once reading has begun
			for s.Progress.BytesRead.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
	}
	start := time.Now()
	res, evs, err := h.scan(ctx, root)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted scan returned %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("interrupt took %s", d)
	}
	last := evs[len(evs)-1].Data.(*events.ScanCompleted)
	if last.Complete || res.Complete {
		t.Fatal("interrupted scan recorded as complete")
	}
	for _, e := range evs {
		if e.Type == events.TypeFileDeleted {
			t.Fatalf("interrupted scan deleted %s", e.Data.(*events.FileDeleted).Path)
		}
	}
}

// A file written during every read (a growing log) is never hashed, and
// is recorded with its metadata and marked, not as unreadable: it is
// there, and a scan that met one is not partial.
func TestFileChangingWhileReadIsNeverHashed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	path := filepath.Join(root, "growing.log")
	writeTree(t, root, map[string]string{"growing.log": strings.Repeat("z", 32<<20)})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a writer appending all through the scan
		defer wg.Done()
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			default:
				f.Write([]byte("more\n"))
			}
		}
	}()
	res, evs := h.mustScan(root)
	close(stop)
	wg.Wait()
	if len(evs) != 1 {
		t.Fatalf("events %q", summary(root, evs))
	}
	f, ok := evs[0].Data.(*events.FileScanned)
	if !ok || f.Path != events.Path(path) || !f.Hashes.IsZero() || f.Unhashed != events.UnhashedChanging || f.Size < 32<<20 {
		t.Fatalf("a file written during every read was recorded as %#v", evs[0].Data)
	}
	if res.Counts.Unreadable != 0 || len(res.Changing) != 1 || res.Changing[0] != path || res.Counts.BytesRead < 3*32<<20 {
		t.Fatalf("counts %+v, changing %q", res.Counts, res.Changing)
	}
	// Once it holds still, the next scan hashes it.
	_, evs = h.mustScan(root)
	if len(evs) != 1 {
		t.Fatalf("events %q", summary(root, evs))
	}
	if c, ok := evs[0].Data.(*events.FileChanged); !ok || c.Hashes.SHA256 == "" || c.Unhashed != "" {
		t.Fatalf("the file, still now, was recorded as %#v", evs[0].Data)
	}
}

func TestVerifyFindsBitRot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"photo.jpg": "original bytes", "ok.txt": "fine"})
	_, evs := h.mustScan(root)
	// The disk returns other bytes while every bit of metadata is the same:
	// record the file as the scan state last knew it, with the hash of
	// what it used to hold, as a past scan would have.
	var rec events.File
	for _, e := range evs {
		if f := e.Data.(*events.FileScanned); strings.HasSuffix(string(f.Path), "photo.jpg") {
			rec = f.File
		}
	}
	rec.Hashes.SHA256 = strings.Repeat("0", 64)
	if err := h.log.Append(context.Background(), events.New("m1", events.NewID(), time.Now(), &events.FileChanged{File: rec, Reason: events.ReasonContent})); err != nil {
		t.Fatal(err)
	}
	if _, evs := h.mustScan(root); len(evs) != 0 {
		t.Fatalf("without --verify an unchanged file must not be read: %q", summary(root, evs))
	}
	h.opts = func(s *scanner.Scanner) { s.Verify = true }
	res, evs := h.mustScan(root)
	if got := summary(root, evs); strings.Join(got, ",") != "FileChanged photo.jpg content-without-metadata" {
		t.Fatalf("verify: %q", got)
	}
	if res.Counts.Read != 2 {
		t.Fatalf("verify read %d files, want all 2", res.Counts.Read)
	}
}

// TestRescanOpensNothing watches the tree with inotify, truth from the
// kernel: a rescan of an unchanged tree opens no file.
func TestRescanOpensNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	files := map[string]string{}
	for i := range 200 {
		files[filepath.Join("d"+string(rune('a'+i%8)), "f"+string(rune('a'+i/8))+".txt")] = strings.Repeat("q", i)
	}
	writeTree(t, root, files)
	h.mustScan(root)

	var res scanner.Result
	var evs []events.Event
	opened := opens(t, root, func() { res, evs = h.mustScan(root) })
	if len(evs) != 0 || res.Counts.Read != 0 {
		t.Fatalf("rescan: %q, read %d", summary(root, evs), res.Counts.Read)
	}
	if opened != 0 {
		t.Fatalf("the kernel saw %d file opens or reads during an unchanged rescan", opened)
	}
}

// TestSparseFilesHashLikeTheirBytes: holes are hashed as zeros without
// being read; the digests must match coreutils reading every byte.
func TestSparseFilesHashLikeTheirBytes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	layouts := map[string][][2]int64{ // offset, length of data runs; the rest are holes
		"holes-around.img": {{1 << 20, 300 << 10}, {3<<20 + 5, 10}},
		"ends-in-data.img": {{0, 4096}, {5 << 20, 1 << 20}},
		"all-hole.img":     nil,
	}
	for name, runs := range layouts {
		f, err := os.Create(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(8 << 20)
		for i, r := range runs {
			f.WriteAt([]byte(strings.Repeat(string(rune('a'+i)), int(r[1]))), r[0])
		}
		f.Close()
	}
	res, evs := h.mustScan(root)
	// Bytes read are the data runs, in whole blocks; the holes are not read.
	if data := int64(300<<10 + 10 + 4096 + 1<<20); res.Counts.BytesRead < data || res.Counts.BytesRead > data+64<<10 {
		t.Errorf("bytes read %d, want the %d bytes of data, in blocks", res.Counts.BytesRead, data)
	}
	for _, e := range evs {
		f := e.Data.(*events.FileScanned)
		out, err := exec.Command("sha256sum", string(f.Path)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Fields(string(out))[0]; f.Hashes.SHA256 != want {
			t.Errorf("%s: sha256 %s, sha256sum says %s", f.Path, f.Hashes.SHA256, want)
		}
		if f.Size != 8<<20 && !strings.HasSuffix(string(f.Path), "ends-in-data.img") {
			t.Errorf("%s: size %d", f.Path, f.Size)
		}
	}
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
}

// cancelAtFirstFlush is the real appender, with Ctrl-C pressed while the
// scan's ScanStarted waits for its acknowledgement.
type cancelAtFirstFlush struct {
	*store.Appender
	cancel context.CancelFunc
	done   bool
}

func (c *cancelAtFirstFlush) Flush(ctx context.Context) error {
	if !c.done {
		c.done = true
		c.cancel()
	}
	return c.Appender.Flush(ctx)
}

func TestInterruptedWhileStartingIsClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "a"})
	ctx, cancel := context.WithCancel(context.Background())
	h.opts = func(s *scanner.Scanner) {
		s.Sink = &cancelAtFirstFlush{Appender: h.log.NewAppender(), cancel: cancel}
	}
	_, evs, err := h.scan(ctx, root)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("scan returned %v", err)
	}
	if got := types(evs); strings.Join(got, ",") != "ScanStarted,ScanCompleted" {
		t.Fatalf("events %v, want the scan opened and closed", got)
	}
	if evs[1].Data.(*events.ScanCompleted).Complete {
		t.Fatal("an interrupted scan was recorded complete")
	}
}

// TestRootIgnoreFileFIFO: a FIFO named .indexerignore in the root is not
// opened for good (the open would wait for a writer): the scan stops with
// an error that names it.
func TestRootIgnoreFileFIFO(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(root, scanner.IgnoreFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err := h.scan(ctx, root)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || ctx.Err() != nil {
		t.Fatalf("scan of a root whose ignore file is a FIFO: %v (context: %v)", err, ctx.Err())
	}
}

// Paths longer than PATH_MAX are listed, read and hashed like any other.
func TestPathsLongerThanPathMax(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	// 25 directories of 200 bytes: over 5,000 bytes, past PATH_MAX (4096).
	dir := root
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		name := strings.Repeat(string(rune('a'+i)), 200)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, dir = next, dir+"/"+name
	}
	content := "deep content"
	f, err := unix.Openat(fd, "file.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(f, []byte(content))
	unix.Close(f)
	if len(dir) <= unix.PathMax {
		t.Fatalf("premise: %d bytes is not longer than PATH_MAX", len(dir))
	}

	res, evs := h.mustScan(root)
	if res.Counts.Unreadable != 0 || len(evs) != 1 {
		t.Fatalf("unreadable %d, events %q; want one FileScanned", res.Counts.Unreadable, summary(root, evs))
	}
	d, ok := evs[0].Data.(*events.FileScanned)
	sum := sha256.Sum256([]byte(content))
	if !ok || string(d.Path) != dir+"/file.txt" || d.Hashes.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %+v", evs[0].Data)
	}
	// Rescanned: nothing changed, nothing read, nothing deleted.
	if res, evs := h.mustScan(root); len(evs) != 0 || res.Counts.Read != 0 {
		t.Fatalf("rescan: read %d, events %q", res.Counts.Read, summary(root, evs))
	}
}

// TestPseudoFileSystemsPruned: a scan of / does not enter /proc (nor
// sysfs, devtmpfs, ...) unless PseudoFS; the summary names what it
// pruned. Everything else at the top is excluded, and /proc's own
// entries, so the test walks two directories at most.
func TestPseudoFileSystemsPruned(t *testing.T) {
	t.Parallel()
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc", &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC {
		t.Skip("no proc file system at /proc")
	}
	for _, pseudo := range []bool{false, true} {
		h := newHarness(t)
		prog := &scanner.Progress{}
		h.opts = func(s *scanner.Scanner) {
			s.Exclude = []string{"/*", "!/proc", "/proc/*"}
			s.PseudoFS, s.Progress = pseudo, prog
		}
		res, evs := h.mustScan("/")
		if len(evs) != 0 {
			t.Fatalf("pseudo %v: %q", pseudo, summary("/", evs))
		}
		want := []scanner.Pruned{{Path: "/proc", Type: "proc"}}
		dirs := int64(1)
		if pseudo {
			want, dirs = nil, 2
		}
		if !reflect.DeepEqual(res.Pruned, want) || prog.Dirs.Load() != dirs {
			t.Fatalf("pseudo %v: pruned %+v, %d directories listed; want %+v, %d", pseudo, res.Pruned, prog.Dirs.Load(), want, dirs)
		}
	}
	// A file recorded there by a scan with PseudoFS leaves the view once
	// pruned. (/proc/cpuinfo says its size is 0 and reads as more: it is
	// recorded without hashes, as changing.)
	h := newHarness(t)
	h.opts = func(s *scanner.Scanner) {
		s.Exclude = []string{"/*", "!/proc", "/proc/*", "!/proc/cpuinfo"}
		s.PseudoFS = true
	}
	if _, evs := h.mustScan("/"); len(evs) != 1 || evs[0].Data.(*events.FileScanned).Unhashed != events.UnhashedChanging {
		t.Fatalf("with PseudoFS: %q", summary("/", evs))
	}
	h.opts = func(s *scanner.Scanner) { s.Exclude = []string{"/*", "!/proc", "/proc/*", "!/proc/cpuinfo"} }
	res, evs := h.mustScan("/")
	if len(evs) != 1 || res.Left != 1 {
		t.Fatalf("pruned: %q, left %d", summary("/", evs), res.Left)
	}
	if d, ok := evs[0].Data.(*events.FileDeleted); !ok || d.Path != "/proc/cpuinfo" || d.Reason != events.DeletedPruned {
		t.Fatalf("pruned: %#v", evs[0].Data)
	}
}
