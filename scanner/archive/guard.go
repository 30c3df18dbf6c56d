package archive

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
)

// countingReader reads the archive file itself: it counts the compressed
// bytes read (the denominator of a stream's ratio) and stops at once when
// the context is canceled, also while tar skips a member nobody read.
type countingReader struct {
	r   io.Reader
	ctx context.Context
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, canceled(err)
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func canceled(err error) error { return fmt.Errorf("%w: %w", errCanceled, err) }

// streamGuard reads a decompressed stream (a tar's, or a single-file
// stream's): it checks the context and the ratio of the bytes decompressed
// so far to the compressed bytes read, and turns a decoder's panic into
// an error.
type streamGuard struct {
	l   *level
	r   io.Reader
	n   int64
	err error
}

func (g *streamGuard) Read(p []byte) (n int, err error) {
	if g.err != nil {
		return 0, g.err
	}
	if err := g.l.w.ctx.Err(); err != nil {
		return 0, canceled(err)
	}
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, panicError(g.l.format, nil, v)
			g.err = err
		}
	}()
	n, err = g.r.Read(p)
	g.n += int64(n)
	lim := g.l.w.lim
	if g.n > lim.RatioMinSize && g.n > lim.Ratio*max(g.l.stream.n, 1) {
		g.err = &Error{Format: g.l.format, Kind: ErrBomb,
			Err: fmt.Errorf("%d bytes from %d compressed", g.n, g.l.stream.n)}
		return n, g.err
	}
	return n, err
}

// memberReader is the reader a WalkFunc gets: it counts the member's bytes
// against the archive's limits, checks the context on every read, verifies
// the recorded CRC32 where the library does not, and turns a decoder's
// panic into an error. It remembers its first error, so that the walk
// knows the member failed whatever the WalkFunc did with it.
type memberReader struct {
	l   *level
	m   *Member
	r   io.Reader
	n   int64
	crc hash.Hash32 // nil when the library checks, or nothing is recorded
	err error
}

func (r *memberReader) Read(p []byte) (n int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.l.w.ctx.Err(); err != nil {
		r.err = canceled(err)
		return 0, r.err
	}
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, panicError(r.l.format, r.m.Path, v)
			r.err = err
		}
	}()
	n, err = r.r.Read(p)
	if n > 0 {
		if r.crc != nil {
			r.crc.Write(p[:n])
		}
		r.n += int64(n)
		r.l.decompressed += int64(n)
		r.l.w.total += int64(n)
	}
	if e := r.check(); e != nil {
		r.err = e
		return n, e
	}
	if err == io.EOF && r.crc != nil && r.crc.Sum32() != r.m.CRC32 {
		err = fmt.Errorf("checksum %08x, recorded %08x", r.crc.Sum32(), r.m.CRC32)
	}
	if err != nil && err != io.EOF {
		r.err = classify(r.l.format, r.m.Path, err)
		return n, r.err
	}
	return n, err
}

// check applies the limits after a read.
func (r *memberReader) check() error {
	w, lim := r.l.w, r.l.w.lim
	switch {
	case w.total > lim.TotalBytes:
		return &Error{Format: r.l.format, Kind: ErrTooLarge,
			Err: fmt.Errorf("more than %d bytes decompressed", lim.TotalBytes)}
	case r.m.Packed >= 0 && r.n > lim.RatioMinSize && r.n > lim.Ratio*max(r.m.Packed, 1):
		return &Error{Format: r.l.format, Path: r.m.Path, Kind: ErrBomb,
			Err: fmt.Errorf("%d bytes from %d packed", r.n, r.m.Packed)}
	case r.l.format == SevenZip && r.l.decompressed > lim.RatioMinSize && r.l.decompressed > lim.Ratio*max(r.l.size, 1):
		return &Error{Format: r.l.format, Kind: ErrBomb,
			Err: fmt.Errorf("%d bytes from a %d-byte archive", r.l.decompressed, r.l.size)}
	}
	return nil
}

// fatal says whether a member's error ends its whole archive: a spent
// budget, a cancellation, a panicked decoder (its state is unknown), or a
// bomb that is the stream's rather than the member's.
func fatal(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true // canceled, or an I/O error of the file itself
	}
	return e.Path == nil || errors.Is(err, ErrPanic) || errors.Is(err, ErrTooLarge)
}
