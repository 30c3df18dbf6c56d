package scanner_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner"
)

// sh runs a command in dir (the Debian tools: zip, unzip, tar, zstd,
// sha256sum) and returns its output; a missing tool fails the test, to be
// installed, not skipped.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func archiveHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.opts = func(s *scanner.Scanner) { s.Archives = true }
	return h
}

// memberTree is a root holding plain.txt, a zip with a copy of it and
// another member, and a tar.zst of a directory.
func memberTree(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"plain.txt":        strings.Repeat("the same bytes\n", 100),
		"src/x/same.txt":   strings.Repeat("the same bytes\n", 100),
		"src/other.txt":    "other",
		"src/deep/c.bin":   strings.Repeat("\x00\x01\x02", 5000),
		"keep/notes.txt":   "not an archive",
		"keep/fake.zip":    "PK but no archive",
		"tz/in/a.txt":      "tar member a",
		"tz/in/sub/b.txt":  "tar member b",
		"tz/in/sub/c.text": "",
	})
	sh(t, root, `cd src && zip -qr ../a.zip x other.txt deep && cd .. && rm -r src
		tar -C tz -cf - in | zstd -q -o t.tar.zst && rm -r tz`)
	return root
}

// byPath indexes file events by path (relative to root).
func byPath(root string, evs []events.Event) map[string]events.Event {
	out := map[string]events.Event{}
	for _, e := range evs {
		var p events.Path
		switch d := e.Data.(type) {
		case *events.FileScanned:
			p = d.Path
		case *events.FileChanged:
			p = d.Path
		case *events.FileMoved:
			p = d.Path
		case *events.FileDeleted:
			p = d.Path
		case *events.FileUnreadable:
			p = d.Path
		}
		out[strings.TrimPrefix(string(p), root+"/")] = e
	}
	return out
}

func TestArchiveMembersAreFiles(t *testing.T) {
	t.Parallel()
	h := archiveHarness(t)
	root := memberTree(t)
	_, evs := h.mustScan(root)
	want := []string{
		"FileScanned a.zip", "FileScanned a.zip::deep/c.bin", "FileScanned a.zip::other.txt",
		"FileScanned a.zip::x/same.txt", "FileScanned keep/fake.zip", "FileScanned keep/notes.txt",
		"FileScanned plain.txt", "FileScanned t.tar.zst", "FileScanned t.tar.zst::in/a.txt",
		"FileScanned t.tar.zst::in/sub/b.txt", "FileScanned t.tar.zst::in/sub/c.text",
	}
	if got := summary(root, evs); !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got := byPath(root, evs)
	// Member hashes against the system tools.
	for member, cmd := range map[string]string{
		"a.zip::x/same.txt":        "unzip -p a.zip x/same.txt | sha256sum",
		"a.zip::deep/c.bin":        "unzip -p a.zip deep/c.bin | sha256sum",
		"t.tar.zst::in/sub/b.txt":  "zstd -dc t.tar.zst | tar -xOf - in/sub/b.txt | sha256sum",
		"t.tar.zst::in/sub/c.text": "zstd -dc t.tar.zst | tar -xOf - in/sub/c.text | sha256sum",
		"a.zip":                    "sha256sum a.zip",
		"t.tar.zst":                "sha256sum t.tar.zst",
	} {
		f := got[member].Data.(*events.FileScanned)
		if want := strings.Fields(sh(t, root, cmd))[0]; f.Hashes.SHA256 != want {
			t.Errorf("%s: sha256 %s, %s says %s", member, f.Hashes.SHA256, cmd, want)
		}
	}
	m := got["a.zip::x/same.txt"].Data.(*events.FileScanned)
	if p := got["plain.txt"].Data.(*events.FileScanned); m.Hashes != p.Hashes || m.Size != p.Size {
		t.Errorf("the member and the plain file with the same bytes differ: %+v %+v", m.Hashes, p.Hashes)
	}
	if a := m.Archive; a == nil || string(a.Path) != root+"/a.zip" || len(a.Member) != 1 || a.Member[0] != "x/same.txt" ||
		a.Format != "zip" || a.CRC32 == "" || a.Packed == 0 || m.Inode != 0 || m.MTime == 0 {
		t.Errorf("member fields: %+v %+v", m.File, m.Archive)
	}
	outer := got["a.zip"].Data.(*events.FileScanned)
	if a := outer.Archive; a == nil || a.Format != "zip" || a.Members != 3 || a.Error != "" || outer.IsMember() {
		t.Errorf("the archive's own archive field: %+v", outer.Archive)
	}
	if f := got["keep/fake.zip"].Data.(*events.FileScanned); f.Archive != nil {
		t.Errorf("a file named .zip that is none has an archive field: %+v", f.Archive)
	}

	// Off: archives are files like any other.
	h2 := newHarness(t)
	_, evs = h2.mustScan(root)
	if got := summary(root, evs); len(got) != 5 {
		t.Errorf("with archives off: %q", got)
	}
}

// opens counts the files the kernel saw opened or read under root while
// fn ran (inotify).
func opens(t *testing.T, root string, fn func()) int {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if _, err := unix.InotifyAddWatch(fd, p, unix.IN_OPEN|unix.IN_ACCESS); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	fn()
	buf := make([]byte, 64<<10)
	opened := 0
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&unix.IN_ISDIR == 0 && ev.Mask&(unix.IN_OPEN|unix.IN_ACCESS) != 0 {
				opened++
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
	return opened
}

func TestArchiveChangedMovedDeleted(t *testing.T) {
	t.Parallel()
	h := archiveHarness(t)
	root := memberTree(t)
	h.mustScan(root)

	// Unchanged: not opened again, no event.
	var evs []events.Event
	if n := opens(t, root, func() { _, evs = h.mustScan(root) }); n != 0 || len(evs) != 0 {
		t.Fatalf("unchanged rescan: %d opens, events %q", n, summary(root, evs))
	}

	// Changed: one member changed, one gone, one new, one as it was.
	sh(t, root, `mkdir -p w/x && cd w && unzip -q ../a.zip && echo changed > x/same.txt && rm other.txt &&
		echo new > new.txt && rm ../a.zip && zip -qr ../a.zip x deep new.txt && touch -d '2001-01-01' ../a.zip`)
	_, evs = h.mustScan(root)
	want := []string{
		"FileChanged a.zip content", "FileChanged a.zip::x/same.txt content", "FileDeleted a.zip::other.txt",
		"FileScanned a.zip::new.txt", "FileScanned w/deep/c.bin", "FileScanned w/new.txt", "FileScanned w/x/same.txt",
	}
	if got := summary(root, evs); !slices.Equal(got, want) {
		t.Fatalf("changed archive:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sh(t, root, `rm -r w`)
	h.mustScan(root)

	// Moved: the archive and its members move, nothing is read.
	sh(t, root, `mkdir moved && mv a.zip moved/b.zip`)
	var res scanner.Result
	res, evs = h.mustScan(root)
	want = []string{
		"FileMoved a.zip -> moved/b.zip", "FileMoved a.zip::deep/c.bin -> moved/b.zip::deep/c.bin",
		"FileMoved a.zip::new.txt -> moved/b.zip::new.txt", "FileMoved a.zip::x/same.txt -> moved/b.zip::x/same.txt",
	}
	if got := summary(root, evs); !slices.Equal(got, want) || res.Counts.Read != 0 {
		t.Fatalf("moved archive (read %d):\n%s\nwant\n%s", res.Counts.Read, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mv := byPath(root, evs)["moved/b.zip::x/same.txt"].Data.(*events.FileMoved)
	if mv.Archive == nil || string(mv.Archive.Path) != root+"/moved/b.zip" || mv.Hashes.SHA256 == "" {
		t.Fatalf("moved member: %+v", mv.File)
	}

	// Deleted: the members go with it.
	sh(t, root, `rm -r moved t.tar.zst`)
	_, evs = h.mustScan(root)
	want = []string{
		"FileDeleted moved/b.zip", "FileDeleted moved/b.zip::deep/c.bin", "FileDeleted moved/b.zip::new.txt",
		"FileDeleted moved/b.zip::x/same.txt", "FileDeleted t.tar.zst", "FileDeleted t.tar.zst::in/a.txt",
		"FileDeleted t.tar.zst::in/sub/b.txt", "FileDeleted t.tar.zst::in/sub/c.text",
	}
	if got := summary(root, evs); !slices.Equal(got, want) {
		t.Fatalf("deleted archive:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, evs = h.mustScan(root)
	if len(evs) != 0 {
		t.Fatalf("rescan after the deletions: %q", summary(root, evs))
	}
}

func TestCorruptArchivesDoNotStopTheScan(t *testing.T) {
	t.Parallel()
	h := archiveHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"w/a.txt":   strings.Repeat("compressible member a\n", 2000),
		"w/b.txt":   strings.Repeat("compressible member b\n", 2000),
		"after.txt": "the scan goes on",
	})
	sh(t, root, `cd w && zip -q ../good.zip a.txt b.txt && zip -q -P secret ../locked.zip a.txt && cd .. && rm -r w
		head -c 300 good.zip > truncated.zip
		cp good.zip badmember.zip
		# flip bytes inside a.txt's deflated data
		printf 'XXXXXXXX' | dd of=badmember.zip bs=1 seek=80 conv=notrunc status=none
		# the same, nested: a member and an archive that fail inside
		cp badmember.zip bad.zip && cp truncated.zip cut.zip
		zip -q -0 o1.zip bad.zip && zip -q -0 o2.zip cut.zip && rm bad.zip cut.zip`)
	_, evs := h.mustScan(root)
	got := byPath(root, evs)
	if _, ok := got["after.txt"]; !ok {
		t.Fatalf("the scan stopped: %q", summary(root, evs))
	}
	tr := got["truncated.zip"].Data.(*events.FileScanned)
	if tr.Archive == nil || tr.Archive.Error == "" {
		t.Errorf("truncated zip: %+v", tr.Archive)
	}
	if u, ok := got["badmember.zip::a.txt"].Data.(*events.FileUnreadable); !ok || u.Error == "" {
		t.Errorf("corrupt member: %q", summary(root, evs))
	}
	if _, ok := got["badmember.zip::b.txt"].Data.(*events.FileScanned); !ok {
		t.Errorf("the member after a corrupt one: %q", summary(root, evs))
	}
	l, ok := got["locked.zip::a.txt"].Data.(*events.FileScanned)
	if !ok || !l.Archive.Encrypted || !l.Hashes.IsZero() || l.Size != 44000 {
		t.Errorf("encrypted member: %q %+v", summary(root, evs), got["locked.zip::a.txt"])
	}
	// Nested, a failure is named by its full path: outer::inner::member
	// for a member, outer::inner in the outer archive's error for an
	// archive that cannot be walked.
	if u, ok := got["o1.zip::bad.zip::a.txt"].Data.(*events.FileUnreadable); !ok || u.Error == "" {
		t.Errorf("corrupt nested member: %q", summary(root, evs))
	}
	o2 := got["o2.zip"].Data.(*events.FileScanned)
	if o2.Archive == nil || !strings.HasPrefix(o2.Archive.Error, root+"/o2.zip::cut.zip: ") || len(o2.Archive.Error) <= len(root+"/o2.zip::cut.zip: ") {
		t.Errorf("a nested archive that cannot be walked: %+v", o2.Archive)
	}
}

func TestInterruptInsideAHugeArchive(t *testing.T) {
	t.Parallel()
	h := archiveHarness(t)
	prog := &scanner.Progress{}
	h.opts = func(s *scanner.Scanner) { s.Archives = true; s.Progress = prog; s.Workers = 1 }
	root := t.TempDir()
	// 256 MiB that does not compress, in a tar.zst: seconds to decode and
	// hash.
	sh(t, root, `mkdir in && head -c 256M /dev/urandom > in/noise && tar -cf - in | zstd -q -1 -o big.tar.zst && rm -r in`)
	ctx, cancel := context.WithCancel(context.Background())
	var stopped time.Time
	go func() {
		for prog.BytesRead.Load() < 1<<20 { // inside the archive
			time.Sleep(time.Millisecond)
		}
		stopped = time.Now()
		cancel()
	}()
	res, _, err := h.scan(ctx, root)
	if err == nil || res.Complete {
		t.Fatal("the scan finished before it was interrupted: make the archive bigger")
	}
	if d := time.Since(stopped); d > time.Second {
		t.Fatalf("the scan took %v to stop", d)
	}
}

// TestNestedArchivesAnd7z: a zip inside a 7z is walked to ArchiveDepth;
// its members are ARCHIVE::inner.zip::member, hashed like unzip gives them.
func TestNestedArchivesAnd7z(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"w/deep.txt": "deep inside", "w/top.txt": "on top"})
	sh(t, root, `cd w && zip -q inner.zip deep.txt && rm deep.txt && 7zz a -bd -bso0 -ms=on ../n.7z inner.zip top.txt && cd .. && rm -r w`)
	for depth, want := range map[int][]string{
		0:  {"FileScanned n.7z", "FileScanned n.7z::inner.zip", "FileScanned n.7z::inner.zip::deep.txt", "FileScanned n.7z::top.txt"},
		-1: {"FileScanned n.7z", "FileScanned n.7z::inner.zip", "FileScanned n.7z::top.txt"},
	} {
		h := newHarness(t)
		h.opts = func(s *scanner.Scanner) { s.Archives, s.ArchiveDepth = true, depth }
		_, evs := h.mustScan(root)
		if got := summary(root, evs); !slices.Equal(got, want) {
			t.Errorf("depth %d:\n%s\nwant\n%s", depth, strings.Join(got, "\n"), strings.Join(want, "\n"))
			continue
		}
		if depth != 0 {
			continue
		}
		got := byPath(root, evs)
		deep := got["n.7z::inner.zip::deep.txt"].Data.(*events.FileScanned)
		tmp := t.TempDir()
		want := strings.Fields(sh(t, root, `7zz e -so n.7z inner.zip > `+tmp+`/i.zip && unzip -p `+tmp+`/i.zip deep.txt | sha256sum`))[0]
		if deep.Hashes.SHA256 != want || deep.Archive.Format != "zip" || len(deep.Archive.Member) != 2 ||
			deep.Archive.Member[0] != "inner.zip" || deep.Archive.Member[1] != "deep.txt" || string(deep.Archive.Path) != root+"/n.7z" {
			t.Errorf("nested member: %+v %+v, want sha256 %s", deep.File, deep.Archive, want)
		}
		if inner := got["n.7z::inner.zip"].Data.(*events.FileScanned); inner.Archive.Format != "7z" {
			t.Errorf("the nested archive as a member: %+v", inner.Archive)
		}
	}
}

// TestMemberDigestsFilledIn: a rescan that asks for a digest the first
// scan did not compute fills it in for the archive's members too
// (ReasonHashes), keeping the others.
func TestMemberDigestsFilledIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.opts = func(s *scanner.Scanner) { s.Archives, s.Hashes = true, []string{"sha256"} }
	root := t.TempDir()
	writeTree(t, root, map[string]string{"w/a.txt": "member a"})
	sh(t, root, `cd w && zip -q ../a.zip a.txt && cd .. && rm -r w`)
	h.mustScan(root)
	h.opts = func(s *scanner.Scanner) { s.Archives, s.Hashes = true, []string{"md5", "sha256"} }
	_, evs := h.mustScan(root)
	want := []string{"FileChanged a.zip hashes", "FileChanged a.zip::a.txt hashes"}
	if got := summary(root, evs); !slices.Equal(got, want) {
		t.Fatalf("rescan with md5:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m := byPath(root, evs)["a.zip::a.txt"].Data.(*events.FileChanged)
	if m.Hashes.MD5 == "" || m.Hashes.SHA256 == "" {
		t.Fatalf("member digests: %+v", m.Hashes)
	}
}
