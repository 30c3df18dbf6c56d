package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// liveIndex projects the log into the data directory's index.db while a
// standalone scan runs, so the index is current when the scan ends: a first
// scan mostly waits for the disk, and the projection uses the idle CPU
// instead of running after it.
type liveIndex struct {
	p    *projections.Projector
	stop context.CancelFunc
	done chan error
}

// startIndex opens index.db and follows the log into it in the background.
func startIndex(ctx context.Context, cfg app.Config, log *store.Log, logger *slog.Logger) (*liveIndex, error) {
	p := &projections.Projector{Log: log, Path: cfg.IndexPath(), Logger: logger}
	if err := p.Open(); err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	li := &liveIndex{p: p, stop: stop, done: make(chan error, 1)}
	go func() { li.done <- p.Run(rctx) }()
	return li, nil
}

// catchUp waits until the index holds the log's last event, then stops the
// projector and closes the index.
func (li *liveIndex) catchUp(ctx context.Context, log *store.Log) error {
	info, err := log.Info(ctx)
	if err == nil {
		err = li.p.WaitFor(ctx, info.LastSeq)
	}
	if cerr := li.close(); err == nil {
		err = cerr
	}
	return err
}

// close stops the projector where it is; what it committed stays.
func (li *liveIndex) close() error {
	li.stop()
	err := <-li.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if cerr := li.p.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close index: %w", cerr)
	}
	return err
}
