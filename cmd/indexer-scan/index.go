package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// updateIndex brings the data directory's index.db up to date with the log,
// as a standalone scan does before it exits, so queries answer at once.
//
// It runs after the scan, not beside it: projecting while a first scan reads
// made the scan slower (S: 1.5-1.6x the floor instead of 1.2-1.3x), because
// the index's page writes and fsyncs compete with the scan for the disk.
//
// It runs under a soft memory limit (indexMemoryLimit) unless GOMEMLIMIT
// is set: the Go heap would otherwise grow to twice what the projector and
// the embedded server hold, which made the update, not the scan, the
// process's peak (a zip of 100,000 members: 290-330 MiB RSS, 215-225 with
// the limit, no slower).
func updateIndex(ctx context.Context, cfg app.Config, log *store.Log, logger *slog.Logger) error {
	start := time.Now()
	if os.Getenv("GOMEMLIMIT") == "" {
		if info, err := log.Info(ctx); err == nil {
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(indexMemoryLimit(info.Msgs)))
		}
	}
	seq, err := projections.CatchUp(ctx, log, cfg.Dir().IndexPath(), logger)
	logger.Info("index updated", "to_seq", seq, "took", time.Since(start))
	return err
}

// indexMemoryLimit is the soft memory limit of updateIndex for a log of
// events: 144 MiB, what the update of 100,000 events holds with room to
// spare, and 160 bytes an event above it, twice the projector's live heap
// per file at ten million (README, Ten million files), so a large index
// is never held near its limit, where the collector would run without
// pause.
func indexMemoryLimit(events uint64) int64 {
	return 144<<20 + 160*int64(min(events, 1<<40))
}

// indexStored brings the index up to date with what a standalone scan
// stored, so queries see it (nobody else projects the log), also when the
// scan was interrupted: an interrupt before or during it lets it finish,
// and the next one skips it (errIndexSkipped), leaving the index to the
// next scan or 'indexer-project rebuild'. notice is what an interrupt
// prints.
func (m *Main) indexStored(ctx context.Context, cfg app.Config, log *store.Log, logger *slog.Logger, notice string) error {
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
	if err := updateIndex(ictx, cfg, log, logger); err != nil {
		if ictx.Err() != nil {
			return errIndexSkipped
		}
		return err
	}
	return nil
}

// errIndexSkipped is a second interrupt skipping indexStored.
var errIndexSkipped = fmt.Errorf("the index was not updated; the next scan or 'indexer-project rebuild' brings it up to date: %w", context.Canceled)
