package main

import (
	"context"
	"fmt"

	"github.com/indexer/indexer/projections"
)

const historyAbout = `Prints a path's events from the log, oldest first: when it was first seen,
changed, moved, deleted (with the reason when the path is still on disk:
excluded, pruned). A path that is gone still has its history. A file
moved to the path brings its history along: its events at the paths it
was at before are listed too, marked "at OLD-PATH". PATH is
looked up on --machine, else on this host's machine, else on the one machine
that has a history for it.`

func (m *Main) runHistory(ctx context.Context, args []string) error {
	c, err := m.openPathCmd(ctx, args, "history", "path", historyAbout, probeHistory)
	if err != nil {
		return err
	}
	defer c.Close()
	hs, err := c.q.History(ctx, c.machine, c.path)
	if err != nil {
		return queryError(err)
	}
	if len(hs) == 0 {
		return fmt.Errorf("%s on %s: %w: the path never appeared in a scan", c.path, c.machine, projections.ErrNotFound)
	}
	if c.qf.json {
		pr := newPrinter(m.Stdout, true)
		for _, h := range hs {
			if err := pr.obj(h); err != nil {
				return err
			}
		}
		return nil
	}
	return printHistory(m.Stdout, hs, "")
}
