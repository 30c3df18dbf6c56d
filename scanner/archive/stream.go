package archive

import (
	"archive/tar"
	"compress/bzip2"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mikelolasagasti/xz"
)

// openDecompressor opens the decoder of a compressed stream, with the
// memory caps: xz dictionaries up to MaxXzDictionary, zstd windows up to
// MaxZstdWindow, decoding on the calling goroutine (zstd concurrency 1:
// no background goroutines, nothing left running when Close is missed).
func openDecompressor(f Format, r io.Reader) (io.ReadCloser, error) {
	switch f {
	case Gz:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		return z, nil
	case Bz2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case Xz:
		z, err := xz.NewReader(r, MaxXzDictionary)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(z), nil
	case Zst:
		z, err := newZstd(r)
		if err != nil {
			return nil, err
		}
		return zstdCloser{z}, nil
	}
	return nil, errors.New("not a compressed stream")
}

func newZstd(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderMaxWindow(MaxZstdWindow),
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true))
}

// zstdCloser makes Close release the decoder's buffers; zstd's own Close
// returns nothing.
type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// walkStream walks a tar, a compressed tar or a single-file stream,
// reading the file once from start to end.
func (l *level) walkStream(r io.ReaderAt, size int64, name string) error {
	l.stream = &countingReader{r: io.NewSectionReader(r, 0, size), ctx: l.w.ctx}
	l.drain = true
	var src io.Reader = l.stream
	switch l.format {
	case Tar:
	case Gz, Bz2, Xz, Zst:
		d, err := openDecompressor(l.format, l.stream)
		if err != nil {
			return err
		}
		defer d.Close()
		return l.walkSingle(d, name)
	default:
		d, err := openDecompressor(compressionOf[l.format], l.stream)
		if err != nil {
			return err
		}
		defer d.Close()
		src = d
	}
	return l.walkTar(&streamGuard{l: l, r: src})
}

// walkSingle gives the one member of a compressed stream: the gzip header's
// name, else the archive's name without its compression suffix.
func (l *level) walkSingle(d io.ReadCloser, name string) error {
	m := &Member{Type: TypeFile, Size: -1, Packed: -1, Mode: 0o644}
	inner := ""
	if z, ok := d.(*gzip.Reader); ok {
		inner = z.Name
		m.ModTime = z.ModTime
	}
	if inner == "" {
		inner = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if inner == "" || inner == "." || inner == string(filepath.Separator) {
		inner = "data"
	}
	raw := []byte(filepath.Base(inner))
	m.Encoding = "bytes"
	err := l.give(m, raw, string(raw), func() (io.ReadCloser, error) {
		return io.NopCloser(&streamGuard{l: l, r: d}), nil
	})
	var e *Error
	if err == nil && errors.As(l.lastErr, &e) {
		// the member is the stream: its failure is the archive's
		return &Error{Format: l.format, Kind: e.Kind, Err: e.Err}
	}
	return err
}

// walkTar gives the members of a tar stream. The standard library's tar
// errors are sticky (Next returns the same error forever), so the first
// one ends the archive.
func (l *level) walkTar(src io.Reader) error {
	tr := tar.NewReader(src)
	for {
		if err := l.w.ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		m := &Member{Size: h.Size, Packed: -1, ModTime: h.ModTime, Mode: h.FileInfo().Mode(), LinkTarget: h.Linkname, Encoding: "bytes"}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse: // Next reports the old TypeRegA as TypeReg (or TypeDir)
			m.Type = TypeFile
		case tar.TypeDir:
			m.Type, m.Size = TypeDir, 0
		case tar.TypeSymlink:
			m.Type, m.Size = TypeSymlink, 0
		case tar.TypeLink:
			m.Type, m.Size = TypeHardlink, 0
		default:
			m.Type, m.Size = TypeOther, 0
		}
		name := strings.TrimPrefix(h.Name, "./")
		if m.Type == TypeDir {
			name = strings.TrimSuffix(name, "/")
		}
		display, enc := decodeUnflagged(name)
		m.Encoding = enc
		var open func() (io.ReadCloser, error)
		if m.Type == TypeFile {
			open = func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }
		}
		if err := l.give(m, []byte(name), display, open); err != nil {
			return err
		}
	}
}

// fileMode keeps only what a member's mode can mean here.
func fileMode(m fs.FileMode) fs.FileMode { return m & (fs.ModeType | fs.ModePerm) }
