package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/indexer/indexer/store"
)

// BuildOptions say how far Build reads the log.
type BuildOptions struct {
	// UntilSeq, when set, stops after the event at this sequence.
	UntilSeq uint64
	// UntilTime, when set, stops before the first event the log stored
	// after it (the log's time of storing, which only grows, not the
	// scanner's clock).
	UntilTime time.Time
	// BatchSize is the number of events per transaction:
	// DefaultRebuildBatchSize when 0.
	BatchSize int
	// Decoders as in Projector.
	Decoders int
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Skip holds sequences of events of a newer schema to skip (see
	// Projector.Skip), besides those the file records; the file records
	// them too.
	Skip map[uint64]bool
	// Progress, when set, is called with the checkpoint after each
	// transaction commits, on Build's goroutine: it must return quickly.
	Progress func(seq uint64)
}

func (o BuildOptions) limit() string {
	switch {
	case o.UntilSeq > 0:
		return "seq " + strconv.FormatUint(o.UntilSeq, 10)
	case !o.UntilTime.IsZero():
		return "time " + o.UntilTime.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// Build builds the index at path from the log: up to the log's end, or as
// of UntilSeq or UntilTime (time travel). It writes without fsync, in large
// batches, and syncs once at the end. A file left by an interrupted Build of
// the same stream and limit is resumed from its checkpoint; any other file at
// path is replaced. Nothing else may have path open.
func Build(ctx context.Context, log *store.Log, path string, opt BuildOptions) (store.Checkpoint, error) {
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	info, err := log.Info(ctx)
	if err != nil {
		return store.Checkpoint{}, fmt.Errorf("build %s: %w", path, err)
	}
	db, cp, err := openBuild(path, info, opt, logger)
	if err != nil {
		return cp, fmt.Errorf("build %s: %w", path, err)
	}
	defer db.Close()
	start := time.Now()
	first := cp.Seq
	cp, err = buildInto(ctx, db, log, info, opt)
	if err != nil {
		return cp, fmt.Errorf("build %s: %w", path, err)
	}
	if err := db.Close(); err != nil { // it syncs the file
		return cp, fmt.Errorf("build %s: %w", path, err)
	}
	logger.Info("index built", "path", path, "seq", cp.Seq, "events", cp.Seq-first, "took", time.Since(start).Round(time.Millisecond))
	return cp, nil
}

// IsIndex reports whether the file at path holds an index, or a build of
// one, rather than another bbolt file (a scan state) or anything else. A
// file another process has open reads as not an index.
func IsIndex(path string) bool {
	db := &store.DB{Path: path, ReadOnly: true, LockTimeout: 100 * time.Millisecond}
	if err := db.Open(); err != nil {
		return false
	}
	defer db.Close()
	ok := false
	db.View(func(tx *store.Tx) error {
		meta := tx.Bucket(bucketMeta)
		ok = meta.Get(keyNextFileID) != nil || meta.Get(keyBuildLimit) != nil
		return nil
	})
	return ok
}

// openBuild opens path for a build, starting it afresh unless it holds a
// resumable build.
func openBuild(path string, info store.StreamInfo, opt BuildOptions, logger *slog.Logger) (*store.DB, store.Checkpoint, error) {
	open := func() (*store.DB, error) {
		db := &store.DB{Path: path, NoSync: true}
		return db, db.Open()
	}
	db, err := open()
	if err != nil && !errors.Is(err, store.ErrLocked) {
		logger.Warn("discarding unreadable build file", "path", path, "err", err)
		os.Remove(path)
		db, err = open()
	}
	if err != nil {
		return nil, store.Checkpoint{}, err
	}
	var cp store.Checkpoint
	var limit string
	db.View(func(tx *store.Tx) error {
		cp = tx.Checkpoint()
		limit = string(tx.Bucket(bucketMeta).Get(keyBuildLimit))
		return nil
	})
	why := ""
	switch {
	case cp.Seq == 0:
	case limit != opt.limit():
		why = fmt.Sprintf("it was built to %q, not %q", limit, opt.limit())
	case opt.UntilSeq > 0 && cp.Seq > opt.UntilSeq:
		why = "it is past the requested sequence"
	default:
		why = cp.Stale(info, ModelVersion)
	}
	if why != "" {
		logger.Info("starting the build afresh", "path", path, "reason", why)
		db.Close()
		if err := os.Remove(path); err != nil {
			return nil, cp, err
		}
		if db, err = open(); err != nil {
			return nil, cp, err
		}
		cp = store.Checkpoint{}
	} else if cp.Seq > 0 {
		logger.Info("resuming an interrupted build", "path", path, "seq", cp.Seq)
	}
	err = db.Update(func(tx *store.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyBuildLimit, []byte(opt.limit()))
	})
	if err != nil {
		db.Close()
		return nil, cp, err
	}
	return db, cp, nil
}

// buildInto applies the log to db from its checkpoint to the end of the log
// or the options' limit.
func buildInto(ctx context.Context, db *store.DB, log *store.Log, info store.StreamInfo, opt BuildOptions) (store.Checkpoint, error) {
	cp, err := db.Checkpoint()
	if err != nil {
		return cp, err
	}
	var skip map[uint64]bool
	err = db.Update(func(tx *store.Tx) error {
		skip = readSkips(tx, info.Created)
		if len(opt.Skip) == 0 {
			return nil
		}
		for s := range opt.Skip {
			skip[s] = true
		}
		return writeSkips(tx, info.Created, skip)
	})
	if err != nil {
		return cp, err
	}
	target := info.LastSeq
	if opt.UntilSeq > 0 && opt.UntilSeq < target {
		target = opt.UntilSeq
	}
	if cp.Seq >= target {
		return cp, nil
	}
	decoders := opt.Decoders
	if decoders <= 0 {
		decoders = (&Projector{}).decoders()
	}
	batch := cmp0(opt.BatchSize, DefaultRebuildBatchSize)
	f, err := startFeed(ctx, log, cp.Seq+1, decoders, batch)
	if err != nil {
		return cp, err
	}
	defer f.stop()
	var buf []item
	seen := &shaIndex{}
	for {
		items, err := f.batch(ctx, batch, time.Second, buf)
		buf = items
		done := false
		for i := range items {
			r := &items[i].rec
			if r.Seq > target || !opt.UntilTime.IsZero() && r.Time.After(opt.UntilTime) {
				items, done = items[:i], true
				break
			}
		}
		stop, newer := cutNewer(items, skip)
		if len(stop) > 0 {
			last, _, cerr := commit(db, stop, info.Created, seen, nil)
			if cerr != nil {
				return cp, cerr
			}
			if last > 0 {
				cp.Seq = last
			}
			if opt.Progress != nil {
				opt.Progress(cp.Seq)
			}
		}
		if newer != nil {
			return cp, stopAt(newer)
		}
		if err != nil {
			return cp, err
		}
		if done || cp.Seq >= target {
			return db.Checkpoint()
		}
	}
}

// RebuildPath returns the file Rebuild builds beside the live index at
// path before swapping it in: path + ".rebuild".
func RebuildPath(path string) string { return path + ".rebuild" }

// Rebuild builds a new index from the log beside the live one
// (RebuildPath(Path)), catches it up, then swaps it in with a rename. Readers
// keep using the old file until the swap, which holds them only for the last
// few events; Run, if running, carries on with the new file. An interrupted
// rebuild resumes where it stopped. It refuses (ErrLogReplaced) to replace
// an index whose log was replaced: AcceptNewLog does that, keeping the old
// file.
func (p *Projector) Rebuild(ctx context.Context) error {
	_, reason, auto, err := p.logVerdict(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("rebuild: %w", err)
	case reason != "" && !auto:
		return fmt.Errorf("rebuild: %w", replaced(reason))
	}
	return p.rebuild(ctx)
}

func (p *Projector) rebuild(ctx context.Context) error {
	tmp := RebuildPath(p.Path)
	skip, err := p.skipped(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	opt := BuildOptions{BatchSize: p.rebuildSize(), Decoders: p.decoders(), Logger: p.logger(), Skip: skip}
	opt.Progress = func(seq uint64) {
		p.nmu.Lock()
		p.rebuildAt = seq
		p.nmu.Unlock()
	}
	p.nmu.Lock()
	p.rebuildOn, p.rebuildAt = true, 0
	p.nmu.Unlock()
	defer func() {
		p.nmu.Lock()
		p.rebuildOn, p.rebuildAt = false, 0
		p.nmu.Unlock()
	}()
	start := time.Now()
	if _, err := Build(ctx, p.Log, tmp, opt); err != nil {
		return err
	}
	cp, err := p.swapIn(ctx, tmp, opt)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	p.nmu.Lock()
	p.rebuilds++
	p.nmu.Unlock()
	p.logger().Info("rebuilt index swapped in", "path", p.Path, "seq", cp.Seq, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// swapIn swaps the index built at tmp in for the live one: it holds off
// the live projector and new readers, catches tmp up with the last events,
// and renames it over the live file.
func (p *Projector) swapIn(ctx context.Context, tmp string, opt BuildOptions) (store.Checkpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp, err := Build(ctx, p.Log, tmp, opt)
	if err != nil {
		return cp, err
	}
	if p.db != nil {
		if err := p.db.Close(); err != nil {
			return cp, fmt.Errorf("close %s: %w", p.Path, err)
		}
		p.db = nil
	}
	if err := os.Rename(tmp, p.Path); err != nil {
		return cp, err
	}
	syncDir(filepath.Dir(p.Path))
	db := &store.DB{Path: p.Path, SyncFreelist: true}
	if err := db.Open(); err != nil {
		return cp, fmt.Errorf("reopen: %w", err)
	}
	p.db = db
	p.gen++
	p.advance(cp.Seq, 0)
	return cp, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Status is what `indexer-project status` shows.
type Status struct {
	Checkpoint    uint64  `json:"checkpoint"`
	StreamLastSeq uint64  `json:"stream_last_seq"`
	Lag           uint64  `json:"lag"`
	CaughtUp      bool    `json:"caught_up"`
	EventsPerSec  float64 `json:"events_per_second"`
	// Commits counts the transactions this process committed while
	// following the log.
	Commits     uint64 `json:"commits"`
	IndexBytes  int64  `json:"index_bytes"`
	DeadLetters int    `json:"dead_letters"`
	Rebuilding  bool   `json:"rebuilding"`
	// RebuildSeq is how far a rebuild in progress has read the log.
	RebuildSeq uint64 `json:"rebuild_seq,omitempty"`
	Rebuilds   int    `json:"rebuilds"`
	// StoppedAt is the sequence of the event of a newer schema projection
	// stopped before (see Error and Projector.Skip), 0 if none.
	StoppedAt uint64 `json:"stopped_at,omitempty"`
	// Skipped lists the sequences the operator skipped in this stream.
	Skipped []uint64 `json:"skipped,omitempty"`
	// State is one of the State* constants: what the projector is doing.
	State string    `json:"state"`
	Error string    `json:"error,omitempty"`
	Time  time.Time `json:"time"`
}

// Status reports the projector's progress against the log.
func (p *Projector) Status(ctx context.Context) (Status, error) {
	now := time.Now()
	p.nmu.Lock()
	s := Status{
		Checkpoint: p.applied, EventsPerSec: p.rate.perSecond(now), Commits: p.commits,
		Rebuilding: p.rebuildOn, RebuildSeq: p.rebuildAt, Rebuilds: p.rebuilds, Time: now.UTC(),
		StoppedAt: p.stoppedAt,
	}
	if p.fatal != nil {
		s.Error = p.fatal.Error()
	}
	following := p.following
	p.nmu.Unlock()
	s.State = state(following, s) // the lag is known once the log answers
	err := p.view(func(tx *store.Tx) error {
		s.DeadLetters = tx.Count(bucketDead)
		return nil
	})
	if err != nil {
		return s, err
	}
	p.mu.RLock()
	if p.db != nil {
		s.IndexBytes = p.db.Size()
	}
	p.mu.RUnlock()
	info, reason, auto, err := p.logVerdict(ctx)
	if err != nil {
		return s, err
	}
	p.view(func(tx *store.Tx) error {
		for seq := range readSkips(tx, info.Created) {
			s.Skipped = append(s.Skipped, seq)
		}
		slices.Sort(s.Skipped)
		return nil
	})
	s.StreamLastSeq, s.Lag = info.LastSeq, info.Lag(s.Checkpoint)
	// An index ahead of its log, or of another log, is not caught up
	// whatever the numbers say.
	s.CaughtUp = s.Lag == 0 && reason == ""
	switch {
	case reason == "" || s.Error != "":
	case auto:
		s.Error = "the index is rebuilt when the projector runs: " + reason
	default:
		s.Error = replaced(reason).Error()
	}
	s.State = state(following, s)
	return s, nil
}

// state says what a projector is doing: following is whether Run runs.
func state(following bool, s Status) string {
	switch {
	case s.Rebuilding:
		return StateRebuilding
	case !following || s.Error != "":
		return StateStopped
	case s.Lag > 0:
		return StateCatchingUp
	}
	return StateRunning
}
