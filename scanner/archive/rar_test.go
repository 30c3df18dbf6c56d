package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// No free tool writes rar, and the rar libraries ship no fixtures in their
// modules, so these tests build minimal archives by hand from the format
// descriptions (RAR 5.0: rarlab.com/technote.htm; RAR 1.5-4: unrar's
// headers.hpp, as rardecode's archive15.go reads them) with the store
// method. They exercise the container, names, sizes, times, CRCs,
// directories and encryption flags, not rar's decompressors.

type rarFile struct {
	name  string
	data  []byte
	dir   bool
	mtime time.Time
}

// vint appends a RAR 5 variable-length integer.
func vint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// rar5Block frames a RAR 5 header: CRC32, size, then the fields from the
// type on.
func rar5Block(fields []byte) []byte {
	size := vint(nil, uint64(len(fields)))
	body := append(size, fields...)
	b := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(body))
	return append(b, body...)
}

// buildRar5 writes a RAR 5 archive of stored files. encrypted marks each
// file with an encryption record whose data is the plain bytes: enough for
// the reader to see the flag.
func buildRar5(files []rarFile) []byte {
	out := []byte("Rar!\x1a\x07\x01\x00")
	out = append(out, rar5Block([]byte{1, 0, 0})...) // main header: type 1, flags 0, archive flags 0
	for _, f := range files {
		var h []byte
		h = vint(h, 2) // file header
		flags := uint64(0)
		if !f.dir {
			flags = 0x2 // data area follows
		}
		h = vint(h, flags)
		if !f.dir {
			h = vint(h, uint64(len(f.data)))
		}
		fileFlags := uint64(0x2 | 0x4) // unix mtime, CRC32
		attr := uint64(0o100644)
		if f.dir {
			fileFlags = 0x1 | 0x2
			attr = 0o40755
		}
		h = vint(h, fileFlags)
		h = vint(h, uint64(len(f.data)))
		h = vint(h, attr)
		h = binary.LittleEndian.AppendUint32(h, uint32(f.mtime.Unix()))
		if !f.dir {
			h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(f.data))
		}
		h = vint(h, 0) // compression: version 0, method 0 (store)
		h = vint(h, 1) // host OS: Unix
		h = vint(h, uint64(len(f.name)))
		h = append(h, f.name...)
		out = append(out, rar5Block(h)...)
		out = append(out, f.data...)
	}
	return append(out, rar5Block([]byte{5, 0, 0})...) // end of archive
}

// rar4Block frames a RAR 1.5-4 header: the low 16 bits of the CRC32 of
// everything after the CRC field.
func rar4Block(typ byte, flags uint16, fields []byte) []byte {
	h := []byte{typ}
	h = binary.LittleEndian.AppendUint16(h, flags)
	h = binary.LittleEndian.AppendUint16(h, uint16(7+len(fields)))
	h = append(h, fields...)
	return append(binary.LittleEndian.AppendUint16(nil, uint16(crc32.ChecksumIEEE(h))), h...)
}

// dosTime packs a time as MS-DOS date and time.
func dosTime(t time.Time) uint32 {
	return uint32(t.Year()-1980)<<25 | uint32(t.Month())<<21 | uint32(t.Day())<<16 |
		uint32(t.Hour())<<11 | uint32(t.Minute())<<5 | uint32(t.Second()/2)
}

// buildRar4 writes a RAR 4 archive of stored files; encrypted sets each
// file's encryption flag.
func buildRar4(files []rarFile, encrypted bool) []byte {
	out := []byte("Rar!\x1a\x07\x00")
	out = append(out, rar4Block(0x73, 0, make([]byte, 6))...)
	for _, f := range files {
		flags := uint16(0x8000)
		attr := uint32(0o100644)
		if f.dir {
			flags |= 0xe0
			attr = 0o40755
		}
		if encrypted {
			flags |= 0x4
		}
		var h []byte
		h = binary.LittleEndian.AppendUint32(h, uint32(len(f.data))) // packed
		h = binary.LittleEndian.AppendUint32(h, uint32(len(f.data))) // unpacked
		h = append(h, 3)                                             // host OS Unix (stored minus one)
		h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(f.data))
		h = binary.LittleEndian.AppendUint32(h, dosTime(f.mtime))
		h = append(h, 20, 0x30) // version 2.0, method store
		h = binary.LittleEndian.AppendUint16(h, uint16(len(f.name)))
		h = binary.LittleEndian.AppendUint32(h, attr)
		h = append(h, f.name...)
		out = append(out, rar4Block(0x74, flags, h)...)
		out = append(out, f.data...)
	}
	return append(out, rar4Block(0x7b, 0x4000, nil)...)
}

func rarFiles() []rarFile {
	mt := time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
	return []rarFile{
		{name: "docs", dir: true, mtime: mt},
		{name: "docs/a.txt", data: text(11, 5000), mtime: mt},
		{name: "b.bin", data: noise(12, 70_000), mtime: mt},
		{name: "empty", mtime: mt},
		{name: "名前.txt", data: []byte("unicode name\n"), mtime: mt},
	}
}

func TestRar(t *testing.T) {
	t.Parallel()
	files := rarFiles()
	for _, c := range []struct {
		name string
		data []byte
	}{{"rar5", buildRar5(files)}, {"rar4", buildRar4(files, false)}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			arc := filepath.Join(dir, "x.rar")
			writeFile(t, arc, c.data)
			// the truth: sha256sum of the same bytes as plain files
			plain := filepath.Join(dir, "plain")
			for _, f := range files {
				if !f.dir {
					writeFile(t, filepath.Join(plain, f.name), f.data)
				}
			}
			want := sha256sums(t, plain)
			members, err := walkAll(t, arc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "rar4" {
				delete(want, "名前.txt") // RAR 4 without the unicode flag: bytes, shown as UTF-8 anyway
				delete(members, "名前.txt")
			}
			sameSums(t, fileSums(members), want)
			if d := members["docs"]; d.m.Type != TypeDir || d.m.Format != Rar {
				t.Errorf("docs: %+v", d.m)
			}
			a := members["docs/a.txt"]
			if !a.m.ModTime.Equal(files[1].mtime) && c.name == "rar5" {
				t.Errorf("mtime %v, want %v", a.m.ModTime, files[1].mtime)
			}
			if a.m.Size != 5000 || a.m.Packed != 5000 || a.m.Mode.Perm() != 0o644 {
				t.Errorf("docs/a.txt: size %d packed %d mode %v", a.m.Size, a.m.Packed, a.m.Mode)
			}
		})
	}
}

func TestRarCorruptAndEncrypted(t *testing.T) {
	t.Parallel()
	files := rarFiles()
	dir := t.TempDir()

	// a flipped byte of stored data: the CRC check fails, at the end of
	// that member's reader, and the walk goes on
	bad := buildRar5(files)
	i := bytes.Index(bad, files[2].data[:16])
	bad[i+100] ^= 0xff
	writeFile(t, filepath.Join(dir, "bad.rar"), bad)
	members, err := walkAll(t, filepath.Join(dir, "bad.rar"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g := members["b.bin"]; !errors.Is(g.err, ErrCorrupt) {
		t.Errorf("b.bin: err %v, want ErrCorrupt", g.err)
	}
	if g := members["empty"]; g.err != nil {
		t.Errorf("the member after the bad one: %v", g.err)
	}

	// the 16-byte RAR 5 header that made rardecode v2.2.2 panic
	short := append([]byte("Rar!\x1a\x07\x01\x00"), 0x33, 0x92, 0xb5, 0xe5, 0x0a, 0x01, 0x05, 0x06)
	writeFile(t, filepath.Join(dir, "short.rar"), short)
	_, err = walkAll(t, filepath.Join(dir, "short.rar"), Options{})
	var ae *Error
	if !errors.As(err, &ae) || ae.Format != Rar {
		t.Errorf("16-byte header: %v, want an *Error", err)
	}

	// cut in the middle of a member
	writeFile(t, filepath.Join(dir, "cut.rar"), buildRar5(files)[:len(buildRar5(files))/2])
	_, err = walkAll(t, filepath.Join(dir, "cut.rar"), Options{})
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated rar: %v, want ErrTruncated", err)
	}

	// encrypted members are listed, not read
	writeFile(t, filepath.Join(dir, "enc.rar"), buildRar4(files, true))
	members, err = walkAll(t, filepath.Join(dir, "enc.rar"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := members["docs/a.txt"]
	if !a.m.Encrypted || !errors.Is(a.m.Err, ErrEncrypted) || a.m.Size != 5000 {
		t.Errorf("encrypted member: %+v", a.m)
	}
	if _, err := os.Stat(filepath.Join(dir, "enc.rar")); err != nil {
		t.Fatal(err)
	}
}

// TestWriteRarFixtures writes the rar archives that tests of other
// packages scan end to end (cmd/indexer-scan), from rarFixture, when
// INDEXER_WRITE_FIXTURES is set; otherwise it checks the stored ones are
// still what it would write:
//
//	INDEXER_WRITE_FIXTURES=1 go test ./scanner/archive -run TestWriteRarFixtures
func TestWriteRarFixtures(t *testing.T) {
	for name, data := range map[string][]byte{
		"names5.rar": buildRar5(rarFixture()),
		"names4.rar": buildRar4(rarFixture(), false),
	} {
		path := filepath.Join("testdata", name)
		if os.Getenv("INDEXER_WRITE_FIXTURES") != "" {
			writeFile(t, path, data)
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s is not what rarFixture builds (%v): write it again", path, err)
		}
	}
}

// rarFixture is the content of testdata/names5.rar and names4.rar.
func rarFixture() []rarFile {
	mt := time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
	return []rarFile{
		{name: "docs", dir: true, mtime: mt},
		{name: "docs/report.txt", data: []byte("a report, stored in a rar\n"), mtime: mt},
		{name: "名前.txt", data: []byte("unicode name\n"), mtime: mt},
	}
}
