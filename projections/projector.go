package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/indexer/indexer/store"
)

// ModelVersion is the version of the read models' layout. An index built
// by another version is rebuilt from the log on start.
const ModelVersion = 4

// Defaults for the batching of a Projector, chosen by measurement (see the
// benchmarks in bench_test.go and doc.go). Against 16,384 events per
// transaction, 12,288 lowers the peak heap at a million events by about 25
// MB for a few percent of throughput; 8,192 by about 50 MB for 10-13% of
// live projection's.
const (
	DefaultBatchSize        = 12288
	DefaultBatchWait        = 100 * time.Millisecond
	DefaultCommitGap        = 50 * time.Millisecond
	DefaultRebuildBatchSize = 12288
)

// errRestart asks Run to reopen its reader: the index file was swapped.
var errRestart = errors.New("index swapped")

// Projector folds the log into the read models of one index.db. Set the
// fields, then Open; Run follows the log until its context ends; Close
// closes the file after Run returned.
//
// One Projector writes its file; any number of goroutines may call View,
// Index, WaitFor and Status at the same time.
type Projector struct {
	// Log is the event log to follow.
	Log *store.Log
	// Path is the index file, usually DATA/index.db.
	Path string
	// Logger receives what the projector does; nil discards it.
	Logger *slog.Logger
	// BatchSize is the most events applied in one transaction when
	// following: DefaultBatchSize when 0.
	BatchSize int
	// BatchWait bounds how long a batch gathers events that trickle in
	// before it commits: DefaultBatchWait when 0. A batch also commits as
	// soon as it reaches the end of the log, at most every CommitGap.
	BatchWait time.Duration
	// CommitGap is the least time between two commits while events keep
	// arriving at the log's tail: DefaultCommitGap when 0, none when
	// negative. Each commit costs an fsync and the pages it rewrites, so
	// a few events per commit at a scan's pace would cost several times
	// the CPU of projecting them; an event after a quiet spell is still
	// committed at once.
	CommitGap time.Duration
	// RebuildBatchSize is the batch size of rebuilds, which commit without
	// fsync: DefaultRebuildBatchSize when 0.
	RebuildBatchSize int
	// Decoders is the number of goroutines decoding events: by default
	// one per CPU, at most 4.
	Decoders int
	// Observer, when set, is told of every batch Run commits (package
	// projections/metrics records them for Prometheus).
	Observer BatchObserver
	// DropPages unmaps the index file's pages from the process after each
	// commit (store.DB.DropPages): for a catch-up whose resident memory
	// matters more than reading pages again, as a standalone scan's.
	DropPages bool

	mu  sync.RWMutex // write-locked only to swap db during a rebuild
	db  *store.DB
	gen uint64 // incremented by every swap

	nmu       sync.Mutex
	applied   uint64        // the checkpoint: every event up to it is in the index
	changed   chan struct{} // closed and replaced when applied moves
	fatal     error         // why Run stopped for good
	stoppedAt uint64        // the event of a newer schema Run stopped before
	following bool          // Run is running
	rate      rateMeter
	commits   uint64 // transactions that advanced the checkpoint while following
	rebuilds  int
	rebuildOn bool
	rebuildAt uint64 // the rebuild's checkpoint while rebuildOn
	// stopFollow ends the follow in progress when a read finds the file
	// damaged (see damage.go).
	stopFollow context.CancelCauseFunc
	examined   atomic.Uint64 // rows read by queries (Index.Examined)
}

func (p *Projector) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Projector) batchSize() int   { return cmp0(p.BatchSize, DefaultBatchSize) }
func (p *Projector) rebuildSize() int { return cmp0(p.RebuildBatchSize, DefaultRebuildBatchSize) }
func (p *Projector) commitGap() time.Duration {
	switch {
	case p.CommitGap < 0:
		return 0
	case p.CommitGap == 0:
		return DefaultCommitGap
	}
	return p.CommitGap
}

func (p *Projector) batchWait() time.Duration {
	if p.BatchWait <= 0 {
		return DefaultBatchWait
	}
	return p.BatchWait
}
func (p *Projector) decoders() int {
	if p.Decoders > 0 {
		return p.Decoders
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

func cmp0(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Open opens or creates the index file. It does not look at the log: Run
// and CatchUp check the file against the stream first.
func (p *Projector) Open() error {
	if p.Log == nil || p.Path == "" {
		return fmt.Errorf("open projector: Log and Path must be set")
	}
	db := &store.DB{Path: p.Path, SyncFreelist: true, DropPages: p.DropPages} // opened at every standalone scan: no whole-file read at open
	if err := openOrMoveAside(db, p.logger()); err != nil {
		return fmt.Errorf("open projector: %w", err)
	}
	cp, err := db.Checkpoint()
	if err != nil {
		db.Close()
		return fmt.Errorf("open projector: %w", err)
	}
	p.db = db
	p.nmu.Lock()
	p.applied, p.changed = cp.Seq, make(chan struct{})
	p.nmu.Unlock()
	return nil
}

// Close closes the index file. Call it after Run has returned.
func (p *Projector) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db == nil {
		return nil
	}
	err := p.db.Close()
	p.db = nil
	return err
}

// View runs fn in a read-only transaction on the current index file. A
// rebuild's swap waits for running Views and briefly holds new ones. Once
// Run or CatchUp found the log replaced under the index, View returns that
// error (errors.Is ErrLogReplaced) until AcceptNewLog: the index no longer
// says what the log holds.
func (p *Projector) View(fn func(*store.Tx) error) error {
	p.nmu.Lock()
	fatal := p.fatal
	p.nmu.Unlock()
	if errors.Is(fatal, ErrLogReplaced) {
		return fatal
	}
	return p.view(fn)
}

// view is View whatever the log's state.
func (p *Projector) view(fn func(*store.Tx) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.db == nil {
		return store.ErrClosed
	}
	err := p.db.View(fn)
	p.noteCorrupt(err)
	return err
}

// Index returns the query interface over the projector's file, safe
// across rebuilds.
func (p *Projector) Index() *Index { return &Index{view: p.View, examined: &p.examined} }

// Checkpoint returns the sequence up to which every event is applied.
func (p *Projector) Checkpoint() uint64 {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	return p.applied
}

// WaitFor blocks until every event up to seq is applied (or recorded as a
// dead letter), ctx ends, or Run stops for good, returning why.
func (p *Projector) WaitFor(ctx context.Context, seq uint64) error {
	for {
		p.nmu.Lock()
		applied, ch, fatal := p.applied, p.changed, p.fatal
		p.nmu.Unlock()
		switch {
		case applied >= seq:
			return nil
		case fatal != nil:
			return fmt.Errorf("wait for seq %d: projector stopped at %d: %w", seq, applied, fatal)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for seq %d (at %d): %w", seq, applied, ctx.Err())
		}
	}
}

// advance publishes a new checkpoint to WaitFor and the rate meter.
func (p *Projector) advance(seq uint64, n int) {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	p.applied = seq
	if n > 0 { // 0: a rebuild swapped in
		p.commits++
	}
	p.rate.add(time.Now(), n)
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Projector) setFollowing(on bool) {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	p.following = on
}

func (p *Projector) setFatal(err error) {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	p.fatal = err
	if err == nil {
		p.stoppedAt = 0
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// Run follows the log into the index until ctx ends (returning ctx.Err())
// or an error that needs the operator: an event of a newer schema not
// skipped (errors.Is events.ErrNewerSchema; see Skip), a log replaced under
// the index (ErrLogReplaced; see AcceptNewLog) or a failing write. It
// checks the index against the stream first, after every error of the log
// and before every commit: it rebuilds by itself only an index of another
// read model version or one whose log lost an unsynced tail (see
// TailLossWindow). Passing outages of the log are waited out. Run may be
// called again after it returned.
func (p *Projector) Run(ctx context.Context) error {
	p.setFatal(nil)
	p.setFollowing(true)
	defer p.setFollowing(false)
	err := p.run(ctx, true, nil)
	if err != nil && ctx.Err() == nil {
		p.setFatal(err)
	}
	return err
}

// CatchUp applies every event in the log as of the call, then returns. A
// scanner that ran alone calls it (or the CatchUp function) to bring the
// data directory's index up to date.
func (p *Projector) CatchUp(ctx context.Context) error {
	err := p.run(ctx, false, nil)
	if errors.Is(err, ErrLogReplaced) {
		p.setFatal(err)
	}
	return err
}

func (p *Projector) setStopped(seq uint64) {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	p.stoppedAt = seq
}

// Err returns why Run or CatchUp stopped for good, or nil.
func (p *Projector) Err() error {
	p.nmu.Lock()
	defer p.nmu.Unlock()
	return p.fatal
}

// CatchUp opens the index file at path, brings it up to date with log and
// closes it, returning the checkpoint reached.
func CatchUp(ctx context.Context, log *store.Log, path string, logger *slog.Logger) (uint64, error) {
	p := &Projector{Log: log, Path: path, Logger: logger}
	if err := p.Open(); err != nil {
		return 0, err
	}
	defer p.Close()
	if err := p.CatchUp(ctx); err != nil {
		return p.Checkpoint(), fmt.Errorf("catch up %s: %w", path, err)
	}
	return p.Checkpoint(), nil
}

// run checks the index against the log and applies the log's events from
// the checkpoint on: up to its last event, or on until ctx ends when
// follow is set, or as long as tap hands them over when it is not nil.
func (p *Projector) run(ctx context.Context, follow bool, tap *Tap) error {
	wait := 100 * time.Millisecond
	for {
		info, err := p.check(ctx)
		if err == nil {
			fctx, done := p.watch(ctx)
			err = p.follow(fctx, info, follow, tap)
			if d := damage(fctx, err); d != nil {
				err = d
			}
			done()
		}
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, store.ErrCorrupt):
			if err := p.replaceCorrupt(err); err != nil {
				return err
			}
			continue
		case errors.Is(err, errRestart), errors.Is(err, errLogChanged):
			continue
		case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrNotFound):
			p.logger().Warn("log unavailable, retrying", "err", err, "in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		return err
	}
}

// check compares the index with the stream: it rebuilds an index the
// verdict allows to rebuild by itself and refuses one whose log was
// replaced (ErrLogReplaced).
func (p *Projector) check(ctx context.Context) (store.StreamInfo, error) {
	info, reason, auto, err := p.logVerdict(ctx)
	switch {
	case err != nil:
		return info, err
	case reason == "":
		return info, nil
	case !auto:
		p.logger().Error("the log was replaced under the index; projection stops", "reason", reason, "index", p.Path)
		return info, replaced(reason)
	}
	p.logger().Warn("rebuilding the index from the log", "reason", reason, "index", p.Path)
	if err := p.rebuild(ctx); err != nil {
		return info, fmt.Errorf("rebuild (%s): %w", reason, err)
	}
	return info, nil
}

// errLogChanged ends follow when the stream is no longer the one it
// started on: run checks it again.
var errLogChanged = errors.New("the log changed")

// sameLog reports nil when the stream is still the incarnation created at
// created and holds every event up to the checkpoint, errLogChanged when
// not, or the error of asking.
func (p *Projector) sameLog(ctx context.Context, created time.Time) error {
	cp := p.Checkpoint() // before Info: a whole stream ends at or past it
	info, err := p.Log.Info(ctx)
	switch {
	case err != nil:
		return err
	case !info.Created.Equal(created) || info.LastSeq < cp || info.FirstSeq > cp+1 && info.Msgs > 0:
		p.logger().Warn("the log changed under the projector", "created", info.Created, "last_seq", info.LastSeq, "checkpoint", cp)
		return errLogChanged
	}
	return nil
}

// watchLog checks the stream every identityEvery until ctx ends, and ends
// ctx with the cause when it changed or cannot be asked: an ordered
// consumer follows a deleted and recreated stream without a word, from
// the sequence it had reached.
func (p *Projector) watchLog(ctx context.Context, cancel context.CancelCauseFunc, created time.Time) {
	t := time.NewTicker(identityEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.sameLog(ctx, created); err != nil && ctx.Err() == nil {
			cancel(err)
			return
		}
	}
}

// follow applies batches from the checkpoint on; without keepGoing it stops
// once it has applied everything up to the stream's last seq in info. With
// a tap, the batches are what it hands over (see Tap).
func (p *Projector) follow(ctx context.Context, info store.StreamInfo, keepGoing bool, tap *Tap) error {
	p.mu.RLock()
	gen := p.gen
	p.mu.RUnlock()
	from := p.Checkpoint()
	if !keepGoing && from >= info.LastSeq {
		return nil
	}
	fctx, cancel := context.WithCancelCause(ctx)
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		p.watchLog(fctx, cancel, info.Created)
	}()
	defer watcher.Wait()
	defer cancel(nil)
	wait := p.batchWait()
	var f *feed
	if tap != nil {
		f, wait = tap.feed(fctx, p.Log, from+1, p.decoders(), p.batchSize()), tapBatchWait
	} else {
		var err error
		if f, err = startFeed(fctx, p.Log, from+1, p.decoders(), p.batchSize()); err != nil {
			return err
		}
	}
	defer f.stop()
	// The watcher's verdict, once it gave one, is follow's error.
	why := func(err error) error {
		if cause := context.Cause(fctx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return err
	}
	f.gap = p.commitGap()
	skip, err := p.skipped(ctx)
	if err != nil {
		return err
	}
	var buf []item
	seen := &shaIndex{} // of this file: a swap ends this call
	var summary batchLog
	defer func() { summary.flush(p.logger(), p.Checkpoint()) }()
	for {
		items, err := f.batch(fctx, p.batchSize(), wait, buf)
		buf = items
		stop, newer := cutNewer(items, skip)
		if len(stop) > 0 {
			// The records may come from a stream created anew since the
			// last look: not one is committed until it is known they do not.
			if err := p.sameLog(ctx, info.Created); err != nil {
				return err
			}
			p.mu.RLock()
			if p.gen != gen {
				p.mu.RUnlock()
				return errRestart
			}
			start := time.Now()
			last, n, cerr := commit(p.db, stop, info.Created, seen, p.Observer)
			p.mu.RUnlock()
			if cerr != nil {
				return cerr
			}
			if last > 0 {
				p.advance(last, n)
				summary.add(p.logger(), n, last, time.Since(start), len(items) < p.batchSize())
			}
		}
		if newer != nil {
			if now, err := p.skipped(ctx); err == nil && now[newer.rec.Seq] {
				return errRestart // skipped since this call began
			}
			p.setStopped(newer.rec.Seq)
			return stopAt(newer)
		}
		if err != nil {
			return why(err)
		}
		if !keepGoing && p.Checkpoint() >= info.LastSeq {
			return nil
		}
	}
}

// commit applies items in one transaction with the checkpoint, skipping
// those at or below it. It returns the new checkpoint (0 if unchanged) and
// how many events it consumed. seen is the shaIndex of db's files, loaded
// on first use.
func commit(db *store.DB, items []item, created time.Time, seen *shaIndex, obs BatchObserver) (uint64, int, error) {
	var last uint64
	var at time.Time
	n := 0
	start := time.Now()
	var applied time.Time
	var b Batch
	err := db.Update(func(tx *store.Tx) error {
		cp := tx.Checkpoint()
		if obs != nil {
			countApplied(&b, items, cp.Seq)
		}
		seen.prepare(tx)
		u := newUnit(tx, seen)
		// About sixteen name index changes per new file: grown once.
		u.post = make([]posting, 0, 16*len(items))
		for i := range items {
			it := &items[i]
			if it.rec.Seq <= cp.Seq {
				continue
			}
			if err := u.apply(it); err != nil {
				return err
			}
			cp.Seq, at = it.rec.Seq, it.rec.Time
			n++
		}
		if n == 0 {
			return nil
		}
		if err := u.flush(); err != nil {
			return fmt.Errorf("commit at seq %d: %w", cp.Seq, err)
		}
		cp.StreamCreated, cp.ModelVersion = created.UTC(), ModelVersion
		last = cp.Seq
		if err := tx.Bucket(bucketMeta).Put(keyCheckpointTime, be64(uint64(at.UnixNano()))); err != nil {
			return err
		}
		applied = time.Now()
		return tx.SetCheckpoint(cp)
	})
	if err != nil {
		return 0, 0, err
	}
	if n > 0 && obs != nil {
		b.Events, b.Apply, b.Total = n, applied.Sub(start), time.Since(start)
		obs.ObserveBatch(b)
	}
	return last, n, nil
}

// rateMeter computes events per second over the last ten seconds.
type rateMeter struct {
	samples []rateSample
}

type rateSample struct {
	t time.Time
	n int
}

func (r *rateMeter) add(t time.Time, n int) {
	r.samples = append(r.samples, rateSample{t, n})
	cut := 0
	for cut < len(r.samples) && t.Sub(r.samples[cut].t) > 10*time.Second {
		cut++
	}
	r.samples = r.samples[cut:]
}

func (r *rateMeter) perSecond(now time.Time) float64 {
	n := 0
	var first time.Time
	for _, s := range r.samples {
		if now.Sub(s.t) > 10*time.Second {
			continue
		}
		if first.IsZero() {
			first = s.t
		}
		n += s.n
	}
	if n == 0 {
		return 0
	}
	span := now.Sub(first)
	if span < time.Second {
		span = time.Second
	}
	return float64(n) / span.Seconds()
}
