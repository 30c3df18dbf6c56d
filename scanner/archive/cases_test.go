package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// legacyZip writes names in a legacy encoding without the UTF-8 flag, as
// Windows tools do.
func legacyZip(tb testing.TB, path string, enc encoding.Encoding, names []string, extra map[string][]byte) {
	tb.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, n := range names {
		raw := n
		if enc != nil {
			var err error
			if raw, err = enc.NewEncoder().String(n); err != nil {
				tb.Fatal(err)
			}
		}
		f, err := w.CreateHeader(&zip.FileHeader{Name: raw, NonUTF8: true, Method: zip.Deflate, Extra: extra[n]})
		if err != nil {
			tb.Fatal(err)
		}
		f.Write([]byte(n))
	}
	w.Close()
	writeFile(tb, path, b.Bytes())
}

func TestZipNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name  string
		enc   encoding.Encoding
		names []string
		want  string // Encoding
	}{
		{"gbk", simplifiedchinese.GBK, []string{"中文文件名.txt", "目录/报告 2024.doc"}, "gbk"},
		{"shift_jis", japanese.ShiftJIS, []string{"日本語のファイル名.txt"}, "shift_jis"},
		{"cp437", charmap.CodePage437, []string{"Café Menü Über.doc", "naïve.txt"}, "cp437"},
		{"utf-8 without the flag", nil, []string{"naïve 中文.txt"}, "utf-8"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".zip")
		legacyZip(t, path, c.enc, c.names, nil)
		members, err := walkAll(t, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.names {
			g, ok := members[n]
			if !ok {
				t.Errorf("%s: no member %q in %q", c.name, n, keys(members))
				continue
			}
			if g.m.Encoding != c.want {
				t.Errorf("%s: %q Encoding=%q, want %q", c.name, n, g.m.Encoding, c.want)
			}
			raw := n
			if c.enc != nil {
				raw, _ = c.enc.NewEncoder().String(n)
			}
			if !bytes.Equal(g.m.Path[0], []byte(raw)) {
				t.Errorf("%s: raw path %x, want the stored bytes %x", c.name, g.m.Path[0], raw)
			}
		}
	}
	// the user's choice wins over detection
	path := filepath.Join(dir, "forced.zip")
	legacyZip(t, path, charmap.CodePage866, []string{"Привет.txt"}, nil)
	members, err := walkAll(t, path, Options{ZipEncoding: "cp866"})
	if _, ok := members["Привет.txt"]; err != nil || !ok {
		t.Errorf("forced cp866: %v %q", err, keys(members))
	}
	// an Info-ZIP Unicode Path field whose CRC matches the stored name
	// gives the name; a stale one is ignored
	stored, _ := charmap.CodePage437.NewEncoder().String("Menu.txt")
	up := func(crcOf, name string) []byte {
		f := []byte{0x75, 0x70, 0, 0, 1}
		f = binary.LittleEndian.AppendUint32(f, crc32.ChecksumIEEE([]byte(crcOf)))
		f = append(f, name...)
		binary.LittleEndian.PutUint16(f[2:], uint16(len(f)-4))
		return f
	}
	path = filepath.Join(dir, "unicode-path.zip")
	legacyZip(t, path, nil, []string{"Men\xfc.txt", "Old\xfc.txt"}, map[string][]byte{
		"Men\xfc.txt": up("Men\xfc.txt", "Menü.txt"),
		"Old\xfc.txt": up(stored, "Stale.txt"),
	})
	members, err = walkAll(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := members["Menü.txt"]; !ok {
		t.Errorf("unicode path field not used: %q", keys(members))
	}
	if _, ok := members["Stale.txt"]; ok {
		t.Errorf("a stale unicode path field was used: %q", keys(members))
	}
}

// nestedZip makes outer.zip holding inner.zip, inner.tgz, a corrupt
// broken.zip and deep.zip (which holds inner.zip), with the tools; it
// returns the outer path and the sha256sum of every file of the inner
// trees as their nested member names.
func nestedZip(t *testing.T) (string, map[string]string) {
	dir := t.TempDir()
	tree := mkTree(t)
	run(t, tree, "zip", "-qr", filepath.Join(dir, "inner.zip"), "a.txt", "dir")
	run(t, tree, "tar", "-czf", filepath.Join(dir, "inner.tgz"), "dir", "empty.txt")
	data, _ := os.ReadFile(filepath.Join(dir, "inner.zip"))
	writeFile(t, filepath.Join(dir, "broken.zip"), data[:len(data)/2])
	run(t, dir, "zip", "-q", "deep.zip", "inner.zip")
	run(t, dir, "zip", "-q", "outer.zip", "inner.zip", "inner.tgz", "broken.zip", "deep.zip")
	want := map[string]string{}
	for _, n := range []string{"inner.zip", "inner.tgz", "broken.zip", "deep.zip"} {
		want[n] = sha256sums(t, dir)[n]
	}
	want["deep.zip::inner.zip"] = want["inner.zip"]
	ex := filepath.Join(dir, "ex")
	os.Mkdir(ex, 0o755)
	run(t, ex, "unzip", "-q", filepath.Join(dir, "inner.zip"))
	for k, v := range sha256sums(t, ex) {
		want["inner.zip::"+k] = v
		want["deep.zip::inner.zip::"+k] = v
	}
	ex2 := filepath.Join(dir, "ex2")
	os.Mkdir(ex2, 0o755)
	run(t, ex2, "tar", "-xzf", filepath.Join(dir, "inner.tgz"))
	for k, v := range sha256sums(t, ex2) {
		want["inner.tgz::"+k] = v
	}
	return filepath.Join(dir, "outer.zip"), want
}

func TestNested(t *testing.T) {
	t.Parallel()
	outer, all := nestedZip(t)
	for _, depth := range []int{-1, 0, 2} {
		want := map[string]string{}
		for k, v := range all {
			levels := strings.Count(k, "::")
			if depth < 0 && levels > 0 || depth <= 1 && levels > 1 {
				continue
			}
			want[k] = v
		}
		members, err := walkAll(t, outer, Options{Depth: depth})
		if err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		sameSums(t, fileSums(members), want)
		b := members["broken.zip (as archive)"]
		if depth >= 0 && (!errors.Is(b.m.Err, ErrCorrupt) && !errors.Is(b.m.Err, ErrTruncated) || b.m.Archive != Zip) {
			t.Errorf("depth %d: broken.zip as an archive: %+v", depth, b.m)
		}
		if g := members["inner.tgz::dir/b.bin"]; depth >= 0 && (len(g.m.Path) != 2 || string(g.m.Path[0]) != "inner.tgz" || g.m.Format != TarGz) {
			t.Errorf("depth %d: nested member %+v", depth, g.m)
		}
	}
}

func TestCorruptAndTruncated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree := mkTree(t)
	run(t, tree, "zip", "-qr", filepath.Join(dir, "z.zip"), ".")
	run(t, tree, "tar", "-cf", filepath.Join(dir, "t.tar"), ".")
	run(t, tree, "tar", "-czf", filepath.Join(dir, "t.tgz"), ".")
	run(t, tree, "7zz", "a", "-bd", "-bso0", filepath.Join(dir, "s.7z"), ".")
	for _, name := range []string{"z.zip", "t.tar", "t.tgz", "s.7z"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{len(data) / 3, len(data) * 2 / 3} {
			path := filepath.Join(dir, "cut-"+itoa(cut)+"-"+name)
			writeFile(t, path, data[:cut])
			members, err := walkAll(t, path, Options{})
			var ae *Error
			failed := errors.As(err, &ae)
			for _, g := range members {
				failed = failed || g.err != nil || g.m.Err != nil
			}
			if !failed {
				t.Errorf("%s cut at %d: no error, %d members", name, cut, len(members))
			}
			if err != nil && !errors.As(err, &ae) {
				t.Errorf("%s cut at %d: %T %v, want an *Error", name, cut, err, err)
			}
		}
	}
	// a flipped byte in a zip member: that member fails its CRC, the others
	// are given
	data, _ := os.ReadFile(filepath.Join(dir, "z.zip"))
	f := filepath.Join(dir, "flipped.zip")
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var off int64
	for _, zf := range zr.File {
		if zf.Name == "mixed.bin" {
			off, _ = zf.DataOffset()
		}
	}
	data[off+1000] ^= 0x55
	writeFile(t, f, data)
	members, err := walkAll(t, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g := members["mixed.bin"]; !errors.Is(g.err, ErrCorrupt) {
		t.Errorf("mixed.bin: %v, want ErrCorrupt", g.err)
	}
	if g := members["a.txt"]; g.err != nil || g.n != 10_000 {
		t.Errorf("a.txt after a corrupt member: %d bytes, %v", g.n, g.err)
	}
}

func TestEncrypted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree := mkTree(t)
	run(t, tree, "zip", "-qr", "-P", "secret", filepath.Join(dir, "e.zip"), ".")
	run(t, tree, "7zz", "a", "-bd", "-bso0", "-psecret", filepath.Join(dir, "e.7z"), ".")
	run(t, tree, "7zz", "a", "-bd", "-bso0", "-psecret", "-mhe=on", filepath.Join(dir, "h.7z"), ".")
	run(t, tree, "7zz", "a", "-bd", "-bso0", "-tzip", "-psecret", "-mem=AES256", filepath.Join(dir, "aes.zip"), ".")
	for _, name := range []string{"e.zip", "e.7z", "aes.zip"} {
		members, err := walkAll(t, filepath.Join(dir, name), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := members["dir/b.bin"]
		if !g.m.Encrypted || !errors.Is(g.m.Err, ErrEncrypted) || g.m.Size != 300_000 {
			t.Errorf("%s: dir/b.bin %+v, want listed as encrypted with its size", name, g.m)
		}
		if d := members["dir"]; d.m.Type != TypeDir {
			t.Errorf("%s: dir: %+v", name, d.m)
		}
	}
	_, err := walkAll(t, filepath.Join(dir, "h.7z"), Options{})
	if !errors.Is(err, ErrEncrypted) {
		t.Errorf("7z with encrypted headers: %v, want ErrEncrypted", err)
	}
}

func TestNotArchive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"empty": nil, "text.txt": text(1, 5000), "noise": noise(1, 5000)} {
		writeFile(t, filepath.Join(dir, name), data)
		if _, err := walkAll(t, filepath.Join(dir, name), Options{}); !errors.Is(err, ErrNotArchive) {
			t.Errorf("%s: %v, want ErrNotArchive", name, err)
		}
		if MayBeArchive(data, int64(len(data))) {
			t.Errorf("%s: MayBeArchive is true, want false", name)
		}
	}
}

// A panic in the WalkFunc is the caller's bug: it is not turned into an
// archive error.
func TestCallbackPanicGoesOn(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "z.zip")
	writeZip(t, path, zip.Store, []string{"a"}, [][]byte{[]byte("x")})
	defer func() {
		if p := recover(); p != "callback bug" {
			t.Errorf("recovered %v, want the callback's panic", p)
		}
	}()
	WalkFile(context.Background(), path, Options{}, func(*Member, io.Reader) error { panic("callback bug") })
	t.Error("Walk returned")
}

// Symbolic links are members with their target and no content.
func TestSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a\n"))
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	run(t, src, "tar", "-cf", "../l.tar", "a.txt", "link")
	run(t, src, "zip", "-qy", "../l.zip", "a.txt", "link")
	run(t, src, "7zz", "a", "-bd", "-bso0", "-snl", "../l.7z", "a.txt", "link")
	for _, name := range []string{"l.tar", "l.zip", "l.7z"} {
		members, err := walkAll(t, filepath.Join(dir, name), Options{})
		if err != nil {
			t.Fatal(err)
		}
		l := members["link"]
		if l.m.Type != TypeSymlink || l.m.LinkTarget != "a.txt" || l.sha256 != "" {
			t.Errorf("%s: link %+v", name, l.m)
		}
	}
}

// panicReader is a decoder with a bug.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("index out of range") }

// A library that panics costs the archive, not the process: inside a
// member's Read (the reader fails with ErrPanic and the archive ends) and
// anywhere else in the walk of an archive.
func TestLibraryPanics(t *testing.T) {
	t.Parallel()
	var readErr error
	w := &walker{ctx: context.Background(), lim: Limits{}.withDefaults(0), fn: func(m *Member, r io.Reader) error {
		_, readErr = io.Copy(io.Discard, r)
		return nil
	}}
	l := &level{w: w, format: Rar}
	err := l.give(&Member{Type: TypeFile, Size: 10, Packed: 10}, []byte("m"), "m",
		func() (io.ReadCloser, error) { return io.NopCloser(panicReader{}), nil })
	if !errors.Is(readErr, ErrPanic) || !errors.Is(err, ErrPanic) {
		t.Errorf("read %v, give %v; want ErrPanic from both", readErr, err)
	}

	err = func() (err error) {
		defer recoverPanic(SevenZip, &err)
		var headers []int
		return errors.New(itoa(headers[3])) // a parser's bug
	}()
	var ae *Error
	if !errors.As(err, &ae) || ae.Kind != ErrPanic || ae.Format != SevenZip {
		t.Errorf("%v, want a 7z ErrPanic", err)
	}
}
