package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

const scansAbout = `Lists scans, newest first: machine, root, state, when, how long, and what
they found.

--problems lists instead what the last scan of each root (of each machine,
or of --machine) could not do, path by path, from the log: unreadable
paths with the error, files recorded without hashes because they changed
on every read (a growing log) or are larger than --max-file-size, and
archives whose walk stopped early, with the reason.`

func (m *Main) runScans(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("scans", "", scansAbout)
	machine := fs.String("machine", "", "only scans of this machine `name`")
	limit := fs.Int("limit", 20, "scans to print; 0 prints all")
	problems := fs.Bool("problems", false, "list the paths the last scan of each root could not read or hash, with the reason (read from the log)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos, "scans"); err != nil {
		return err
	}
	if *limit < 0 {
		return app.Usagef("--limit must be at least 0")
	}
	if *problems {
		return m.scanProblems(ctx, qf, *machine)
	}
	s, err := m.openSession(ctx, qf, "indexer scans", false)
	if err != nil {
		return err
	}
	defer s.Close()
	scans, err := s.q.Scans(ctx, *machine, *limit)
	if err != nil {
		return err
	}
	if qf.json {
		p := newPrinter(m.Stdout, true)
		for _, sc := range scans {
			if err := p.obj(sc); err != nil {
				return err
			}
		}
		return nil
	}
	if len(scans) == 0 {
		fmt.Fprintln(m.Stderr, "no scans")
		return nil
	}
	return printScans(m.Stdout, scans)
}

func printScans(w io.Writer, scans []projections.Scan) error {
	p := newPrinter(w, false)
	p.row("STARTED", "MACHINE", "STATE", "TOOK", "ADDED", "CHANGED", "MOVED", "DELETED", "UNREADABLE", "ROOT")
	for _, s := range scans {
		took := "-"
		if s.Duration > 0 {
			took = s.Duration.Round(time.Millisecond).String()
		}
		c := s.Counts
		if s.EndSeq == 0 {
			// No ScanCompleted (running, or killed): what the log holds
			// of it so far.
			c = events.ScanCounts{Added: int64(s.Seen.Scanned), Changed: int64(s.Seen.Changed), Moved: int64(s.Seen.Moved),
				Deleted: int64(s.Seen.Deleted), Unreadable: int64(s.Seen.Unreadable)}
		}
		p.row(stamp(s.Started), s.Machine, s.State, took, fmt.Sprint(c.Added), fmt.Sprint(c.Changed), fmt.Sprint(c.Moved),
			fmt.Sprint(c.Deleted), fmt.Sprint(c.Unreadable), cell(string(s.Root)))
	}
	return p.flush()
}
