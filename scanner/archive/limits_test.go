package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// writeZip writes a zip of the given members with the Go writer.
func writeZip(tb testing.TB, path string, method uint16, names []string, data [][]byte) {
	tb.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	w.RegisterCompressor(zipZstd, func(out io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(out, zstd.WithEncoderConcurrency(1))
	})
	for i, n := range names {
		f, err := w.CreateHeader(&zip.FileHeader{Name: n, Method: method})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := f.Write(data[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, path, b.Bytes())
}

// A member that inflates more than 1,000 times its packed size is a bomb:
// its reader fails, the members after it are still given.
func TestZipBombRatio(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bomb.zip")
	// zstd (zip method 93): 64 MiB of zeros packs into a few KiB, so the
	// bomb shows after a few MiB read
	writeZip(t, path, zipZstd, []string{"zeros", "after.txt"}, [][]byte{make([]byte, 64<<20), []byte("fine\n")})
	members, err := walkAll(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	z := members["zeros"]
	if !errors.Is(z.err, ErrBomb) {
		t.Fatalf("zeros (%d packed): err %v, want ErrBomb", z.m.Packed, z.err)
	}
	if limit := DefaultRatio*z.m.Packed + 1<<20; z.n > limit {
		t.Errorf("read %d bytes of the bomb, want at most %d", z.n, limit)
	}
	if a := members["after.txt"]; a.err != nil || a.n != 5 {
		t.Errorf("after.txt: %d bytes, %v", a.n, a.err)
	}
}

// overlappingZip builds the non-recursive bomb's shape: n central
// directory entries pointing at one local file.
func overlappingZip(tb testing.TB, n int) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.CreateHeader(&zip.FileHeader{Name: "kernel", Method: zip.Deflate})
	f.Write(make([]byte, 1<<20))
	w.Close()
	data := b.Bytes()
	cd := bytes.Index(data, []byte("PK\x01\x02"))
	eocd := bytes.Index(data, []byte("PK\x05\x06"))
	entry := data[cd:eocd]
	out := append([]byte(nil), data[:cd]...)
	for range n {
		out = append(out, entry...)
	}
	end := append([]byte(nil), data[eocd:]...)
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(n*len(entry)))
	binary.LittleEndian.PutUint32(end[16:], uint32(cd))
	return append(out, end...)
}

// Entries that share their data are refused before anything inflates; so
// does Info-ZIP's unzip since CVE-2019-13232.
func TestZipBombOverlap(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "overlap.zip")
	writeFile(t, path, overlappingZip(t, 50))
	need(t, "unzip")
	out, err := exec.Command("unzip", "-t", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "overlap") {
		t.Logf("unzip -t: %v\n%s", err, out)
	}
	given := 0
	err = WalkFile(context.Background(), path, Options{}, func(*Member, io.Reader) error { given++; return nil })
	if !errors.Is(err, ErrBomb) || given != 0 {
		t.Fatalf("err %v, %d members given; want ErrBomb and none", err, given)
	}
}

func TestTotalBytesLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run(t, mkTree(t), "tar", "-cf", filepath.Join(dir, "t.tar"), ".")
	_, err := walkAll(t, filepath.Join(dir, "t.tar"), Options{Limits: Limits{TotalBytes: 200_000}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	// a zip's declared sizes are checked before anything is read
	writeZip(t, filepath.Join(dir, "z.zip"), zip.Store, []string{"a", "b"}, [][]byte{noise(1, 150_000), noise(2, 150_000)})
	given := 0
	err = WalkFile(context.Background(), filepath.Join(dir, "z.zip"), Options{Limits: Limits{TotalBytes: 200_000}},
		func(*Member, io.Reader) error { given++; return nil })
	if !errors.Is(err, ErrTooLarge) || given != 0 {
		t.Fatalf("err %v, %d given; want ErrTooLarge, none", err, given)
	}
}

// 100,000 members are walked with the default limits; one more is refused
// while the central directory is read, before any member is given.
// TestManyMembers is not parallel: it measures the heap, which parallel
// tests of this package would share (a test runs alone before the
// parallel ones start).
func TestManyMembers(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{DefaultMembers, DefaultMembers + 1} {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		for i := range n {
			if _, err := w.CreateHeader(&zip.FileHeader{Name: "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + itoa(i), Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		path := filepath.Join(dir, itoa(n)+".zip")
		writeFile(t, path, b.Bytes())
		given := 0
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak uint64 // heap in use beyond base, sampled every 10,000 members
		err := WalkFile(context.Background(), path, Options{}, func(*Member, io.Reader) error {
			if given++; given%10_000 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse-min(ms.HeapInuse, base.HeapInuse))
			}
			return nil
		})
		if n == DefaultMembers && (err != nil || given != n) {
			t.Errorf("%d members: %v, %d given", n, err, given)
		}
		// the scanner's goal is 200 MB for the whole process
		t.Logf("%d members: %d MiB of heap in use at most", n, peak>>20)
		if peak > 200<<20 {
			t.Errorf("%d members: %d MiB of heap in use", n, peak>>20)
		}
		if n > DefaultMembers && (!errors.Is(err, ErrTooManyMembers) || given != 0) {
			t.Errorf("%d members: %v, %d given; want ErrTooManyMembers, none", n, err, given)
		}
	}
	// a streamed format stops at the limit
	run(t, mkTree(t), "tar", "-cf", filepath.Join(dir, "t.tar"), ".")
	given := 0
	err := WalkFile(context.Background(), filepath.Join(dir, "t.tar"), Options{Limits: Limits{Members: 3}},
		func(*Member, io.Reader) error { given++; return nil })
	if !errors.Is(err, ErrTooManyMembers) || given != 3 {
		t.Errorf("tar: %v, %d given; want ErrTooManyMembers after 3", err, given)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// craftedXz is a 72-byte xz stream whose LZMA2 filter asks for a 4 GiB
// dictionary (property 40): ulikunitz/xz allocated it and ran 20 s.
func craftedXz() []byte {
	le := binary.LittleEndian
	out := []byte("\xfd7zXZ\x00\x00\x01") // magic, flags: CRC32 check
	out = le.AppendUint32(out, crc32.ChecksumIEEE([]byte{0, 1}))
	// block header: size byte ((n+1)*4), flags (1 filter), LZMA2 id, 1
	// property byte, the property, padding, CRC32
	bh := []byte{0x02, 0x00, 0x21, 0x01, 40, 0, 0, 0}
	out = append(out, bh...)
	out = le.AppendUint32(out, crc32.ChecksumIEEE(bh))
	// an LZMA2 chunk: uncompressed, reset dictionary, 1 byte
	out = append(out, 0x01, 0x00, 0x00, 'x', 0x00)
	return append(out, make([]byte, 40)...)
}

// craftedZstd is a zstd frame that asks for a 1 GiB window.
func craftedZstd() []byte {
	// magic, frame header descriptor (window descriptor present), window
	// descriptor: exponent 20, so 1 << 30
	out := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3}
	// a raw last block of 1 byte
	out = append(out, 0x09, 0x00, 0x00, 'x')
	return out
}

// Streams that ask for a huge dictionary fail at once, without allocating
// it. Not parallel: the allocation count is the process's.
func TestCraftedDictionaries(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{"x.xz": craftedXz(), "x.zst": craftedZstd()} {
		path := filepath.Join(dir, name)
		writeFile(t, path, data)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := walkAll(t, path, Options{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrDictionary) {
			t.Errorf("%s: %v, want ErrDictionary", name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
			t.Errorf("%s: allocated %d MiB", name, alloc>>20)
		}
	}
}

// A 7z whose LZMA2 coder asks for a 4 GiB dictionary goes through the
// capped coder registered over sevenzip's own.
func TestCrafted7zDictionary(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "a.txt"), text(1, 1000))
	run(t, filepath.Join(dir, "src"), "7zz", "a", "-bd", "-bso0", "-m0=LZMA2", "-mhc=off", "../x.7z", "a.txt")
	data, err := os.ReadFile(filepath.Join(dir, "x.7z"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	off, size := 32+int(le.Uint64(data[12:])), int(le.Uint64(data[20:]))
	header := data[off : off+size]
	i := bytes.Index(header, []byte{0x21, 0x21, 0x01})
	if i < 0 {
		t.Fatalf("no LZMA2 coder in the header %x", header)
	}
	header[i+3] = 40
	le.PutUint32(data[28:], crc32.ChecksumIEEE(header))
	le.PutUint32(data[8:], crc32.ChecksumIEEE(data[12:32]))
	writeFile(t, filepath.Join(dir, "crafted.7z"), data)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	members, err := walkAll(t, filepath.Join(dir, "crafted.7z"), Options{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if a := members["a.txt"]; !errors.Is(a.m.Err, ErrDictionary) && !errors.Is(a.err, ErrDictionary) {
		t.Errorf("a.txt: %v / %v, want ErrDictionary", a.m.Err, a.err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}

// Canceling the context inside a member stops the walk at the next read:
// no further member is given.
func TestCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run(t, mkTree(t), "tar", "-czf", filepath.Join(dir, "t.tgz"), ".")
	writeZip(t, filepath.Join(dir, "z.zip"), zip.Deflate, []string{"a", "b"}, [][]byte{noise(1, 1<<20), noise(2, 10)})
	for _, name := range []string{"t.tgz", "z.zip"} {
		ctx, cancel := context.WithCancel(context.Background())
		given := 0
		var readErr error
		err := WalkFile(ctx, filepath.Join(dir, name), Options{}, func(m *Member, r io.Reader) error {
			given++
			if r != nil && m.Size > 100_000 {
				io.CopyN(io.Discard, r, 1000)
				cancel()
				_, readErr = io.Copy(io.Discard, r)
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) || !errors.Is(readErr, context.Canceled) {
			t.Errorf("%s: walk %v, read %v; want context.Canceled", name, err, readErr)
		}
		if ctx.Err() == nil {
			t.Fatal("not canceled")
		}
		_ = given
	}
}

// TestZipEntriesLetGo: a zip's central directory entries are let go as
// their members are given, so a zip of 100,000 members does not hold its
// whole directory (some 30 MiB) to the end beside what the members' events
// take. Not parallel: it measures the heap.
func TestZipEntriesLetGo(t *testing.T) {
	const n = DefaultMembers
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for i := range n {
		if _, err := w.CreateHeader(&zip.FileHeader{Name: "some/deeper/directory/member-" + itoa(i) + ".txt", Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	path := filepath.Join(t.TempDir(), "many.zip")
	writeFile(t, path, b.Bytes())
	b = bytes.Buffer{}
	inUse := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	var first, last uint64
	given := 0
	err := WalkFile(context.Background(), path, Options{}, func(*Member, io.Reader) error {
		switch given++; given {
		case 1:
			first = inUse()
		case n:
			last = inUse()
		}
		return nil
	})
	if err != nil || given != n {
		t.Fatalf("%v, %d given", err, given)
	}
	t.Logf("heap in use: %d MiB at the first member, %d MiB at the last", first>>20, last>>20)
	if last+10<<20 > first {
		t.Fatalf("heap in use: %d MiB at the first member, %d MiB at the last: the directory is held", first>>20, last>>20)
	}
}
