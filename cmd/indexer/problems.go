package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// problem is a path the last scan of its root could not read or hash.
type problem struct {
	Machine string `json:"machine"`
	Root    string `json:"root"`
	Scan    string `json:"scan"`
	Path    string `json:"path"`
	// Kind is unreadable, unreadable-dir (nothing below it was seen),
	// changing (changed on every read: no hashes), too-large (no hashes)
	// or archive (the archive's walk stopped early).
	Kind  string `json:"problem"`
	Error string `json:"error,omitempty"`
	Seq   uint64 `json:"seq"`
}

// scanProblems prints the problems of the last scan of each root.
func (m *Main) scanProblems(ctx context.Context, qf *queryFlags, machine string) error {
	if machine != "" {
		if err := events.ValidateMachine(machine); err != nil {
			return app.Usagef("--machine: %v", err)
		}
	}
	if err := needLog(qf.cfg); err != nil {
		return err
	}
	env, err := app.Open(ctx, qf.cfg, app.OpenOptions{Owner: "indexer scans", AllowClient: true}, qf.cfg.Logger(m.Stderr))
	if err != nil {
		return err
	}
	defer env.Close()
	scans, list, err := lastScanProblems(ctx, env.Log, machine)
	if err != nil {
		return err
	}
	p := newPrinter(m.Stdout, qf.json)
	if qf.json {
		for _, x := range list {
			if err := p.obj(x); err != nil {
				return err
			}
		}
		return nil
	}
	if scans == 0 {
		fmt.Fprintln(m.Stderr, "no scans")
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintf(m.Stdout, "no problems in the last scan of %s\n", app.Count(scans, "root", "roots"))
		return nil
	}
	p.row("MACHINE", "PROBLEM", "PATH", "REASON")
	for _, x := range list {
		p.row(x.Machine, x.Kind, cell(x.Path), x.Error)
	}
	return p.flush()
}

// lastScanProblems reads the log: the ScanStarted events, for the last
// scan of each machine and root, then those scans' file events, for their
// problems, in machine, root and path order. It returns how many scans it
// looked at.
func lastScanProblems(ctx context.Context, log *store.Log, machine string) (int, []problem, error) {
	type key struct{ machine, root string }
	type last struct {
		scan string
		seq  uint64
	}
	lasts := map[key]last{}
	if _, err := log.Replay(ctx, 1, events.Subject(or(machine, "*"), events.TypeScanStarted), func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil || store.CheckSource(r) != nil {
			return nil // the projector reports it
		}
		k := key{e.Machine, string(e.Data.(*events.ScanStarted).Root)}
		lasts[k] = last{e.Scan.String(), r.Seq}
		return nil
	}); err != nil {
		return 0, nil, fmt.Errorf("read the log: %w", err)
	}
	if len(lasts) == 0 {
		return 0, nil, nil
	}
	byScan := map[string]key{}
	from := uint64(0)
	for k, l := range lasts {
		byScan[l.scan] = k
		if from == 0 || l.seq < from {
			from = l.seq
		}
	}
	var out []problem
	filter := events.SubjectPrefix + "." + or(machine, "*") + ".file.>"
	unreadable := "." + events.Kind(events.TypeFileUnreadable)
	if _, err := log.Replay(ctx, from, filter, func(r store.Record) error {
		// A scanned or changed file is a problem only with these keys:
		// most are not, and are not decoded.
		isUnreadable := len(r.Subject) > len(unreadable) && r.Subject[len(r.Subject)-len(unreadable):] == unreadable
		if !isUnreadable && !bytes.Contains(r.Data, []byte(`"unhashed":`)) && !bytes.Contains(r.Data, []byte(`"error":`)) {
			return nil
		}
		e, err := events.Decode(r.Data)
		if err != nil || store.CheckSource(r) != nil {
			return nil
		}
		k, ok := byScan[e.Scan.String()]
		if !ok {
			return nil
		}
		x := problem{Machine: k.machine, Root: k.root, Scan: e.Scan.String(), Seq: r.Seq}
		var f *events.File
		switch d := e.Data.(type) {
		case *events.FileUnreadable:
			x.Path, x.Kind, x.Error = string(d.Path), "unreadable", d.Error
			if d.Dir {
				x.Kind = "unreadable-dir"
			}
			out = append(out, x)
			return nil
		case *events.FileScanned:
			f = &d.File
		case *events.FileChanged:
			f = &d.File
		default:
			return nil
		}
		x.Path = string(f.Path)
		switch {
		case f.Unhashed == events.UnhashedChanging:
			x.Kind, x.Error = "changing", "changed on every attempt to read it: recorded without hashes, read again next scan"
		case f.Unhashed == events.UnhashedTooLarge:
			x.Kind, x.Error = "too-large", "larger than --max-file-size: recorded without hashes"
		case f.Archive != nil && !f.IsMember() && f.Archive.Error != "":
			x.Kind, x.Error = "archive", f.Archive.Error
		default:
			return nil
		}
		out = append(out, x)
		return nil
	}); err != nil {
		return 0, nil, fmt.Errorf("read the log: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Machine != b.Machine {
			return a.Machine < b.Machine
		}
		if a.Root != b.Root {
			return a.Root < b.Root
		}
		return a.Path < b.Path
	})
	return len(lasts), out, nil
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
