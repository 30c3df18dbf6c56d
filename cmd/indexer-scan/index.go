package main

import (
	"context"
	"log/slog"

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
func updateIndex(ctx context.Context, cfg app.Config, log *store.Log, logger *slog.Logger) error {
	_, err := projections.CatchUp(ctx, log, cfg.IndexPath(), logger)
	return err
}
