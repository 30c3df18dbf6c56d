package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// RebuildCommand rebuilds index.db, or builds a past index into a file.
type RebuildCommand struct {
	*Main
	cfg       app.Config
	untilSeq  uint64
	untilTime string
	into      string
}

// Run parses args and rebuilds.
func (c *RebuildCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project rebuild", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.Uint64Var(&c.untilSeq, "until-seq", 0, "build the index as of this log `sequence` (needs --into)")
	fs.StringVar(&c.untilTime, "until-time", "", "build the index as of this `time`, RFC 3339, by the log's time of storing (needs --into)")
	fs.StringVar(&c.into, "into", "", "build into this `file` and leave index.db alone")
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project rebuild [flags]

Without flags, rebuilds DATA/index.db from the log: it builds a new file
beside it (index.db.rebuild), catches up and renames it over index.db, so
readers always have an index. An interrupted rebuild resumes. It needs the
data directory: a running indexer-project rebuilds by itself when its index
does not match the log; stop it to force a rebuild.

With --into FILE it builds a separate index, as of --until-seq or
--until-time if given (time travel), and works beside a running projector.
`); err != nil {
		return err
	}
	var until time.Time
	if c.untilTime != "" {
		t, err := time.Parse(time.RFC3339Nano, c.untilTime)
		if err != nil {
			return usagef("--until-time %q: want RFC 3339, like 2026-01-02T15:04:05Z", c.untilTime)
		}
		until = t
	}
	if c.untilSeq > 0 && !until.IsZero() {
		return usagef("give --until-seq or --until-time, not both")
	}
	if (c.untilSeq > 0 || !until.IsZero()) && c.into == "" {
		return usagef("--until-seq and --until-time need --into FILE: the live index always follows the whole log")
	}
	logger := c.cfg.Logger(c.Stderr)
	start := time.Now()
	if c.into != "" {
		env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project rebuild", AllowClient: true}, logger)
		if err != nil {
			return err
		}
		defer env.Close()
		cp, err := projections.Build(ctx, env.Log, c.into, projections.BuildOptions{UntilSeq: c.untilSeq, UntilTime: until, Logger: logger})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "built %s at seq %d in %s\n", c.into, cp.Seq, time.Since(start).Round(time.Millisecond))
		return nil
	}
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project rebuild", LockWithServer: true}, logger)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w; a running indexer-project keeps its index matched to the log by itself (stop it to force a rebuild, or use --into FILE)", err)
		}
		return err
	}
	defer env.Close()
	p := &projections.Projector{Log: env.Log, Path: c.cfg.IndexPath(), Logger: logger}
	if err := p.Open(); err != nil {
		return err
	}
	defer p.Close()
	if err := p.Rebuild(ctx); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "rebuilt %s at seq %d in %s\n", p.Path, p.Checkpoint(), time.Since(start).Round(time.Millisecond))
	return nil
}
