package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// CompactCommand rewrites index.db to its live size.
type CompactCommand struct {
	*Main
	cfg app.Config
}

// Run parses args and compacts the index, itself or by asking the running
// indexer-project.
func (c *CompactCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project compact", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project compact [flags]

Rewrites DATA/index.db to its live size. bbolt reuses the pages that
deleted files free but never gives them back to the disk, so an index that
once held many more files than it does keeps its largest size. compact
writes a compacted copy beside it (index.db.compact, so it needs that much
free space), catches it up with the log and swaps it in as a rebuild does:
queries keep being answered. Beside a running indexer-project it asks that
process to do it and waits.
`); err != nil {
		return err
	}
	logger := c.cfg.Logger(c.Stderr)
	return onIndex(ctx, c.cfg, "indexer-project compact", logger, func(p *projections.Projector) error {
		res, err := p.Compact(ctx)
		if err != nil {
			return err
		}
		c.print(res, "")
		return nil
	}, func(locked error) error { return c.viaOwner(ctx, locked) })
}

func (c *CompactCommand) print(r projections.Compaction, by string) {
	fmt.Fprintf(c.Stdout, "compacted %s: %s -> %s at seq %d in %s%s\n", c.cfg.Dir().IndexPath(),
		app.Bytes(r.Before), app.Bytes(r.After), r.Seq, r.Took.Round(time.Millisecond), by)
}

// viaOwner asks the indexer-project that owns the data directory to
// compact its index, and waits for the answer.
func (c *CompactCommand) viaOwner(ctx context.Context, locked error) error {
	st, err := readOwnerStatus(c.cfg.Dir().StatusPath())
	if err != nil || st.RebuildSubject == "" {
		return fmt.Errorf("%w, and it takes no requests (no status file with its admin subject): stop it and run compact again", locked)
	}
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project compact", AllowClient: true, ReadOnlyLog: true}, c.cfg.Logger(c.Stderr))
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(c.Stderr, "indexer-project PID %d is compacting %s; queries are answered meanwhile\n", st.PID, c.cfg.Dir().IndexPath())
	ctx, cancel := context.WithTimeout(ctx, 24*time.Hour)
	defer cancel()
	out, err := env.Log.Request(ctx, compactSubject(st.RebuildSubject), nil)
	if err != nil {
		return fmt.Errorf("ask indexer-project PID %d to compact: %w", st.PID, err)
	}
	var res projections.Compaction
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("ask indexer-project PID %d to compact: reply %q", st.PID, out)
	}
	c.print(res, fmt.Sprintf(" (by indexer-project PID %d)", st.PID))
	return nil
}

// compactSubject is the admin subject of compaction, beside the rebuild
// subject the status file names.
func compactSubject(rebuildSubject string) string {
	return strings.TrimSuffix(rebuildSubject, ".rebuild") + ".compact"
}

// compactHandler answers compaction requests on the admin service: one at
// a time, answered when done.
func compactHandler(p *projections.Projector) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, _ []byte) ([]byte, error) {
		res, err := p.Compact(ctx)
		if err != nil {
			return nil, &store.ServiceError{Code: 500, Message: err.Error()}
		}
		return json.Marshal(res)
	}
}
