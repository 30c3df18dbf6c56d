package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// DeadLettersCommand lists the events the projector could not apply.
type DeadLettersCommand struct {
	*Main
	cfg  app.Config
	json bool
}

// Run parses args and lists the dead letters.
func (c *DeadLettersCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project deadletters", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.BoolVar(&c.json, "json", false, "print a JSON array of {seq, subject, reason}")
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project deadletters [flags]

Lists the events the projector did not apply, oldest first, with the log
sequence, the subject and the reason: events that do not decode, that
break what the index relies on (see README, "Validation"), and those the
operator skipped (indexer-project skip). Read one in full with
'nats stream get INDEXER SEQ'. With a running indexer-project it asks that
process.
`); err != nil {
		return err
	}
	logger := c.cfg.Logger(c.Stderr)
	var dl []projections.DeadLetter
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project deadletters", LockWithServer: true, ReadOnlyLog: c.cfg.Server != ""}, logger)
	switch {
	case errors.Is(err, store.ErrLocked):
		out, err := askOwner(ctx, c.cfg, err, func(st ownerStatus) string { return st.DeadLettersSubject }, nil, logger)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &dl); err != nil {
			return fmt.Errorf("dead letters from the running indexer-project: %w", err)
		}
	case err != nil:
		return err
	default:
		defer env.Close()
		db := &store.DB{Path: c.cfg.Dir().IndexPath(), ReadOnly: true}
		if err := db.Open(); err != nil {
			return err
		}
		defer db.Close()
		if dl, err = projections.NewIndex(db).DeadLetters(0); err != nil {
			return err
		}
	}
	if c.json {
		if dl == nil {
			dl = []projections.DeadLetter{}
		}
		return json.NewEncoder(c.Stdout).Encode(dl)
	}
	if len(dl) == 0 {
		fmt.Fprintln(c.Stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSUBJECT\tREASON")
	for _, d := range dl {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", d.Seq, d.Subject, d.Reason)
	}
	return tw.Flush()
}
