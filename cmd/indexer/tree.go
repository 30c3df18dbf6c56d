package main

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

const treeAbout = `Lists a directory: its subdirectories with their recursive file counts and
sizes, largest first, then its files. Symbolic links and the members of
archives are counted apart from files ("2 links", "5 in archives, 3 MiB"). Without DIR it lists the machines, or
with --machine that machine's root. DIR is looked up on --machine, else on
this host's machine, else on the one machine that has it. An archive file
as DIR lists its members (ARCHIVE::inner) as a directory.`

func (m *Main) runTree(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("tree", "[DIR]", treeAbout)
	machine := fs.String("machine", "", "the machine `name` the directory is on")
	limit := fs.Int("limit", 1000, "files to list; 0 lists all")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	arg, err := onlyArg(pos, "DIR", true)
	if err != nil {
		return err
	}
	s, err := m.openSession(ctx, qf, "indexer tree", false)
	if err != nil {
		return err
	}
	defer s.Close()
	if arg == "" && *machine == "" {
		ms, err := s.q.Machines(ctx)
		if err != nil {
			return err
		}
		if qf.json {
			return newPrinter(m.Stdout, true).obj(ms)
		}
		return printMachines(m.Stdout, ms)
	}
	if arg == "" {
		arg = "/"
	}
	mach, dir, err := resolve(ctx, s.q, *machine, arg, true, probeTree(ctx, s.q))
	if err == nil && *machine != "" && dir != "/" {
		// A given machine is not probed: probe it here, for the hint.
		if ok, perr := probeTree(ctx, s.q)(mach, dir); perr == nil && !ok {
			err = fmt.Errorf("%s on %s: %w", dir, mach, projections.ErrNotFound)
		}
	}
	if errors.Is(err, projections.ErrNotFound) {
		if _, _, ferr := resolve(ctx, s.q, *machine, arg, false, probeLookup(ctx, s.q)); ferr == nil {
			err = app.Usagef("%s is a file: try: indexer show %s", arg, shellQuote(arg))
		}
	}
	if err != nil {
		return err
	}
	n := *limit
	if n == 0 {
		n = -1
	}
	t, err := s.q.Tree(ctx, service.TreeRequest{Machine: mach, Dir: dir, Limit: n})
	if errors.Is(err, projections.ErrNotFound) && dir == "/" {
		t, err = s.q.Tree(ctx, service.TreeRequest{Machine: mach, Dir: "", Limit: n})
	}
	if errors.Is(err, projections.ErrNotFound) {
		if at, ok, aerr := archiveTree(ctx, s.q, mach, dir, n); aerr != nil || ok {
			t, err = at, aerr
		}
	}
	if err != nil {
		return queryError(err)
	}
	if qf.json {
		return newPrinter(m.Stdout, true).obj(t)
	}
	if t.Files == 0 && t.Links == 0 && t.Members > 0 {
		// Inside an archive (or a directory of archives' members).
		fmt.Fprintf(m.Stdout, "%s:%s  %s, %s, all in archives\n", t.Machine, cell(string(t.Path)), app.Count(t.Members, "file", "files"), app.Bytes(t.MemberBytes))
	} else {
		fmt.Fprintf(m.Stdout, "%s:%s  %s, %s%s\n", t.Machine, cell(string(t.Path)), app.Count(t.Files, "file", "files"), app.Bytes(t.Bytes), apart(t.Counts, true))
	}
	dirs := append([]projections.TreeEntry(nil), t.Dirs...)
	sort.SliceStable(dirs, func(i, j int) bool { return dirs[i].Bytes+dirs[i].MemberBytes > dirs[j].Bytes+dirs[j].MemberBytes })
	p := newPrinter(m.Stdout, false)
	for _, d := range dirs {
		if d.Files == 0 && d.Links == 0 && d.Members > 0 {
			// Only members: the directory of an archive.
			p.row(app.Bytes(d.MemberBytes), fmt.Sprintf("%d in archives", d.Members), cell(string(d.Name))+"/")
			continue
		}
		p.row(app.Bytes(d.Bytes), app.Count(d.Files, "file", "files")+apart(d.Counts, false), cell(string(d.Name))+"/")
	}
	for _, f := range t.Entries {
		name := string(f.Path)[len(t.Path):]
		p.row(sizeCell(f.File), fileTime(f.MTime), pathCell(f.File, name))
	}
	if err := p.flush(); err != nil {
		return err
	}
	if t.More {
		fmt.Fprintf(m.Stderr, "more files than --limit %d\n", *limit)
	}
	return nil
}

// apart says what counts holds beside files: ", 2 links, 5 in archives
// (3.00 MiB)"; with sizes false, without the members' size.
func apart(c projections.Counts, sizes bool) string {
	s := ""
	if c.Links > 0 {
		s += ", " + app.Count(c.Links, "link", "links")
	}
	if c.Members > 0 {
		s += fmt.Sprintf(", %d in archives", c.Members)
		if sizes {
			s += " (" + app.Bytes(c.MemberBytes) + ")"
		}
	}
	return s
}

// archiveTree lists the archive file at p as a directory (see
// service.ArchiveTree).
func archiveTree(ctx context.Context, q service.Queries, machine string, p events.Path, limit int) (projections.Tree, bool, error) {
	return service.ArchiveTree(ctx, q, machine, p, limit)
}
