package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

const treeAbout = `Lists a directory: its subdirectories with their recursive file counts and
sizes, largest first, then its files. Without DIR it lists the machines, or
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
	fmt.Fprintf(m.Stdout, "%s:%s  %s, %s\n", t.Machine, cell(string(t.Path)), app.Count(t.Files, "file", "files"), app.Bytes(t.Bytes))
	dirs := append([]projections.TreeEntry(nil), t.Dirs...)
	sort.SliceStable(dirs, func(i, j int) bool { return dirs[i].Bytes > dirs[j].Bytes })
	p := newPrinter(m.Stdout, false)
	for _, d := range dirs {
		p.row(app.Bytes(d.Bytes), app.Count(d.Files, "file", "files"), cell(string(d.Name))+"/")
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

// archiveTree lists the archive file at p as a directory: the members at
// its top level and its directories, which the index holds beside the
// archive as p::name and p::dir/ (the index splits paths at '/' only).
// ok is false when p has no members.
func archiveTree(ctx context.Context, q service.Queries, machine string, p events.Path, limit int) (t projections.Tree, ok bool, err error) {
	i := strings.LastIndexByte(string(p), '/')
	if i < 0 || strings.HasSuffix(string(p), "/") {
		return t, false, nil
	}
	parent, prefix := p[:i+1], string(p[i+1:])+events.MemberSep
	all, err := q.Tree(ctx, service.TreeRequest{Machine: machine, Dir: parent, Limit: -1})
	if errors.Is(err, projections.ErrNotFound) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	t = projections.Tree{Machine: all.Machine, Path: p + events.MemberSep}
	for _, d := range all.Dirs {
		if strings.HasPrefix(string(d.Name), prefix) {
			d.Name = d.Name[len(prefix):]
			t.Dirs = append(t.Dirs, d)
			t.Files, t.Bytes = t.Files+d.Files, t.Bytes+d.Bytes
		}
	}
	for _, f := range all.Entries {
		if strings.HasPrefix(string(f.Path[len(parent):]), prefix) {
			t.Entries = append(t.Entries, f)
			t.Files, t.Bytes = t.Files+1, t.Bytes+uint64(max(f.Size, 0))
		}
	}
	if limit > 0 && len(t.Entries) > limit {
		t.Entries, t.More = t.Entries[:limit], true
	}
	return t, len(t.Dirs)+len(t.Entries) > 0, nil
}
