package scanner

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner/archive"
)

// archiveRead is what walking the members of an archive file found. Its
// members are recorded as the walk gives them (one archive of 100,000
// members is not held in memory); seen has a key of each (memberKey), for
// the deletions once the walk is done.
type archiveRead struct {
	format  archive.Format
	members int64
	seen    map[memberKey]struct{}
	err     error // the walk stopped early: the members given before are kept
	nested  error // walking into a nested archive failed
}

// memberKey stands for a member's display path in archiveRead.seen: 16
// bytes where the path (archive path and member name) took 50 to 200, for
// 100,000 members a dozen MiB less. Two maphash sums with seeds random to
// the process: no archive can be crafted to make two names collide, and
// by chance it takes about 2^64 names.
type memberKey [2]uint64

var memberSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func keyOf(display string) memberKey {
	return memberKey{maphash.String(memberSeeds[0], display), maphash.String(memberSeeds[1], display)}
}

// summary is the archive field of the archive file's own event.
func (a *archiveRead) summary() *events.Archive {
	s := &events.Archive{Format: string(a.format), Members: a.members}
	switch {
	case a.err != nil:
		s.Error = reason(a.err)
	case a.nested != nil:
		s.Error = a.nested.Error()
	}
	return s
}

func reason(err error) string {
	var ae *archive.Error
	if errors.As(err, &ae) {
		return ae.Reason()
	}
	return err.Error()
}

// gapMax is the widest stretch of an archive the walk skips (a zip's
// extra fields, a 7z's padding) that teeReaderAt reads itself to keep
// hashing the file in the same pass.
const gapMax = 1 << 20

// teeReaderAt gives an archive's bytes to the walk and hashes them as they
// go by: the walk of a streamed format (tar, compressed tars, rar) reads
// the file from start to end, and a zip's or 7z's members lie in order
// after their small headers, so the file is read once for its own hash
// and its members'. What the walk read out of order (a zip's central
// directory, a 7z's header) or never reached is hashed by finish.
type teeReaderAt struct {
	ctx  context.Context
	f    *os.File
	h    *asyncHasher
	read *atomic.Int64 // the scan's progress
	mu   sync.Mutex
	next int64 // bytes hashed so far, from offset 0
	disk int64 // bytes read from the file
}

func (t *teeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if off > t.next && off-t.next <= gapMax {
		if err := t.hashTo(off); err != nil {
			return 0, err
		}
	}
	n, err := t.f.ReadAt(p, off)
	t.count(n)
	if off <= t.next && off+int64(n) > t.next {
		t.h.Write(p[t.next-off : n])
		t.next = off + int64(n)
	}
	return n, err
}

func (t *teeReaderAt) count(n int) {
	t.disk += int64(n)
	t.read.Add(int64(n))
}

// hashTo reads and hashes the file from next up to end (or its end).
func (t *teeReaderAt) hashTo(end int64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for t.next < end {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		n, err := t.f.ReadAt(buf[:min(int64(len(buf)), end-t.next)], t.next)
		t.count(n)
		t.h.Write(buf[:n])
		t.next += int64(n)
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// finish hashes what the walk did not read in order, to the file's end,
// and returns the bytes hashed.
func (t *teeReaderAt) finish() (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.hashTo(1<<63 - 1)
	t.h.wait()
	return t.next, err
}

// asyncHasher hashes the archive file on a goroutine of its own while the
// walk decompresses and hashes its members: a tar's bytes are hashed twice
// (as the file and as its members), on two cores rather than one. Writes
// are copied into buffers of bufSize handed over a channel.
type asyncHasher struct {
	h    *hasher
	cur  []byte
	full chan []byte
	free chan []byte
	done chan struct{}
}

func newAsyncHasher(h *hasher) *asyncHasher {
	a := &asyncHasher{h: h, full: make(chan []byte, 3), free: make(chan []byte, 4), done: make(chan struct{})}
	for range 4 {
		a.free <- make([]byte, 0, bufSize)
	}
	a.cur = <-a.free
	go func() {
		defer close(a.done)
		for b := range a.full {
			a.h.Write(b)
			a.free <- b[:0]
		}
	}()
	return a
}

func (a *asyncHasher) Write(p []byte) {
	for len(p) > 0 {
		n := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur = a.cur[:len(a.cur)+n]
		p = p[n:]
		if len(a.cur) == cap(a.cur) {
			a.full <- a.cur
			a.cur = <-a.free
		}
	}
}

// wait hashes what is buffered and returns once every write is hashed.
// The asyncHasher is done: wait is called once.
func (a *asyncHasher) wait() {
	if len(a.cur) > 0 {
		a.full <- a.cur
	}
	close(a.full)
	<-a.done
}

// isArchive reports whether the open file f is an archive the scan walks.
func (w *walk) isArchive(f *os.File, size int64) bool {
	if !w.Archives {
		return false
	}
	_, err := archive.Detect(f, size)
	return err == nil || !errors.Is(err, archive.ErrNotArchive)
}

// hashArchive hashes the archive file f and walks its members in the same
// read, hashing each as it is decompressed and recording it against the
// scan state (recordMember). The outer file's read errors and the
// context's end are its error; an archive that fails to walk is not: its
// members up to the failure are kept, with the failure in ar.err.
func (w *walk) hashArchive(h *hasher, f *os.File, path string, size int64) (hashed, read int64, ar *archiveRead, err error) {
	t := &teeReaderAt{ctx: w.ctx, f: f, h: newAsyncHasher(h), read: &w.prog.BytesRead}
	ar = &archiveRead{seen: map[memberKey]struct{}{}}
	mh := newHasher(w.hashes)
	var mtime int64
	if st, err := statAt(int(f.Fd()), ""); err == nil {
		mtime = st.mtime
	}
	walkErr := archive.Walk(w.ctx, t, size, path, archive.Options{Depth: w.ArchiveDepth, TempDir: w.ArchiveTemp},
		func(m *archive.Member, r io.Reader) error {
			if ar.format == "" {
				ar.format = m.Format
			}
			display := path + events.MemberSep + m.Display()
			if m.Archive != "" { // walking into a nested archive failed
				w.logger.Warn("nested archive not read", "path", events.Path(display).String(), "err", m.Err)
				if ar.nested == nil {
					// named by its full path: the outer archive's error
					// is where it is seen (scans --problems)
					ar.nested = fmt.Errorf("%s: %s", events.Path(display), reason(m.Err))
				}
				return nil
			}
			if m.Type == archive.TypeDir || m.Type == archive.TypeOther {
				return nil
			}
			key := keyOf(display)
			if _, dup := ar.seen[key]; dup {
				return nil // a name given twice (tar appends): the first is recorded
			}
			ar.seen[key] = struct{}{}
			ar.members++
			f := memberFile(path, display, m, mtime)
			why := ""
			switch {
			case m.Encrypted:
				// listed with name and size, not hashed
			case m.Err != nil:
				why = reason(m.Err)
			case r != nil:
				mh.Reset()
				n, err := hashReader(mh, r)
				if err != nil {
					if w.ctx.Err() != nil {
						return w.ctx.Err()
					}
					why = reason(err)
					break
				}
				f.Size = n
				f.Hashes = mh.Sums()
			}
			w.recordMember(path, &f, why)
			return nil
		})
	switch {
	case w.ctx.Err() != nil:
		t.h.wait()
		return 0, t.disk, nil, w.ctx.Err()
	case errors.Is(walkErr, archive.ErrNotArchive):
		ar = nil // changed since Detect
	case walkErr != nil:
		var ae *archive.Error
		if !errors.As(walkErr, &ae) {
			t.h.wait()
			return 0, t.disk, nil, walkErr // the file's own read failed
		}
		ar.err = walkErr
	}
	if ar != nil && ar.format == "" {
		ar.format, _ = archive.Detect(f, size)
	}
	hashed, err = t.finish()
	return hashed, t.disk, ar, err
}

// memberFile is the event form of a member, hashes aside.
func memberFile(archivePath, display string, m *archive.Member, archiveMTime int64) events.File {
	raw := make([]events.Path, len(m.Path))
	for i, p := range m.Path {
		raw[i] = events.Path(p)
	}
	f := events.File{
		Path: events.Path(display), Size: max(m.Size, 0), Mode: uint32(m.Mode), MTime: archiveMTime,
		Archive: &events.Archive{Path: events.Path(archivePath), Member: raw, Format: string(m.Format),
			Encoding: m.Encoding, Encrypted: m.Encrypted},
	}
	if !m.ModTime.IsZero() {
		f.MTime = m.ModTime.UnixNano()
	}
	if m.Packed > 0 {
		f.Archive.Packed = m.Packed
	}
	if m.HasCRC {
		f.Archive.CRC32 = fmt.Sprintf("%08x", m.CRC32)
	}
	if m.Type == archive.TypeSymlink || m.Type == archive.TypeHardlink {
		f.Target = events.Path(m.LinkTarget)
	}
	return f
}

// recordMember records one member of the archive file at path as just
// read, against its entry in the scan state: FileScanned when new,
// FileChanged when changed, nothing when as recorded; FileUnreadable, with
// why, when it could not be read.
func (w *walk) recordMember(path string, f *events.File, why string) {
	if why != "" {
		w.prog.Unreadable.Add(1)
		w.record(&events.FileUnreadable{Path: f.Path, Error: why})
		return
	}
	old, known := w.state.Member(path, string(f.Path))
	switch {
	case !known:
		w.record(&events.FileScanned{File: *f})
	default:
		if reason, changed := memberChange(&old, f); changed {
			w.record(&events.FileChanged{File: *f, PrevSHA256: old.Hashes.SHA256, Reason: reason})
		}
	}
}

// membersGone records as deleted the members recorded under the archive
// file at path that the walk ar did not give: all of them when ar is nil
// (no longer an archive, or archives not read), none when the walk
// stopped early (what it did not reach is unknown, not gone).
func (w *walk) membersGone(path string, ar *archiveRead) {
	if ar != nil && ar.err != nil {
		return
	}
	type gone struct{ path, sha string }
	var list []gone
	if err := w.state.Members(path, func(p string, e *Entry) {
		if ar != nil {
			if _, ok := ar.seen[keyOf(p)]; ok {
				return
			}
		}
		list = append(list, gone{p, e.Hashes.SHA256})
	}); err != nil {
		w.logger.Warn("scan state", "archive", path, "err", err)
		return
	}
	for _, g := range list {
		w.record(&events.FileDeleted{Path: events.Path(g.path), SHA256: g.sha})
	}
}

// memberChange compares a member just read with its recorded entry, as
// changeReason does a file: the digests the scan did not compute this time
// are kept from the record (into f.Hashes).
func memberChange(old *Entry, f *events.File) (events.ChangeReason, bool) {
	if old.Hashes.SHA256 != f.Hashes.SHA256 || old.Size != f.Size || old.Target != string(f.Target) {
		return events.ReasonContent, true
	}
	f.Hashes = merge(f.Hashes, old.Hashes)
	switch {
	case old.MTime != f.MTime || old.Mode != f.Mode || old.Archive == nil ||
		old.Archive.CRC32 != f.Archive.CRC32 || old.Archive.Encrypted != f.Archive.Encrypted ||
		old.Archive.Format != f.Archive.Format || old.Archive.Encoding != f.Archive.Encoding:
		return events.ReasonMetadata, true
	case f.Hashes != old.Hashes:
		return events.ReasonHashes, true
	}
	return "", false
}

// carryMembers records the members recorded under the archive file at
// from as members of the file at to, without reading it: FileMoved when
// the archive moved, FileScanned when to is a new hard link of it.
func (w *walk) carryMembers(from, to string, moved bool) {
	type rec struct {
		path string
		e    Entry
	}
	var recs []rec
	if err := w.state.Members(from, func(p string, e *Entry) { recs = append(recs, rec{p, *e}) }); err != nil {
		w.logger.Warn("scan state", "archive", from, "err", err)
		return
	}
	for _, r := range recs {
		if !strings.HasPrefix(r.path, from+events.MemberSep) || r.e.Archive == nil {
			continue
		}
		a := *r.e.Archive
		a.Path = events.Path(to)
		f := events.File{Path: events.Path(to + r.path[len(from):]), Size: r.e.Size, Mode: r.e.Mode,
			MTime: r.e.MTime, Target: events.Path(r.e.Target), Hashes: r.e.Hashes, Archive: &a}
		if moved {
			w.record(&events.FileMoved{From: events.Path(r.path), File: f})
		} else {
			w.record(&events.FileScanned{File: f})
		}
	}
}

// deleteMembers records as deleted every member recorded under the
// archive file at path, which is gone.
func (w *walk) deleteMembers(path string) {
	w.membersGone(path, nil)
}

// membersLeave records the members of the archive file at path as leaving
// the view with it, for reason (events.DeletedExcluded or DeletedPruned).
func (w *walk) membersLeave(path, reason string) {
	var list []events.FileDeleted
	if err := w.state.Members(path, func(p string, e *Entry) {
		list = append(list, events.FileDeleted{Path: events.Path(p), SHA256: e.Hashes.SHA256, Reason: reason})
	}); err != nil {
		w.logger.Warn("scan state", "archive", path, "err", err)
		return
	}
	for i := range list {
		w.record(&list[i])
	}
}
