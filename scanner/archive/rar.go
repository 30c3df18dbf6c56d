package archive

import (
	"io"
	"io/fs"

	"github.com/nwaples/rardecode/v2"
)

// walkRar gives the members of a single-volume rar (versions 1.5 to 5),
// streamed once from start to end: solid archives are decoded in order.
// Names are Unicode by format in RAR 5 and decoded by the library in
// RAR 4.
func (l *level) walkRar(r io.ReaderAt, size int64) error {
	l.stream = &countingReader{r: io.NewSectionReader(r, 0, size), ctx: l.w.ctx}
	l.drain = true
	rr, err := rardecode.NewReader(l.stream, rardecode.MaxDictionarySize(MaxDictionary))
	if err != nil {
		return err
	}
	for {
		if err := l.w.ctx.Err(); err != nil {
			return err
		}
		h, err := rr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		m := &Member{
			Size: h.UnPackedSize, Packed: h.PackedSize, ModTime: h.ModificationTime,
			Mode: h.Mode(), Encrypted: h.Encrypted, LinkTarget: h.LinkTarget,
		}
		if h.UnKnownSize {
			m.Size = -1
		}
		switch {
		case h.IsDir:
			m.Type, m.Size = TypeDir, 0
		case h.LinkType == rardecode.LinkTypeHardLink || h.LinkType == rardecode.LinkTypeFileCopy:
			m.Type, m.Size = TypeHardlink, 0
		case h.LinkType != rardecode.LinkTypeNone || m.Mode&fs.ModeSymlink != 0:
			m.Type, m.Size = TypeSymlink, 0
		}
		name, enc := decodeUnflagged(h.Name)
		m.Encoding = enc
		open := func() (io.ReadCloser, error) { return io.NopCloser(rr), nil }
		if err := l.give(m, []byte(h.Name), name, open); err != nil {
			return err
		}
	}
}
