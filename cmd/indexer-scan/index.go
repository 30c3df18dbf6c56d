package main

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
// It unmaps index.db's pages after each commit (DropPages): they would
// otherwise all stay in the process's resident memory, 35-40 MiB of it at
// 100,000 files. The run's memory budget (memory.go) holds the heap.
func updateIndex(ctx context.Context, cfg app.Config, log *store.Log, logger *slog.Logger) error {
	start := time.Now()
	p := &projections.Projector{Log: log, Path: cfg.Dir().IndexPath(), Logger: logger, DropPages: true}
	if err := p.Open(); err != nil {
		return err
	}
	defer p.Close()
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
