package main

import (
	"context"
	"fmt"
	"io"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
)

const machinesAbout = `Lists the machines in the index: their files and bytes, events and their
last scan.`

func (m *Main) runMachines(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("machines", "", machinesAbout)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos, "machines"); err != nil {
		return err
	}
	s, err := m.openSession(ctx, qf, "indexer machines", false)
	if err != nil {
		return err
	}
	defer s.Close()
	ms, err := s.q.Machines(ctx)
	if err != nil {
		return err
	}
	if qf.json {
		p := newPrinter(m.Stdout, true)
		for _, mc := range ms {
			if err := p.obj(mc); err != nil {
				return err
			}
		}
		return nil
	}
	if len(ms) == 0 {
		fmt.Fprintln(m.Stderr, "no machines yet: run indexer-scan")
		return nil
	}
	return printMachines(m.Stdout, ms)
}

func printMachines(w io.Writer, ms []projections.Machine) error {
	p := newPrinter(w, false)
	p.row("MACHINE", "FILES", "SIZE", "LINKS", "IN ARCHIVES", "EVENTS", "LAST SCAN", "STATE")
	for _, mc := range ms {
		last := mc.LastScanEnd
		if last.IsZero() {
			last = mc.LastScanStart
		}
		p.row(mc.Name, fmt.Sprint(mc.Files), app.Bytes(mc.Bytes), fmt.Sprint(mc.Links), fmt.Sprint(mc.Members), fmt.Sprint(mc.Events), stamp(last), mc.LastScanState)
	}
	return p.flush()
}
