package scancmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
)

// A standalone scan indexes what it stores while it scans (liveIndex): the
// appender hands each event the log acknowledged to a projections.Tap, and
// a projector beside the scan applies them in batches of up to liveBatch,
// a second apart at most, so the scan ends with its index all but up to
// date, and nothing is read back from the log or decoded again. On tree S
// (100,000 files, warm, 2 cores) that took the first scan from 9.6 s, of
// which 2.8-3.0 s updating the index after the scan, to 7.2-7.4 s, of which
// 0.16 s (docs/performance.md, Indexing beside the scan). Committing every
// 50 ms beside a cold scan had made it 1.5-1.6x its floor, against
// 1.2-1.3x after it: the commits' page writes and fsyncs compete for the
// disk; a second or liveBatch apart, 1.09x against 0.97x.
//
// The projector unmaps index.db's pages after each commit (DropPages): they
// would otherwise all stay in the process's resident memory, 35-40 MiB of
// it at 100,000 files. The run's memory budget (memory.go) holds the heap.
//
// While it holds index.db, which queries would otherwise open read-only, it
// answers them over the embedded server's query service (as indexer-project
// does), from the index as far as it got.
type liveIndex struct {
	p      *projections.Projector
	svc    *store.Service
	tap    *projections.Tap
	cancel context.CancelFunc
	done   chan struct{}
	err    error // FollowTap's, once done is closed
}

// liveBatch is the most events a liveIndex commits at once. The projector's
// memory grows with it, and a standalone scan's peak memory has a goal
// (under 200 MB, whatever the archive): at 12,288 a zip of 100,000 members
// peaked at 246 MiB, at 6,144 at 173-175 MiB (the Appender's in-flight
// window at 1,024).
const liveBatch = 6144

// startLiveIndex opens index.db and starts indexing beside the scan.
func startLiveIndex(cfg app.Config, log *store.Log, logger *slog.Logger) (*liveIndex, error) {
	p := indexProjector(cfg, log, logger)
	p.BatchSize = liveBatch
	if err := p.Open(); err != nil {
		return nil, err
	}
	local := service.Live(p, log)
	svc, err := service.Serve(log, local, nil, logger)
	if err != nil {
		p.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &liveIndex{p: p, svc: svc, tap: projections.NewTap(2 * liveBatch), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = p.FollowTap(ctx, l.tap)
	}()
	return l, nil
}

// add hands the projector an event the log stored at seq. A nil liveIndex
// takes nothing.
func (l *liveIndex) add(seq uint64, e events.Event) {
	if l != nil {
		l.tap.Add(seq, e)
	}
}

// catchUp applies what the tap holds, then what else the log stored (all of
// it when the tap stopped early), until ctx ends.
func (l *liveIndex) catchUp(ctx context.Context, logger *slog.Logger) error {
	start := time.Now()
	l.tap.Close()
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancel()
		<-l.done
	}
	if l.err != nil && ctx.Err() == nil {
		logger.Warn("indexing beside the scan stopped: reading what is left from the log", "err", l.err)
	}
	return catchUp(ctx, l.p, start, logger)
}

// close stops the query service and the projector, and closes index.db.
func (l *liveIndex) close() {
	l.svc.Stop()
	l.tap.Close()
	l.cancel()
	<-l.done
	l.p.Close()
}

// updateIndex brings the data directory's index.db up to date with the log,
// when no liveIndex could open it (a query held it).
func updateIndex(ctx context.Context, cfg app.Config, log *store.Log, logger *slog.Logger) error {
	start := time.Now()
	p := indexProjector(cfg, log, logger)
	if err := p.Open(); err != nil {
		return err
	}
	defer p.Close()
	return catchUp(ctx, p, start, logger)
}

// indexProjector is the projector of the data directory's index.db that a
// standalone scan runs (see DropPages above).
func indexProjector(cfg app.Config, log *store.Log, logger *slog.Logger) *projections.Projector {
	return &projections.Projector{Log: log, Path: cfg.Dir().IndexPath(), Logger: logger, DropPages: true}
}

// catchUp applies what else the log holds to p, and logs how far the index
// got since start.
func catchUp(ctx context.Context, p *projections.Projector, start time.Time, logger *slog.Logger) error {
	err := p.CatchUp(ctx)
	logger.Info("index updated", "to_seq", p.Checkpoint(), "took", time.Since(start))
	if err != nil {
		return fmt.Errorf("catch up %s: %w", p.Path, err)
	}
	return nil
}

// indexStored brings the index up to date with what a standalone scan
// stored, so queries see it (nobody else projects the log), also when the
// scan was interrupted: an interrupt before or during it lets it finish,
// and the next one skips it (errIndexSkipped), leaving the index to the
// next scan or 'indexer-project rebuild'. notice is what an interrupt
// prints.
func (r *scanRun) indexStored(ctx context.Context, notice string) error {
	m := r.Main
	if m.OnIndexing != nil {
		m.OnIndexing()
	}
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }() // it writes to Stderr: not after this returns
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		fmt.Fprintln(m.Stderr, notice+" (interrupt again to skip)")
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		select {
		case <-sig:
			cancel()
		case <-done:
		}
	}()
	update := func() error { return updateIndex(ictx, r.cfg, r.env.Log, r.logger) }
	if r.live != nil {
		update = func() error { return r.live.catchUp(ictx, r.logger) }
	}
	if err := update(); err != nil {
		if ictx.Err() != nil {
			return errIndexSkipped
		}
		return err
	}
	return nil
}

// errIndexSkipped is a second interrupt skipping indexStored.
var errIndexSkipped = fmt.Errorf("the index was not updated; the next scan or 'indexer-project rebuild' brings it up to date: %w", context.Canceled)
