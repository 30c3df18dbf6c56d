package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"

	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// Sink receives a scan's events. Append is called from one goroutine at a
// time, in the order the scan decides; Flush returns once every appended
// event is durably stored. *store.Appender is a Sink.
type Sink interface {
	Append(ctx context.Context, e events.Event) error
	Flush(ctx context.Context) error
}

// Scanner turns a file tree into events. Set the fields, then call Scan for
// each root; a Scanner runs one Scan at a time.
type Scanner struct {
	Machine       string
	Hashes        []string // default DefaultHashes
	Exclude       []string // gitignore-style patterns
	OneFileSystem bool     // do not enter directories on other devices
	Verify        bool     // re-read every file; report content changed under unchanged metadata
	Workers       int      // files read at once; default 4 per core, so small-file I/O overlaps
	State         State    // the machine's scan state; nil means never scanned
	Sink          Sink
	Logger        *slog.Logger
	// Progress, when set, is updated while the scan runs.
	Progress *Progress
}

// Progress is a running scan's counters, safe to read at any time.
type Progress struct {
	Dirs       atomic.Int64 // directories listed
	Files      atomic.Int64 // files seen
	ToRead     atomic.Int64 // files queued for reading
	BytesToRd  atomic.Int64 // their bytes
	Read       atomic.Int64 // files read
	BytesRead  atomic.Int64
	Unreadable atomic.Int64
	WalkDone   atomic.Bool // the walk finished: ToRead and BytesToRd are totals
}

// Result is the outcome of one Scan.
type Result struct {
	Scan     ulid.ULID
	Root     string
	Counts   events.ScanCounts
	Skipped  int64 // FIFOs, sockets and devices: never opened, not indexed
	Complete bool
	Duration time.Duration
}

// ErrNotDirectory is returned by Scan when the root is not a directory.
var ErrNotDirectory = errors.New("not a directory")

// Scan walks root and publishes what changed since the machine's scan state:
// ScanStarted, then file events, then ScanCompleted. It returns the counts
// and an error only for what stops the scan (root missing, the sink
// failing, ctx ending); unreadable paths are counted, not errors. When ctx
// ends the scan stops promptly, deletes nothing, and still records an
// incomplete ScanCompleted.
func (s *Scanner) Scan(ctx context.Context, root string) (Result, error) {
	start := time.Now()
	abs, err := filepath.Abs(root)
	if err != nil {
		return Result{}, fmt.Errorf("scan %s: %w", root, err)
	}
	// The root alone may be a symbolic link, or lie under one (a
	// symlinked home, or the working directory reached through one): the
	// scan records the real path, so two roots that reach the same files
	// index them once.
	given := abs
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return Result{}, fmt.Errorf("scan: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Result{}, fmt.Errorf("scan: %w", err)
	}
	if !fi.IsDir() {
		return Result{}, fmt.Errorf("scan %s: %w", abs, ErrNotDirectory)
	}
	if abs != given && s.Logger != nil {
		s.Logger.Info("scanning the real path of a root reached through a symbolic link", "root", given, "real", abs)
	}
	if err := events.ValidateMachine(s.Machine); err != nil {
		return Result{}, err
	}
	match, err := newMatcher(abs, s.Exclude)
	if err != nil {
		return Result{}, fmt.Errorf("scan %s: %w", abs, err)
	}
	alias := ""
	if given != abs {
		alias = given
	}
	w := &walk{
		Scanner: s, ctx: ctx, root: abs, alias: alias, match: match,
		scan:    events.NewID(),
		hashes:  s.Hashes,
		state:   s.State,
		prog:    s.Progress,
		visited: map[string]bool{},
		dirInos: map[[2]uint64]bool{},
		partial: map[string]bool{},
		gone:    map[string]bool{},
		moved:   map[string]bool{},
		links:   map[[2]uint64]*linkRead{},
		jobs:    make(chan fileJob, 1<<16), // the walk runs ahead: the total, and an ETA, are known early
		out:     make(chan events.Payload, 4096),
		logger:  s.Logger,
	}
	if w.hashes == nil {
		w.hashes = DefaultHashes
	}
	if w.state == nil {
		w.state = emptyState{}
	}
	if w.prog == nil {
		w.prog = &Progress{}
	}
	if w.logger == nil {
		w.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.OneFileSystem {
		if st, err := statAt(unix.AT_FDCWD, abs); err == nil {
			w.rootDev = st.dev
		}
	}
	res, err := w.run(start)
	res.Duration = time.Since(start)
	return res, err
}

// walk is one Scan's working state.
type walk struct {
	*Scanner
	ctx     context.Context
	root    string
	alias   string // the root as given, when it went through a symbolic link
	rootDev uint64
	match   *matcher
	scan    ulid.ULID
	hashes  []string
	state   State
	prog    *Progress
	logger  *slog.Logger

	mu      sync.Mutex
	visited map[string]bool    // directories listed
	dirInos map[[2]uint64]bool // device and inode of directories entered: no loops
	partial map[string]bool    // directories not read completely (unreadable, excluded, other device)
	gone    map[string]bool    // recorded files missing from complete directories
	moved   map[string]bool    // recorded paths that moved elsewhere in this scan
	links   map[[2]uint64]*linkRead
	counts  events.ScanCounts
	skipped int64

	jobs chan fileJob
	out  chan events.Payload
}

// fileJob is a regular file to read.
type fileJob struct {
	path string
	st   stat
	prev *Entry // recorded state; nil for a new path
	// movedFrom is a gone recorded path with the new path's inode, size
	// and mtime, when birth times cannot tell whether the inode is the
	// same file or a reused one: the read decides (see regular).
	movedFrom string
	movedRec  *Entry
}

// linkRead shares one read among the hard links of an inode.
type linkRead struct {
	done   chan struct{}
	st     stat
	hashes events.Hashes
	err    error
}

func (w *walk) run(start time.Time) (Result, error) {
	res := Result{Scan: w.scan, Root: w.root}
	started := &events.ScanStarted{Root: events.Path(w.root), Options: events.ScanOptions{
		Hashes: w.hashes, Exclude: w.Exclude, OneFileSystem: w.OneFileSystem, Verify: w.Verify,
	}}
	err := w.Sink.Append(w.ctx, w.event(started))
	if err == nil {
		err = w.Sink.Flush(w.ctx)
	}
	if err != nil && w.ctx.Err() == nil {
		return res, err // the log refused the scan: there is nothing to close
	}
	// Interrupted while ScanStarted was in flight: it may be stored, so go
	// on; the walk stops at once and the scan is closed as incomplete.

	// One goroutine appends; the walk and the readers produce.
	ctx, cancel := context.WithCancelCause(w.ctx)
	defer cancel(nil)
	w.ctx = ctx
	var sinkErr error
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for p := range w.out {
			if sinkErr != nil {
				continue
			}
			if err := w.Sink.Append(context.WithoutCancel(ctx), w.event(p)); err != nil {
				sinkErr = err
				cancel(err)
			}
		}
	}()

	workers := w.Workers
	if workers <= 0 {
		workers = 4 * runtime.GOMAXPROCS(0)
	}
	var readers sync.WaitGroup
	for range workers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for j := range w.jobs {
				w.read(j)
			}
		}()
	}
	w.walkTree(max(2, workers))
	w.prog.WalkDone.Store(true)
	close(w.jobs)
	readers.Wait()

	complete := ctx.Err() == nil
	if complete {
		w.findVanishedDirs()
		w.aliasGone()
		w.emitDeletions()
	}
	close(w.out)
	<-emitted

	// Whatever happened, what was appended is flushed and the scan is
	// closed; an interrupted scan gets a short, bounded flush.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if complete && sinkErr == nil {
		fctx = context.WithoutCancel(ctx)
	}
	flushErr := w.Sink.Flush(fctx)
	res.Counts, res.Skipped = w.counts, w.skipped
	res.Complete = complete && sinkErr == nil && flushErr == nil
	if sinkErr == nil && flushErr == nil {
		done := &events.ScanCompleted{Root: events.Path(w.root), Complete: res.Complete, Counts: w.counts,
			DurationNS: int64(time.Since(start))}
		if err := w.Sink.Append(fctx, w.event(done)); err == nil {
			flushErr = w.Sink.Flush(fctx)
		} else {
			flushErr = err
		}
	}
	switch {
	case sinkErr != nil:
		return res, sinkErr
	case flushErr != nil:
		return res, flushErr
	case !complete:
		return res, context.Cause(ctx)
	}
	return res, nil
}

func (w *walk) event(p events.Payload) events.Event {
	return events.New(w.Machine, w.scan, time.Now(), p)
}

func (w *walk) emit(p events.Payload) {
	w.out <- p
}

func (w *walk) unreadable(path string, err error, dir bool) {
	w.mu.Lock()
	w.counts.Unreadable++
	w.mu.Unlock()
	w.prog.Unreadable.Add(1)
	w.logger.Warn("unreadable", "path", events.Path(path).String(), "err", err)
	w.emit(&events.FileUnreadable{Path: events.Path(path), Error: errText(err), Dir: dir})
}

// errText is an error's message without the path the event already has.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// walkTree lists directories with n goroutines, depth first, until the tree
// is done or the context ends.
func (w *walk) walkTree(n int) {
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		stack   = []string{w.root}
		pending = 1 // directories queued or being listed
	)
	stop := context.AfterFunc(w.ctx, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	defer stop()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(stack) == 0 && pending > 0 && w.ctx.Err() == nil {
					cond.Wait()
				}
				if len(stack) == 0 || w.ctx.Err() != nil {
					mu.Unlock()
					return
				}
				dir := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				mu.Unlock()

				subdirs := w.listDir(dir)

				mu.Lock()
				stack = append(stack, subdirs...)
				pending += len(subdirs) - 1
				if pending == 0 || len(subdirs) > 0 {
					cond.Broadcast()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// listDir reads one directory: compares its files with the scan state,
// queues what must be read, notes what is gone, and returns the
// subdirectories to enter.
func (w *walk) listDir(dir string) []string {
	if w.ctx.Err() != nil {
		return nil
	}
	fd, err := openPath(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		w.markPartial(dir)
		if err != unix.ENOENT {
			w.unreadable(dir, &os.PathError{Op: "open", Path: dir, Err: err}, true)
		}
		return nil
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	complete := err == nil
	if err != nil {
		w.markPartial(dir)
		w.unreadable(dir, err, true)
	}
	w.prog.Dirs.Add(1)
	w.mu.Lock()
	w.visited[dir] = true
	w.mu.Unlock()

	// The recorded files of dir in name order, merged below with the
	// listing sorted the same way (bytes), so no maps are needed.
	var known []namedEntry
	if err := w.state.Dir(dir, func(name string, e *Entry) { known = append(known, namedEntry{name, *e}) }); err != nil {
		w.logger.Warn("scan state", "dir", dir, "err", err)
		complete = false // without the state we cannot tell what is gone
		w.markPartial(dir)
	}
	sort.Strings(names) // stable event order, and a depth-first walk in name order
	if dir != w.root {
		if _, ok := slices.BinarySearch(names, IgnoreFile); ok {
			w.readIgnore(fd, dir)
		}
	}
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	var gone []string // recorded names that are no longer files here
	var subdirs []string
	var seen int64
	k := 0
	for _, name := range names {
		if w.ctx.Err() != nil {
			return nil
		}
		for k < len(known) && known[k].name < name {
			gone = append(gone, known[k].name)
			k++
		}
		var prev *Entry
		if k < len(known) && known[k].name == name {
			prev = &known[k].e
			k++
		}
		sub, present, file := w.entry(fd, prefix+name, name, prev)
		if file {
			seen++
		}
		if sub != "" {
			subdirs = append(subdirs, sub)
		}
		if !present && prev != nil {
			gone = append(gone, name)
		}
	}
	for ; k < len(known); k++ {
		gone = append(gone, known[k].name)
	}
	// Counted once per directory: per file, eight walkers would contend.
	w.prog.Files.Add(seen)
	w.mu.Lock()
	w.counts.Seen += seen
	if complete {
		for _, name := range gone {
			w.gone[prefix+name] = true
		}
	}
	w.mu.Unlock()
	// Enter subdirectories in name order: the stack pops the last first.
	for i, j := 0, len(subdirs)-1; i < j; i, j = i+1, j-1 {
		subdirs[i], subdirs[j] = subdirs[j], subdirs[i]
	}
	return subdirs
}

// rel returns path relative to the root, "/" separated, as the ignore
// patterns see it.
func (w *walk) rel(path string) string {
	if w.root == "/" {
		return path[1:]
	}
	return path[len(w.root)+1:]
}

// readIgnore adds the patterns of dir's own IgnoreFile, for the paths
// below dir, before any of them is looked at. A pattern that does not parse
// is left out with a warning: it can only let more in, never lose a file.
func (w *walk) readIgnore(dirfd int, dir string) {
	path := dir + "/" + IgnoreFile
	f, err := openIgnore(dirfd, IgnoreFile, path)
	if err != nil {
		w.logger.Warn("ignore file not read", "err", err)
		return
	}
	defer f.Close()
	for _, err := range w.match.addFile(f, path, w.rel(dir)+"/") {
		w.logger.Warn("ignore file: line left out", "err", err)
	}
}

// namedEntry is a recorded file of a directory.
type namedEntry struct {
	name string
	e    Entry
}

// entry handles one name of a directory listing: it returns the path of a
// subdirectory to enter, whether a file is still present there (a recorded
// file that is not is gone; something unreadable counts as present, so it
// is never deleted), and whether it is a file the scan counts as seen.
func (w *walk) entry(dirfd int, path, name string, prev *Entry) (subdir string, present, seen bool) {
	st, err := statAt(dirfd, name)
	if err != nil {
		if err == unix.ENOENT {
			return "", false, false // vanished while listing: as if never there
		}
		w.unreadable(path, &os.PathError{Op: "stat", Path: path, Err: err}, false)
		return "", true, false
	}
	rel := w.rel(path)
	switch {
	case st.isDir():
		if w.match.excluded(rel, true) || w.OneFileSystem && st.dev != w.rootDev {
			w.markPartial(path)
			return "", false, false
		}
		key := [2]uint64{st.dev, st.ino}
		w.mu.Lock()
		loop := w.dirInos[key]
		w.dirInos[key] = true
		w.mu.Unlock()
		if loop {
			w.markPartial(path) // a bind mount or similar loop: never entered twice
			return "", false, false
		}
		return path, false, false
	case st.isRegular(), st.isSymlink():
		if w.match.excluded(rel, false) {
			return "", true, false
		}
		if st.isRegular() {
			w.regular(path, st, prev)
		} else {
			w.symlink(dirfd, path, name, st, prev)
		}
		return "", true, true
	}
	// FIFOs, sockets and devices are never opened and not indexed; a
	// recorded file replaced by one is gone.
	w.mu.Lock()
	w.skipped++
	w.mu.Unlock()
	return "", false, false
}

func (w *walk) markPartial(dir string) {
	w.mu.Lock()
	w.partial[dir] = true
	w.mu.Unlock()
}

func (w *walk) count(f func(*events.ScanCounts)) {
	w.mu.Lock()
	f(&w.counts)
	w.mu.Unlock()
}

// regular decides what to do with a regular file seen in the walk.
func (w *walk) regular(path string, st stat, prev *Entry) {
	if prev != nil {
		if unchanged(prev, st) && !w.Verify {
			return
		}
		e := *prev
		w.queue(fileJob{path: path, st: st, prev: &e})
		return
	}
	// A new path: the same inode, size and mtime as a recorded path that is
	// gone is a move, and one whose recorded path is still there a new hard
	// link; neither is read again. A file system reuses a deleted file's
	// inode at once, so a move also needs the same birth time: a new file
	// in a reused inode (one restored with its old mtime) has a new one.
	// Where either birth time is unknown, the file is read, and it is a
	// move only if its content is the recorded one.
	if from, e, ok := w.state.Inode(st.dev, st.ino); ok && from != path && e.Size == st.size && e.MTime == st.mtime && e.Target == "" && !w.Verify {
		if now, err := statPath(from); err != nil || now.ino != st.ino || now.dev != st.dev {
			switch {
			case e.BTime == 0 || st.btime == 0:
				w.queue(fileJob{path: path, st: st, movedFrom: from, movedRec: &e})
				return
			case e.BTime != st.btime:
				w.queue(fileJob{path: path, st: st}) // a reused inode: a new file
				return
			}
			if w.claimMove(from) {
				f := st.file(path)
				f.Hashes = e.Hashes
				w.count(func(c *events.ScanCounts) { c.Moved++ })
				w.emit(&events.FileMoved{From: events.Path(from), File: f})
				return
			}
		}
		f := st.file(path)
		f.Hashes = e.Hashes
		w.count(func(c *events.ScanCounts) { c.Added++ })
		w.emit(&events.FileScanned{File: f})
		return
	}
	w.queue(fileJob{path: path, st: st})
}

// claimMove records that the recorded path from moved in this scan, so it
// is not deleted; false if another new path claimed it first.
func (w *walk) claimMove(from string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.moved[from] {
		return false
	}
	w.moved[from] = true
	delete(w.gone, from)
	return true
}

func (w *walk) queue(j fileJob) {
	w.prog.ToRead.Add(1)
	w.prog.BytesToRd.Add(j.st.size)
	select {
	case w.jobs <- j:
	case <-w.ctx.Done():
	}
}

func (w *walk) symlink(dirfd int, path, name string, st stat, prev *Entry) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		if err != unix.ENOENT {
			w.unreadable(path, &os.PathError{Op: "readlink", Path: path, Err: err}, false)
		}
		return
	}
	target := string(buf[:n])
	f := st.file(path)
	f.Target = events.Path(target)
	switch {
	case prev == nil:
		w.count(func(c *events.ScanCounts) { c.Added++ })
		w.emit(&events.FileScanned{File: f})
	case prev.Target != target:
		w.count(func(c *events.ScanCounts) { c.Changed++ })
		w.emit(&events.FileChanged{File: f, Reason: events.ReasonContent})
	case !unchanged(prev, st):
		w.count(func(c *events.ScanCounts) { c.Changed++ })
		w.emit(&events.FileChanged{File: f, Reason: events.ReasonMetadata})
	}
}

// read hashes one file and emits what it found.
func (w *walk) read(j fileJob) {
	if w.ctx.Err() != nil {
		return
	}
	st, hashes, err := w.readShared(j)
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
	if j.movedFrom != "" && st.ino == j.st.ino && st.dev == j.st.dev &&
		hashes.SHA256 == j.movedRec.Hashes.SHA256 && w.claimMove(j.movedFrom) {
		w.count(func(c *events.ScanCounts) { c.Moved++ })
		w.emit(&events.FileMoved{From: events.Path(j.movedFrom), File: f})
		return
	}
	if j.prev == nil {
		w.count(func(c *events.ScanCounts) { c.Added++ })
		w.emit(&events.FileScanned{File: f})
		return
	}
	p := j.prev
	if full, ok := w.state.Get(j.path); ok {
		p = &full // Dir gave the metadata; the hashes are needed now
	}
	var reason events.ChangeReason
	switch {
	case hashes.SHA256 != p.Hashes.SHA256 && unchanged(p, st):
		reason = events.ReasonBitRot // only --verify reads an unchanged file
	case hashes.SHA256 != p.Hashes.SHA256:
		reason = events.ReasonContent
	case !unchanged(p, st) || p.Mode != uint32(st.fileMode()) || p.Target != "":
		reason = events.ReasonMetadata
	default:
		return // --verify read it again and found it as recorded
	}
	w.count(func(c *events.ScanCounts) { c.Changed++ })
	w.emit(&events.FileChanged{File: f, PrevSHA256: p.Hashes.SHA256, Reason: reason})
}

// readShared reads j, once per inode when the file has hard links.
func (w *walk) readShared(j fileJob) (stat, events.Hashes, error) {
	if j.st.nlink <= 1 {
		return w.readFile(j.path)
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
		l.st, l.hashes, l.err = w.readFile(j.path)
		close(l.done)
		return l.st, l.hashes, l.err
	}
	select {
	case <-l.done:
	case <-w.ctx.Done():
		return stat{}, events.Hashes{}, w.ctx.Err()
	}
	if l.err != nil || l.st.size != j.st.size || l.st.mtime != j.st.mtime {
		return w.readFile(j.path) // the other link failed or the inode changed since
	}
	st, err := statPath(j.path)
	if err != nil {
		return stat{}, events.Hashes{}, err
	}
	return st, l.hashes, nil
}

// ErrChangedWhileReading is recorded (as a FileUnreadable) for a file whose
// size or times changed on every attempt to read it: its hash would be of
// mixed content, so none is recorded.
var ErrChangedWhileReading = errors.New("file changed while being read")

// readFile hashes the file at path. It checks the file's size and times
// before and after reading and tries again, up to three times in all, when
// they differ, so no hash of mixed content is ever returned.
func (w *walk) readFile(path string) (stat, events.Hashes, error) {
	h := newHasher(w.hashes)
	for attempt := 0; attempt < 3; attempt++ {
		// O_NONBLOCK: if a FIFO took the file's place since the walk, open
		// does not wait for a writer.
		fd, err := openPath(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
		if err != nil {
			return stat{}, events.Hashes{}, &os.PathError{Op: "open", Path: path, Err: err}
		}
		f := os.NewFile(uintptr(fd), path)
		before, err := statAt(fd, "")
		if err != nil {
			f.Close()
			return stat{}, events.Hashes{}, &os.PathError{Op: "stat", Path: path, Err: err}
		}
		if !before.isRegular() {
			f.Close()
			return stat{}, events.Hashes{}, fmt.Errorf("%s is no longer a regular file", path)
		}
		h.Reset()
		n, read, err := hashFile(h, f, before.size, progressReader{w.ctx, f, &w.prog.BytesRead})
		if err != nil {
			f.Close()
			return stat{}, events.Hashes{}, err
		}
		after, err := statAt(fd, "")
		f.Close()
		if err != nil {
			return stat{}, events.Hashes{}, &os.PathError{Op: "stat", Path: path, Err: err}
		}
		if sameContentStat(before, after) && n == after.size {
			w.prog.Read.Add(1)
			w.count(func(c *events.ScanCounts) { c.Read++; c.BytesRead += read })
			return after, h.Sums(), nil
		}
	}
	return stat{}, events.Hashes{}, ErrChangedWhileReading
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

// findVanishedDirs notes as gone the files of recorded directories that the
// walk did not find: their nearest listed ancestor was read completely and
// no longer holds them. Directories under a partial one are left alone.
func (w *walk) findVanishedDirs() {
	var lost []string
	err := w.state.Dirs(w.root, func(dir string) error {
		if w.visited[dir] {
			return nil
		}
		for a := dir; ; {
			if w.partial[a] {
				return nil // excluded, unreadable, another device: unknown, not gone
			}
			if w.visited[a] {
				lost = append(lost, dir)
				return nil
			}
			if a == w.root || a == "/" {
				return nil
			}
			a = filepath.Dir(a)
		}
	})
	if err != nil {
		w.logger.Warn("scan state", "err", err)
		return
	}
	w.dirsGone(lost)
}

// dirsGone marks gone every recorded path in dirs that did not move.
func (w *walk) dirsGone(dirs []string) {
	for _, dir := range dirs {
		prefix := dir + "/"
		w.state.Dir(dir, func(name string, _ *Entry) {
			if !w.moved[prefix+name] {
				w.gone[prefix+name] = true
			}
		})
	}
}

// aliasGone marks gone every recorded path under the root as given, when
// the scan went to its real path: an earlier scan recorded the files under
// the name it was given (before roots were resolved), and this scan has
// recorded them again under their real paths (a recorded path still there
// with the inode of a new one is taken as its hard link: not read again).
func (w *walk) aliasGone() {
	if w.alias == "" {
		return
	}
	var dirs []string
	if err := w.state.Dirs(w.alias, func(dir string) error { dirs = append(dirs, dir); return nil }); err != nil {
		w.logger.Warn("scan state", "err", err)
		return
	}
	w.dirsGone(dirs)
}

// emitDeletions records every gone path that did not move, in path order.
func (w *walk) emitDeletions() {
	paths := make([]string, 0, len(w.gone))
	for p := range w.gone {
		if !w.moved[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		w.counts.Deleted++
		e, _ := w.state.Get(p)
		w.emit(&events.FileDeleted{Path: events.Path(p), SHA256: e.Hashes.SHA256})
	}
}
