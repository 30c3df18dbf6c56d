package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// CheckCommand reads every page of index.db (bbolt's full check).
type CheckCommand struct {
	*Main
	cfg   app.Config
	index string
}

// Run parses args and checks the index file.
func (c *CheckCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project check", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.StringVar(&c.index, "index", "", "check this index `file` instead of DATA/index.db")
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project check [--index FILE]

Reads every page of the index file and checks bbolt's invariants (each page
reachable once, keys in order, nothing past the end of the file). Opening
an index already checks its size and each bucket's root page in well under
a second; this reads the whole file (seconds per GB). Run it while no
indexer-project owns the file. A corrupt index is rebuilt by the next
indexer-project run (it moves the file aside as index.db.corrupt-<time>).
`); err != nil {
		return err
	}
	path := c.index
	if path == "" {
		path = c.cfg.Dir().IndexPath()
	}
	start := time.Now()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	fmt.Fprintf(c.Stdout, "%s: ok (%d bytes in use, checked in %s)\n", path, db.Used(), time.Since(start).Round(time.Millisecond))
	return nil
}
