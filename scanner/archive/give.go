package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
)

// give hands one member to the WalkFunc: it counts it against the limits,
// opens its content (open is nil for members without any), wraps the
// reader in the guards, spools it to a temporary file when it is an
// archive to walk into, and walks that afterwards. A returned error ends
// the archive; a member's own failure is given to the WalkFunc (Err, or
// its reader's error) and counted.
func (l *level) give(m *Member, raw []byte, display string, open func() (io.ReadCloser, error)) error {
	w := l.w
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.members++
	if w.members > w.lim.Members {
		return &Error{Format: l.format, Kind: ErrTooManyMembers, Err: fmt.Errorf("more than %d", w.lim.Members)}
	}
	m.Format = l.format
	if m.Type == TypeDir {
		raw, display = bytes.TrimSuffix(raw, []byte("/")), strings.TrimSuffix(display, "/")
	}
	m.Path = append(slices.Clip(l.path), raw)
	m.Name = append(slices.Clip(l.names), display)
	m.Mode = fileMode(m.Mode)
	if m.Encrypted && m.Err == nil {
		m.Err = &Error{Format: l.format, Path: m.Path, Kind: ErrEncrypted}
	}
	if m.Type != TypeFile || m.Err != nil || open == nil {
		return w.call(m, nil)
	}
	rc, err := open()
	if err != nil {
		m.Err = classify(l.format, m.Path, err)
		if errors.Is(m.Err, ErrEncrypted) {
			m.Encrypted = true
			return w.call(m, nil)
		}
		if err := w.call(m, nil); err != nil {
			return err
		}
		return l.failed(m.Err)
	}
	mr := &memberReader{l: l, m: m, r: rc}
	if m.HasCRC && !l.checksCRC() {
		mr.crc = crc32.NewIEEE()
	}
	var content io.Reader = mr
	var sp *spool
	if l.depth > 0 && (m.Size < 0 || m.Size <= w.lim.Spool) {
		br := bufio.NewReaderSize(mr, sniffLen)
		head, _ := br.Peek(sniffLen)
		content = br
		if sniff(head) != "" {
			sp = newSpool(w.opt.TempDir, w.lim.Spool)
			content = io.TeeReader(br, sp)
		}
	}
	if sp != nil {
		defer sp.remove()
	}
	err = w.call(m, content)
	if err == nil && (l.drain || sp != nil) && mr.err == nil {
		_, _ = io.Copy(io.Discard, content)
	}
	closeErr := rc.Close()
	if err != nil {
		return err
	}
	if mr.err != nil {
		l.lastErr = mr.err
		if fatal(mr.err) {
			return mr.err
		}
		var e *Error
		if l.stream != nil && errors.As(mr.err, &e) && e.Kind == ErrTruncated {
			// a streamed archive that ends inside a member ends there
			return &Error{Format: l.format, Kind: ErrTruncated, Err: fmt.Errorf("in member %s: %w", raw, e.Err)}
		}
		if errors.Is(mr.err, ErrEncrypted) {
			return nil // listed, not read: not a failure
		}
		return l.failed(mr.err)
	}
	if closeErr != nil && l.format != SevenZip {
		return l.failed(classify(l.format, m.Path, closeErr))
	}
	if sp != nil {
		return l.nested(m, sp)
	}
	return nil
}

// checksCRC says whether the format's library verifies a member's
// checksum itself (zip and rar do; 7z's file reader does not).
func (l *level) checksCRC() bool { return l.format != SevenZip }

// failed counts a failed member and ends the archive past the limit.
func (l *level) failed(err error) error {
	l.failures++
	if l.failures > l.w.lim.Failures {
		return &Error{Format: l.format, Kind: ErrTooManyFailures,
			Err: fmt.Errorf("%d members failed, the last: %w", l.failures, err)}
	}
	return nil
}

// call runs the WalkFunc, marking its error and its panics as its own.
func (w *walker) call(m *Member, r io.Reader) (err error) {
	defer func() {
		if v := recover(); v != nil {
			panic(callbackPanic{v})
		}
	}()
	if err := w.fn(m, r); err != nil {
		return callbackError{err}
	}
	return nil
}

// nested walks a spooled member that is an archive. Its failure is given
// to the WalkFunc as a second call for the member, with Err and Archive
// set; only a spent budget, a cancellation or the WalkFunc's own error
// ends the archive that holds it.
func (l *level) nested(m *Member, sp *spool) error {
	if sp.over || sp.err != nil || sp.f == nil {
		return nil // too large to spool, or no room: a plain member
	}
	f, size := sp.f, sp.n
	format, _ := Detect(f, size)
	err := l.w.walk(f, size, string(m.Path[len(m.Path)-1]), l.depth-1, m.Path, m.Name)
	var ce callbackError
	if err == nil || errors.Is(err, ErrNotArchive) || errors.As(err, &ce) || l.w.ctx.Err() != nil ||
		errors.Is(err, ErrTooManyMembers) || errors.Is(err, ErrTooLarge) {
		if errors.Is(err, ErrNotArchive) {
			return nil
		}
		return err
	}
	again := *m
	again.Err, again.Archive = err, format
	return l.w.call(&again, nil)
}

// spool copies a nested archive to a temporary file, up to a limit; past
// it the copy is abandoned and the member stays a plain member.
type spool struct {
	dir   string
	limit int64
	f     *os.File
	n     int64
	over  bool
	err   error
}

func newSpool(dir string, limit int64) *spool { return &spool{dir: dir, limit: limit} }

// Write never fails, so that the WalkFunc's reads go on whatever happens
// to the copy.
func (s *spool) Write(p []byte) (int, error) {
	if s.over || s.err != nil {
		return len(p), nil
	}
	if s.n+int64(len(p)) > s.limit {
		s.over = true
		return len(p), nil
	}
	if s.f == nil {
		s.f, s.err = os.CreateTemp(s.dir, "indexer-archive-*")
		if s.err != nil {
			return len(p), nil
		}
		os.Remove(s.f.Name()) // freed with the descriptor, even after a crash
	}
	k, err := s.f.Write(p)
	s.n += int64(k)
	s.err = err
	return len(p), nil
}

func (s *spool) remove() {
	if s.f != nil {
		s.f.Close()
	}
}
