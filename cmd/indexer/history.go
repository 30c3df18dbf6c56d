package main

import (
	"context"
	"fmt"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

const historyAbout = `Prints a path's events from the log, oldest first: when it was first seen,
changed, moved, deleted. A path that is gone still has its history. PATH is
looked up on --machine, else on this host's machine, else on the one machine
that has a history for it.`

func (m *Main) runHistory(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("history", "PATH", historyAbout)
	machine := fs.String("machine", "", "the machine `name` the path is on")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	arg, err := onlyArg(pos, "PATH", false)
	if err != nil {
		return err
	}
	s, err := m.openSession(ctx, qf, "indexer history", true)
	if err != nil {
		return err
	}
	defer s.Close()
	mach, p, err := resolve(ctx, s.q, *machine, arg, func(mc string, p events.Path) (bool, error) {
		hs, err := s.q.History(ctx, mc, p)
		return len(hs) > 0, err
	})
	if err != nil {
		return err
	}
	hs, err := s.q.History(ctx, mach, p)
	if err != nil {
		return queryError(err)
	}
	if len(hs) == 0 {
		return fmt.Errorf("%s on %s: %w: the path never appeared in a scan", p, mach, projections.ErrNotFound)
	}
	if qf.json {
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
