package archive

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"

	"github.com/bodgit/sevenzip"
	"github.com/stangelandcl/ppmd"
	"github.com/ulikunitz/xz/lzma"
)

// sevenzip's own LZMA, LZMA2 and PPMd coders allocate the dictionary the
// archive's coder properties name, up to 4 GiB, from a file of a few
// bytes; its zstd coder keeps the default 512 MiB window and background
// goroutines. These replace them, for the whole process, with the same
// decoders behind a cap (RegisterDecompressor overrides built-ins since
// sevenzip 1.6.1).
func init() {
	sevenzip.RegisterDecompressor([]byte{0x03, 0x01, 0x01}, sevenzip.Decompressor(newLZMA))
	sevenzip.RegisterDecompressor([]byte{0x21}, sevenzip.Decompressor(newLZMA2))
	sevenzip.RegisterDecompressor([]byte{0x03, 0x04, 0x01}, sevenzip.Decompressor(newPPMd))
	sevenzip.RegisterDecompressor([]byte{0x04, 0xf7, 0x11, 0x01}, sevenzip.Decompressor(newZstd7z))
}

// coder is a 7z decoder over its one input stream; Close closes both.
type coder struct {
	io.Reader
	in    io.Closer
	close func()
}

func (c *coder) Close() error {
	if c.close != nil {
		c.close()
	}
	return c.in.Close()
}

func oneInput(readers []io.ReadCloser) (io.ReadCloser, error) {
	if len(readers) != 1 {
		return nil, fmt.Errorf("7z coder: %d input streams, want 1", len(readers))
	}
	return readers[0], nil
}

func capDictionary(method string, dict uint64) error {
	if dict > MaxDictionary {
		return fmt.Errorf("%s %d bytes, cap %d: %w", method, dict, MaxDictionary, errDictionary)
	}
	return nil
}

// newLZMA decodes 7z's LZMA: properties are the lc/lp/pb byte and the
// dictionary size; the stream has no header of its own, so the classic
// 13-byte one is put in front.
func newLZMA(p []byte, size uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := oneInput(readers)
	if err != nil {
		return nil, err
	}
	if len(p) != 5 {
		return nil, fmt.Errorf("lzma: %d property bytes, want 5", len(p))
	}
	if err := capDictionary("lzma dictionary", uint64(binary.LittleEndian.Uint32(p[1:]))); err != nil {
		return nil, err
	}
	h := bytes.NewBuffer(append([]byte(nil), p...))
	_ = binary.Write(h, binary.LittleEndian, size)
	r, err := lzma.NewReader(io.MultiReader(h, in))
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	return &coder{Reader: r, in: in}, nil
}

// newLZMA2 decodes 7z's LZMA2, whose one property byte codes the
// dictionary size as in the reference Lzma2Dec.c.
func newLZMA2(p []byte, _ uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := oneInput(readers)
	if err != nil {
		return nil, err
	}
	if len(p) != 1 || p[0] > 40 {
		return nil, fmt.Errorf("lzma2: bad properties %x", p)
	}
	dict := uint64(0xffffffff)
	if p[0] < 40 {
		dict = uint64(2|p[0]&1) << (p[0]/2 + 11)
	}
	if err := capDictionary("lzma2 dictionary", dict); err != nil {
		return nil, err
	}
	cfg := lzma.Reader2Config{DictCap: int(dict)}
	if err := cfg.Verify(); err != nil {
		return nil, fmt.Errorf("lzma2: %w", err)
	}
	r, err := cfg.NewReader2(in)
	if err != nil {
		return nil, fmt.Errorf("lzma2: %w", err)
	}
	return &coder{Reader: r, in: in}, nil
}

// newPPMd decodes 7z's PPMd H: properties are the model order and its
// memory size, which is allocated up front.
func newPPMd(p []byte, size uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := oneInput(readers)
	if err != nil {
		return nil, err
	}
	if len(p) != 5 {
		return nil, fmt.Errorf("ppmd: %d property bytes, want 5", len(p))
	}
	mem := binary.LittleEndian.Uint32(p[1:])
	if err := capDictionary("ppmd memory", uint64(mem)); err != nil {
		return nil, err
	}
	if size > 1<<62 {
		return nil, fmt.Errorf("ppmd: size %d", size)
	}
	r, err := ppmd.NewH7zReader(in, int(p[0]), int(mem), int(size))
	if err != nil {
		return nil, fmt.Errorf("ppmd: %w", err)
	}
	return &coder{Reader: &r, in: in}, nil
}

// newZstd7z decodes 7z's zstd (the zstd fork's method id) with the capped,
// synchronous decoder.
func newZstd7z(_ []byte, _ uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := oneInput(readers)
	if err != nil {
		return nil, err
	}
	z, err := newZstd(in)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return &coder{Reader: z, in: in, close: z.Close}, nil
}

// walkSevenZip gives the members of a 7z in the archive's order. Members
// of a solid block share one decompressed stream: read in order and each
// read to its end (drain), the stream is decoded once.
func (l *level) walkSevenZip(r io.ReaderAt, size int64) error {
	w := l.w
	zr, err := sevenzip.NewReader(r, size)
	if err != nil {
		return err
	}
	l.drain = true
	if room := w.lim.Members - w.members; len(zr.File) > room {
		return &Error{Format: SevenZip, Kind: ErrTooManyMembers, Err: fmt.Errorf("%d members, limit %d", len(zr.File)+w.members, w.lim.Members)}
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize
	}
	if left := w.lim.TotalBytes - w.total; total > uint64(max(left, 0)) {
		return &Error{Format: SevenZip, Kind: ErrTooLarge, Err: fmt.Errorf("members declare %d bytes, the limit is %d", total, w.lim.TotalBytes)}
	}
	for _, f := range zr.File {
		m := &Member{
			Size: int64(f.UncompressedSize), Packed: -1, ModTime: f.Modified, Mode: f.Mode(),
			Encoding: "utf-16", CRC32: f.CRC32, HasCRC: f.CRC32 != 0 && f.UncompressedSize > 0,
		}
		switch {
		case m.Mode.IsDir():
			m.Type, m.Size = TypeDir, 0
		case m.Mode&fs.ModeSymlink != 0:
			m.Type = TypeSymlink
			m.LinkTarget = linkTarget(f.Open)
		case !m.Mode.IsRegular():
			m.Type = TypeOther
		}
		name, _ := decodeUnflagged(f.Name)
		if err := l.give(m, []byte(f.Name), name, f.Open); err != nil {
			return err
		}
	}
	return nil
}
