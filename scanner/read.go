package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner/archive"
)

// fileJob is a regular file to read.
type fileJob struct {
	path string
	st   stat
	prev *Entry // recorded state; nil for a new path
	// movedFrom is a gone recorded path with the new path's inode, size
	// and mtime, when birth times cannot tell whether the inode is the
	// same file or a reused one: the read decides (see newPath and
	// readMove).
	movedFrom string
	movedRec  *Entry
}

// linkRead shares one read among the hard links of an inode.
type linkRead struct {
	done   chan struct{}
	st     stat
	hashes events.Hashes
	ar     *archiveRead
	err    error
}

// queue hands j to the readers; it gives up when the scan is stopped. A
// file larger than MaxFileSize is not read (tooLarge).
func (w *walk) queue(j fileJob) {
	if w.MaxFileSize > 0 && j.st.size > w.MaxFileSize {
		w.tooLarge(j)
		return
	}
	w.prog.ToRead.Add(1)
	w.prog.BytesToRd.Add(j.st.size)
	select {
	case w.jobs <- &j:
	case <-w.ctx.Done():
	}
}

// read hashes one file and records what it found: a move, a new file, or
// a change (compare.go).
func (w *walk) read(j fileJob) {
	if w.ctx.Err() != nil {
		return
	}
	st, hashes, ar, err := w.readShared(j)
	if errors.Is(err, ErrChangedWhileReading) && w.ctx.Err() == nil {
		w.changing(j, st)
		return
	}
	if err != nil {
		if w.ctx.Err() != nil {
			return
		}
		if errors.Is(err, unix.ENOENT) {
			return // vanished before we read it: the next scan records it gone
		}
		w.unreadable(j.path, err, false)
		return
	}
	f := st.file(j.path)
	f.Hashes = hashes
	if ar != nil {
		f.Archive = ar.summary()
	}
	if w.readMove(j, st, f) {
		w.carryMembers(j.movedFrom, j.path, true)
		return
	}
	if j.movedFrom != "" && w.Archives {
		// Read without its members in case it was a move; it is not.
		if st, hashes, ar, err = w.readFile(j.path, nil, true); err != nil {
			if w.ctx.Err() == nil && !errors.Is(err, unix.ENOENT) {
				w.unreadable(j.path, err, false)
			}
			return
		}
		f = st.file(j.path)
		f.Hashes = hashes
		if ar != nil {
			f.Archive = ar.summary()
		}
	}
	if j.prev == nil {
		w.record(&events.FileScanned{File: f})
		if ar != nil {
			w.membersGone(j.path, ar)
		}
		return
	}
	p := j.prev
	if full, ok := w.state.Get(j.path); ok {
		p = &full // Dir gave the metadata; the hashes are needed now
	}
	if reason, hashes, ok := changeReason(p, st, hashes); ok {
		f.Hashes = hashes
		w.record(&events.FileChanged{File: f, PrevSHA256: p.Hashes.SHA256, Reason: reason})
	}
	w.membersGone(j.path, ar)
}

// readShared reads j, once per inode when the file has hard links (an
// archive's members are named after its path: each link of an archive is
// read).
func (w *walk) readShared(j fileJob) (stat, events.Hashes, *archiveRead, error) {
	members := j.movedFrom == "" // a possible move is read for its hash alone (see read)
	if j.st.nlink <= 1 {
		return w.readFile(j.path, &j.st, members)
	}
	key := [2]uint64{j.st.dev, j.st.ino}
	w.mu.Lock()
	l, ok := w.links[key]
	if !ok {
		l = &linkRead{done: make(chan struct{})}
		w.links[key] = l
	}
	w.mu.Unlock()
	if !ok {
		l.st, l.hashes, l.ar, l.err = w.readFile(j.path, &j.st, members)
		close(l.done)
		return l.st, l.hashes, l.ar, l.err
	}
	select {
	case <-l.done:
	case <-w.ctx.Done():
		return stat{}, events.Hashes{}, nil, w.ctx.Err()
	}
	if l.err != nil || l.ar != nil || l.st.size != j.st.size || l.st.mtime != j.st.mtime {
		return w.readFile(j.path, &j.st, members) // the other link failed, the inode changed since, or it is an archive
	}
	st, err := statPath(j.path)
	if err != nil {
		return stat{}, events.Hashes{}, nil, err
	}
	return st, l.hashes, nil, nil
}

// ErrChangedWhileReading is returned by a read of a file whose size or
// times changed on every attempt to read it (a growing log): its hash
// would be of mixed content, so none is recorded. The file is recorded
// with its metadata, no hashes and File.Unhashed "changing" (changing),
// and read again by the next scan.
var ErrChangedWhileReading = errors.New("file changed while being read")

// errArchiveChanged is the archive error of an archive that changed while
// its members were read: they are recorded as read, and none is deleted.
var errArchiveChanged = errors.New("the archive changed while its members were read")

// readFile hashes the file at path. It checks the file's size and times
// before and after reading and tries again, up to three times in all, when
// they differ, so no hash of mixed content is ever returned. walked, when
// not nil, is the walk's stat of path, which stands for the first
// attempt's stat before reading (a system call less per file): a file
// replaced or changed since then differs after the read and is read
// again, with a stat of its own.
//
// With members, an archive (with Archives set) is hashed and walked in the
// same read, and its members recorded as they are read (recordMember); the
// returned archiveRead says what the walk saw. Only the first attempt
// walks: an archive that changed while it was read keeps the members of
// that read, and says so (errArchiveChanged).
func (w *walk) readFile(path string, walked *stat, members bool) (stat, events.Hashes, *archiveRead, error) {
	h := w.hashers.Get().(*hasher)
	defer w.hashers.Put(h)
	var ar *archiveRead
	var last stat
	var spent int64 // bytes read from disk by every attempt
	for attempt := 0; attempt < 3; attempt++ {
		// O_NONBLOCK: if a FIFO took the file's place since the walk, open
		// does not wait for a writer.
		fd, err := openPath(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
		if err != nil {
			return stat{}, events.Hashes{}, nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		f := &openFile{fd: fd, path: path}
		var before stat
		assumed := attempt == 0 && walked != nil && walked.isRegular()
		if assumed {
			before = *walked
		} else if before, err = statAt(fd, ""); err != nil {
			f.Close()
			return stat{}, events.Hashes{}, nil, &os.PathError{Op: "stat", Path: path, Err: err}
		}
		if !before.isRegular() {
			f.Close()
			return stat{}, events.Hashes{}, nil, fmt.Errorf("%s is no longer a regular file", path)
		}
		h.Reset()
		var n, read int64
		switch {
		case before.dense():
			n, read, ar, err = w.hashDense(h, f, path, before.size, attempt == 0 && members)
		case attempt == 0 && members && w.isArchive(f.File(), before.size):
			n, read, ar, err = w.hashArchive(h, f.File(), path, before.size)
		default:
			n, read, err = hashFile(h, f.File(), before.size, progressReader{w.ctx, f.File(), &w.prog.BytesRead})
		}
		if err != nil {
			// Read from something else than the walk saw (a FIFO put in
			// its place reads EAGAIN)? Then look again at what it is.
			changed := assumed && w.ctx.Err() == nil
			if changed {
				now, serr := statAt(fd, "")
				changed = serr != nil || !sameContentStat(before, now)
			}
			f.Close()
			if changed {
				continue
			}
			return stat{}, events.Hashes{}, nil, err
		}
		after, err := statAt(fd, "")
		f.Close()
		if err != nil {
			return stat{}, events.Hashes{}, nil, &os.PathError{Op: "stat", Path: path, Err: err}
		}
		last = after
		spent += read
		if sameContentStat(before, after) && n == after.size {
			w.prog.Read.Add(1)
			w.mu.Lock()
			w.counts.Read++
			w.counts.BytesRead += spent
			w.mu.Unlock()
			if attempt > 0 && ar != nil && ar.err == nil {
				ar.err = errArchiveChanged
			}
			return after, h.Sums(), ar, nil
		}
	}
	w.mu.Lock()
	w.counts.BytesRead += spent // read, if not hashed: the summary's rate counts them
	w.mu.Unlock()
	return last, events.Hashes{}, nil, ErrChangedWhileReading
}

// progressReader counts bytes as they are read, so progress moves within a
// large file, and ends the read when the scan is stopped, so Ctrl-C does not
// wait for the file's end.
type progressReader struct {
	ctx  context.Context
	r    io.Reader
	read *atomic.Int64
}

func (p progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.read.Add(int64(n))
	return n, err
}

// changing records a file that changed on every attempt to read it, with
// st, its metadata after the last attempt: no hashes, File.Unhashed
// "changing", a warning. Its record then lacks the digests a scan asks
// for, so the next scan reads it again. It is counted apart (Changing),
// not as unreadable: the file is there and indexed, only not hashed.
func (w *walk) changing(j fileJob, st stat) {
	w.mu.Lock()
	w.changingFiles = append(w.changingFiles, j.path)
	w.mu.Unlock()
	w.logger.Warn("not hashed: the file changed on every attempt to read it", "path", events.Path(j.path).String(), "size", st.size)
	f := st.file(j.path)
	f.Unhashed = events.UnhashedChanging
	if j.prev == nil {
		w.record(&events.FileScanned{File: f})
		return
	}
	p := *j.prev
	if full, ok := w.state.Get(j.path); ok {
		p = full
	}
	w.record(&events.FileChanged{File: f, PrevSHA256: p.Hashes.SHA256, Reason: events.ReasonContent})
}

// tooLarge records a file larger than MaxFileSize without reading it: its
// metadata, no hashes (a new path, or one whose metadata changed; a file
// recorded so before is left as it is), and counts and logs it as skipped,
// every scan, so the summary says why it has no hashes.
func (w *walk) tooLarge(j fileJob) {
	w.mu.Lock()
	w.tooBig++
	w.mu.Unlock()
	w.logger.Warn("not hashed: larger than the maximum file size", "path", events.Path(j.path).String(),
		"size", j.st.size, "max", w.MaxFileSize)
	f := j.st.file(j.path)
	f.Unhashed = events.UnhashedTooLarge
	switch {
	case j.prev == nil:
		w.record(&events.FileScanned{File: f})
	case !unchanged(j.prev, j.st) || j.prev.Mode != uint32(j.st.fileMode()):
		p := *j.prev
		if full, ok := w.state.Get(j.path); ok {
			p = full
		}
		w.record(&events.FileChanged{File: f, PrevSHA256: p.Hashes.SHA256, Reason: events.ReasonContent})
	}
}

// hashDense hashes the open file f of the given size, a dense one (no
// holes: stat.dense), as hashFile and hashArchive do, with fewer system
// calls: no search for holes, the archive check (with members) made on the
// first block read rather than a read of its own, and no read past size to
// find the end. A small file costs one read. The caller's stat after the
// read catches a file that changed meanwhile, as it does for hashFile: one
// that grew has another size or mtime, one that shrank returns less than
// size.
func (w *walk) hashDense(h *hasher, f *openFile, path string, size int64, members bool) (hashed, read int64, ar *archiveRead, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	r := progressReader{w.ctx, f, &w.prog.BytesRead}
	k, err := r.Read(buf[:min(int64(len(buf)), size)])
	if err != nil && err != io.EOF {
		return 0, int64(k), nil, err
	}
	if members && w.Archives && archive.MayBeArchive(buf[:k], size) {
		if _, derr := archive.Detect(headReaderAt{buf[:k], f}, size); derr == nil || !errors.Is(derr, archive.ErrNotArchive) {
			w.prog.BytesRead.Add(-int64(k)) // counted again as the archive is read
			hashed, read, ar, err = w.hashArchive(h, f.File(), path, size)
			return hashed, read + int64(k), ar, err
		}
	}
	h.Write(buf[:k])
	hashed = int64(k)
	for hashed < size && err == nil && k > 0 {
		k, err = r.Read(buf[:min(int64(len(buf)), size-hashed)])
		h.Write(buf[:k])
		hashed += int64(k)
	}
	if err == io.EOF {
		err = nil // shorter than it was: the caller sees the change
	}
	return hashed, hashed, nil, err
}

// headReaderAt reads from head, the file's first bytes already read, and
// from the file beyond them.
type headReaderAt struct {
	head []byte
	f    io.ReaderAt
}

func (r headReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= int64(len(r.head)) {
		return copy(p, r.head[off:]), nil
	}
	return r.f.ReadAt(p, off)
}

// openFile is a file open for reading by its descriptor, with an os.File
// made only for a reader that needs one (hashFile, an archive's walk):
// os.NewFile of a descriptor opened O_NONBLOCK asks the kernel twice
// whether it can be polled (fcntl, epoll_ctl) and sets a finalizer, for
// every file, which hashDense does without.
type openFile struct {
	fd   int
	path string
	f    *os.File
}

// File returns the os.File of the descriptor; Close closes it.
func (o *openFile) File() *os.File {
	if o.f == nil {
		o.f = os.NewFile(uintptr(o.fd), o.path)
	}
	return o.f
}

func (o *openFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(o.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: o.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// ReadAt reads len(p) bytes at off, or returns why not, as os.File.ReadAt.
func (o *openFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Pread(o.fd, p[n:], off+int64(n))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, &os.PathError{Op: "read", Path: o.path, Err: err}
		case k == 0:
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

// Close closes the descriptor, through its os.File if it has one.
func (o *openFile) Close() error {
	if o.f != nil {
		return o.f.Close()
	}
	return unix.Close(o.fd)
}
