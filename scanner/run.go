package scanner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

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
	want    Digests // the set of hashes
	state   State
	prog    *Progress
	logger  *slog.Logger

	mu      sync.Mutex
	visited map[string]bool    // directories listed
	dirInos map[[2]uint64]bool // device and inode of directories entered: no loops
	partial map[string]bool    // directories not read completely (unreadable, excluded, other device)
	gone    map[string]uint64  // recorded files missing from complete directories, and their recorded device
	// For the mass-delete guard: the files recorded in the directories the
	// scan listed or found vanished, in all and by device, and the devices
	// of the directories it found.
	recorded int64
	recDev   map[uint64]int64
	seenDev  map[uint64]bool
	moved    map[string]bool // recorded paths that moved elsewhere in this scan
	links    map[[2]uint64]*linkRead
	// noRecords: the state recorded no file when the walk began.
	noRecords bool
	counts    events.ScanCounts
	skipped   int64
	tooBig    int64 // files larger than MaxFileSize, not read
	// changingFiles changed on every attempt to read them: recorded
	// without hashes.
	changingFiles []string
	// Left out: paths an exclude pattern matched, the mount points of
	// pruned file systems (and the types of the devices met), and what is
	// recorded there that leaves the
	// view: excluded files by path (their device), directories with the
	// reason.
	excluded    int64
	pruned      []Pruned
	pruner      Pruner
	leaving     map[string]uint64
	leavingDirs map[string]string
	left        int64
	rot         []Rot

	jobs chan *fileJob
	out  chan events.Payload
	// hashers are the readers' hashers, of the algorithms hashes, kept
	// for the next file rather than each digest's state made anew.
	hashers sync.Pool
}

// newWalk sets up the scan of the directory root (a real path), filling in
// the defaults of the Scanner's unset fields.
func (s *Scanner) newWalk(ctx context.Context, root, alias string, match *matcher) *walk {
	w := &walk{
		Scanner: s, ctx: ctx, root: root, alias: alias, match: match,
		scan:        events.NewID(),
		hashes:      s.Hashes,
		state:       s.State,
		prog:        s.Progress,
		visited:     map[string]bool{},
		dirInos:     map[[2]uint64]bool{},
		partial:     map[string]bool{},
		gone:        map[string]uint64{},
		recDev:      map[uint64]int64{},
		seenDev:     map[uint64]bool{},
		moved:       map[string]bool{},
		links:       map[[2]uint64]*linkRead{},
		leaving:     map[string]uint64{},
		leavingDirs: map[string]string{},
		// The walk runs ahead, so the total, and an ETA, are known early;
		// pointers, so the buffer is 512 KiB, not 7.5 MiB, until it fills.
		jobs:   make(chan *fileJob, 1<<16),
		out:    make(chan events.Payload, 4096),
		logger: s.Logger,
	}
	if w.hashes == nil {
		w.hashes = DefaultHashes
	}
	w.want = digestsNamed(w.hashes)
	w.hashers.New = func() any { return newHasher(w.hashes) }
	if w.state == nil {
		w.state = emptyState{}
	}
	// A first scan asks the state of no inode: each question is a read
	// transaction, 100,000 of them on tree S, and none finds a file
	// recorded before (the scan's own hard links share a read: linkRead).
	w.noRecords = w.state.Len() == 0
	if w.prog == nil {
		w.prog = &Progress{}
	}
	if w.logger == nil {
		w.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if st, err := statAt(unix.AT_FDCWD, root); err == nil {
		w.rootDev = st.dev
		w.seenDev[st.dev] = true
	}
	return w
}

// run is one scan from start to end: ScanStarted; then the walk and the
// readers produce file events for the one goroutine that appends them; then
// the deletions, if the walk finished; then ScanCompleted.
func (w *walk) run(start time.Time) (Result, error) {
	res := Result{Scan: w.scan, Root: w.root}
	if err := w.begin(); err != nil && w.ctx.Err() == nil {
		return res, err // the log refused the scan: there is nothing to close
	}
	// Interrupted while ScanStarted was in flight: it may be stored, so go
	// on; the walk stops at once and the scan is closed as incomplete.

	ctx, cancel := context.WithCancelCause(w.ctx)
	defer cancel(nil)
	w.ctx = ctx
	appended := w.appendAll(cancel)
	w.walkAndRead()
	walked := ctx.Err() == nil
	if walked {
		w.findVanishedDirs()
		w.aliasGone()
		res.MassDelete = w.emitDeletions()
		w.emitLeaving()
	}
	close(w.out)
	sinkErr := appended()

	res.Counts, res.Skipped, res.TooLarge = w.counts, w.skipped, w.tooBig
	res.Rot = w.rot
	res.Changing = w.changingFiles
	res.Excluded, res.Pruned, res.Left = w.excluded, w.pruned, w.left
	sort.Slice(res.Pruned, func(i, j int) bool { return res.Pruned[i].Path < res.Pruned[j].Path })
	sort.Strings(res.Changing)
	sort.Slice(res.Rot, func(i, j int) bool { return res.Rot[i].Path < res.Rot[j].Path })
	var flushErr error
	res.Complete, flushErr = w.end(start, walked, sinkErr)
	switch {
	case sinkErr != nil:
		return res, sinkErr
	case flushErr != nil:
		return res, flushErr
	case !walked:
		return res, context.Cause(ctx)
	}
	return res, nil
}

// begin appends ScanStarted and waits until it is stored, so no file event
// is stored before it.
func (w *walk) begin() error {
	started := &events.ScanStarted{Root: events.Path(w.root), Options: events.ScanOptions{
		Hashes: w.hashes, Exclude: w.Exclude, OneFileSystem: w.OneFileSystem, Verify: w.Verify,
	}}
	if err := w.Sink.Append(w.ctx, w.event(started)); err != nil {
		return err
	}
	return w.Sink.Flush(w.ctx)
}

// appendAll starts the one goroutine that appends what the walk and the
// readers emit. The first append that fails cancels the scan with its
// error; what follows is dropped. The returned function, called after out
// is closed, waits for the last append and returns that error.
func (w *walk) appendAll(cancel context.CancelCauseFunc) func() error {
	var sinkErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range w.out {
			if sinkErr != nil {
				continue
			}
			if err := w.Sink.Append(context.WithoutCancel(w.ctx), w.event(p)); err != nil {
				sinkErr = err
				cancel(err)
			}
		}
	}()
	return func() error { <-done; return sinkErr }
}

// walkAndRead lists the tree and reads the files it queues, Workers at a
// time, until both are done or the scan is stopped.
func (w *walk) walkAndRead() {
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
				w.read(*j)
			}
		}()
	}
	w.walkTree(max(2, workers))
	w.prog.WalkDone.Store(true)
	close(w.jobs)
	readers.Wait()
}

// end flushes what was appended and closes the scan with ScanCompleted,
// whatever happened: a scan that was stopped, or whose sink failed, gets a
// short, bounded flush, and no ScanCompleted if the sink failed. It returns
// whether the scan is complete: walked to the end and all of it stored.
func (w *walk) end(start time.Time, walked bool, sinkErr error) (bool, error) {
	ctx := context.WithoutCancel(w.ctx)
	if !walked || sinkErr != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if err := w.Sink.Flush(ctx); err != nil || sinkErr != nil {
		return false, err
	}
	done := &events.ScanCompleted{Root: events.Path(w.root), Complete: walked, Counts: w.counts,
		DurationNS: int64(time.Since(start))}
	if err := w.Sink.Append(ctx, w.event(done)); err != nil {
		return walked, err
	}
	return walked, w.Sink.Flush(ctx)
}

func (w *walk) event(p events.Payload) events.Event {
	return events.New(w.Machine, w.scan, time.Now(), p)
}

// record counts a file event in the scan's counts and emits it. Every file
// event goes through here, so the counts ScanCompleted carries are the
// events the scan emitted.
func (w *walk) record(p events.Payload) {
	w.mu.Lock()
	switch e := p.(type) {
	case *events.FileScanned:
		w.counts.Added++
	case *events.FileChanged:
		w.counts.Changed++
		if e.Reason == events.ReasonBitRot {
			w.rot = append(w.rot, Rot{Path: string(e.Path), Recorded: e.PrevSHA256, Read: e.Hashes.SHA256})
		}
	case *events.FileMoved:
		w.counts.Moved++
	case *events.FileDeleted:
		w.counts.Deleted++
	case *events.FileUnreadable:
		w.counts.Unreadable++
	}
	w.mu.Unlock()
	w.out <- p
}

// unreadable records a path the scan could not read: counted, logged and
// kept (an unreadable file is never taken for a deleted one).
func (w *walk) unreadable(path string, err error, dir bool) {
	w.prog.Unreadable.Add(1)
	w.logger.Warn("unreadable", "path", events.Path(path).String(), "err", err)
	w.record(&events.FileUnreadable{Path: events.Path(path), Error: errText(err), Dir: dir})
}

// errText is an error's message without the path the event already has.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
