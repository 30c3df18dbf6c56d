package archive

import (
	"cmp"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/klauspost/compress/zip"
	"github.com/mikelolasagasti/xz"
)

// Zip compression methods beyond Store and Deflate that have a capped
// pure-Go decoder here.
const (
	zipBzip2 = 12
	zipZstd  = 93
	zipXz    = 95
)

// errTooManyEntries stops reading a central directory past the member
// limit, before the entries take memory.
var errTooManyEntries = errors.New("central directory over the member limit")

// walkZip gives the members of a zip in central-directory order. The
// directory is read whole first (its entries are counted as they are
// read, so a crafted count costs nothing); members are then opened one by
// one through the ReaderAt.
func (l *level) walkZip(r io.ReaderAt, size int64) error {
	w := l.w
	room := w.lim.Members - w.members
	seen := 0
	zr, err := zip.NewReaderWithOptions(r, size, zip.ReaderOptions{NameDecoder: func(*zip.FileHeader) error {
		seen++
		if seen > room {
			return errTooManyEntries
		}
		return nil
	}})
	if errors.Is(err, errTooManyEntries) {
		return &Error{Format: Zip, Kind: ErrTooManyMembers, Err: fmt.Errorf("more than %d", w.lim.Members)}
	}
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return err
	}
	zr.RegisterDecompressor(zipBzip2, func(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) })
	zr.RegisterDecompressor(zipXz, func(r io.Reader) io.ReadCloser {
		z, err := xz.NewReader(r, MaxXzDictionary)
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return io.NopCloser(z)
	})
	zr.RegisterDecompressor(zipZstd, func(r io.Reader) io.ReadCloser {
		z, err := newZstd(r)
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return zstdCloser{z}
	})
	if err := l.zipBombs(zr.File); err != nil {
		return err
	}
	names, encs := zipNames(zr.File, w.opt.ZipEncoding)
	for _, f := range zr.File {
		f.Extra = nil // read (names, zip64 sizes, times); it holds the name's buffer
	}
	for i, f := range zr.File {
		m := &Member{
			Size: int64(f.UncompressedSize64), Packed: int64(f.CompressedSize64),
			ModTime: f.Modified, Mode: f.Mode(), Encoding: encs[i],
			CRC32: f.CRC32, HasCRC: true, Encrypted: f.Flags&1 != 0,
		}
		raw, display := f.Name, names[i]
		switch {
		case strings.HasSuffix(raw, "/") || m.Mode.IsDir():
			m.Type, raw, display = TypeDir, strings.TrimSuffix(raw, "/"), strings.TrimSuffix(display, "/")
		case m.Mode&fs.ModeSymlink != 0:
			m.Type = TypeSymlink
			if !m.Encrypted {
				m.LinkTarget = linkTarget(f.Open)
			}
		case !m.Mode.IsRegular():
			m.Type = TypeOther
		}
		if err := l.give(m, []byte(raw), display, f.Open); err != nil {
			return err
		}
		// Each entry is let go once given: the central directory of
		// 100,000 members took 35 MiB, which would otherwise stay to the
		// end beside what the members' events take.
		zr.File[i], names[i] = nil, ""
	}
	return nil
}

// zipBombs refuses, before anything is decompressed, a zip whose declared
// sizes add up past the budget or whose entries overlap: the classic
// non-recursive bomb points thousands of entries at one compressed
// kernel (Fifield, "A better zip bomb", 2019), which no writer does.
func (l *level) zipBombs(files []*zip.File) error {
	var total uint64
	for _, f := range files {
		total += f.UncompressedSize64
	}
	if left := l.w.lim.TotalBytes - l.w.total; total > uint64(max(left, 0)) {
		return &Error{Format: Zip, Kind: ErrTooLarge, Err: fmt.Errorf("members declare %d bytes, the limit is %d", total, l.w.lim.TotalBytes)}
	}
	type span struct{ start, end int64 }
	spans := make([]span, 0, len(files))
	for _, f := range files {
		if f.CompressedSize64 == 0 {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			continue // the member fails when opened
		}
		spans = append(spans, span{off, off + int64(f.CompressedSize64)})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return &Error{Format: Zip, Kind: ErrBomb, Err: fmt.Errorf("entries overlap at offset %d", spans[i].start)}
		}
	}
	return nil
}

// linkTarget reads a symbolic link's target, which zip and 7z store as
// the member's content; a target longer than 4 KiB is not one.
func linkTarget(open func() (io.ReadCloser, error)) string {
	rc, err := open()
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 4096))
	return string(b)
}

// errReader is a reader that only fails: a zip decompressor cannot return
// an error itself.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
