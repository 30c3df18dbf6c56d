package main

import (
	"context"
	"fmt"

	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

const statsAbout = `Prints the index's totals: files, bytes, unique bytes, duplicate groups and
wasted bytes, per machine, the last scans and how far the index is behind
the log.`

func (m *Main) runStats(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("stats", "", statsAbout)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if _, err := onlyArg(pos, "", true); err != nil {
		return err
	}
	s, err := m.openSession(ctx, qf, "indexer stats", false)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.q.Stats(ctx)
	if err != nil {
		return err
	}
	scans, err := s.q.Scans(ctx, "", 5)
	if err != nil {
		return err
	}
	status, err := s.q.Status(ctx)
	if err != nil {
		return err
	}
	if qf.json {
		return newPrinter(m.Stdout, true).obj(struct {
			projections.Stats
			Status service.Status     `json:"status"`
			Scans  []projections.Scan `json:"last_scans"`
		}{st, status, scans})
	}
	p := newPrinter(m.Stdout, false)
	p.row("files", fmt.Sprint(st.Files))
	p.row("size", humanBytes(st.Bytes))
	p.row("unique size", humanBytes(st.UniqueBytes))
	p.row("duplicates", fmt.Sprintf("%d groups, %s wasted", st.Groups, humanBytes(st.Wasted)))
	p.row("index", indexState(status))
	if st.DeadLetters > 0 {
		p.row("rejected events", fmt.Sprintf("%d (see indexer-project status)", st.DeadLetters))
	}
	if err := p.flush(); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout)
	if err := printMachines(m.Stdout, st.Machines); err != nil {
		return err
	}
	if len(scans) > 0 {
		fmt.Fprintln(m.Stdout)
		return printScans(m.Stdout, scans)
	}
	return nil
}

// indexState says where the index is relative to the log.
func indexState(s service.Status) string {
	out := fmt.Sprintf("at seq %d", s.Checkpoint)
	switch {
	case s.LastSeq == 0:
	case s.Lag == 0:
		out += ", caught up with the log"
	default:
		out += fmt.Sprintf(", %d events behind the log", s.Lag)
	}
	if s.Live {
		out += " (live)"
	}
	return out
}
