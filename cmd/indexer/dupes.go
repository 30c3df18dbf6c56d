package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections/service"
)

const dupesAbout = `Lists groups of files with the same content (sha256), the biggest waste
first. Hard links (paths sharing one inode) are shown as such and are not
counted as waste: a group's wasted bytes are its size times its copies on
disk beyond the first.

Empty files all have the same content: their group is left out unless
--empty.

--format csv prints one row per listed file: group, sha256, size, machine,
path, device, inode (--files 0 lists every file of a group).`

func (m *Main) runDupes(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("dupes", "", dupesAbout)
	sort := fs.String("sort", "wasted", "order: `wasted`, size or count, largest first")
	asc := fs.Bool("asc", false, "smallest first")
	var minSize app.SizeFlag
	fs.Var(&minSize, "min-size", "only files of at least this `size` (300, 10k, 1.5M, 2G)")
	minCount := fs.Uint64("min-count", 2, "only groups of at least this many paths")
	machine := fs.String("machine", "", "only copies on this machine `name`")
	limit := fs.Int("limit", 20, "groups per page; 0 prints every group")
	page := fs.Int("page", 1, "page `number` to print")
	files := fs.Int("files", 10, "paths listed per group; 0 lists all")
	empty := fs.Bool("empty", false, "list the group of empty files too")
	format := fs.String("format", "table", "output `format`: table, json (as --json) or csv")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos, "dupes"); err != nil {
		return err
	}
	out, err := outputFormat(*format, qf.json)
	if err != nil {
		return err
	}
	switch *sort {
	case "wasted", "size", "count":
	default:
		return app.Usagef("--sort %q: want wasted, size or count", *sort)
	}
	if *limit < 0 || *page < 1 || *files < 0 {
		return app.Usagef("--limit and --files must be at least 0 and --page at least 1")
	}
	if *minCount < 2 {
		return app.Usagef("--min-count must be at least 2")
	}
	q := service.DupesRequest{Sort: *sort, Asc: *asc, MinSize: uint64(minSize.N), MinCount: *minCount, Machine: *machine, Files: *files, Limit: *limit}
	if !*empty && q.MinSize == 0 {
		q.MinSize = 1 // the empty file's group is noise unless asked for
	}
	if *files == 0 {
		q.Files = -1
	}
	if *limit == 0 {
		q.Limit = -1
	} else {
		q.Offset = (*page - 1) * *limit
	}
	s, err := m.openSession(ctx, qf, "indexer dupes", false)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.q.Dupes(ctx, q)
	if err != nil {
		return queryError(err)
	}
	if out == "csv" {
		cw := csv.NewWriter(m.Stdout)
		cw.Write([]string{"group", "sha256", "size", "machine", "path", "device", "inode"})
		for i, g := range res.Groups {
			for _, f := range g.Files {
				cw.Write([]string{strconv.Itoa(q.Offset + i + 1), g.SHA256, strconv.FormatUint(g.Size, 10), f.Machine, string(f.Path),
					strconv.FormatUint(f.Device, 10), strconv.FormatUint(f.Inode, 10)})
			}
		}
		cw.Flush()
		return cw.Error()
	}
	p := newPrinter(m.Stdout, out == "json")
	if out == "json" {
		for _, g := range res.Groups {
			if err := p.obj(g); err != nil {
				return err
			}
		}
		return nil
	}
	var wasted uint64
	for i, g := range res.Groups {
		wasted += g.Wasted
		if i > 0 {
			fmt.Fprintln(m.Stdout)
		}
		copies := app.Count(g.Inodes, "copy", "copies")
		if links := g.Count - g.Inodes; links > 0 {
			copies += ", " + app.Count(links, "hard link", "hard links")
		}
		waste := app.Bytes(g.Wasted) + " wasted"
		if g.Wasted == 0 {
			waste = "nothing wasted"
		}
		fmt.Fprintf(m.Stdout, "%s  %s x %s (%s)  sha256 %s\n", waste, app.Bytes(g.Size), app.Count(g.Count, "path", "paths"), copies, g.SHA256)
		seen := map[[3]any]int{}
		for j, f := range g.Files {
			key := [3]any{f.Machine, f.Device, f.Inode}
			note := ""
			// Inode 0 is none (an archive member, a file system without
			// inode numbers): never a hard link, as the groups count it.
			if first, ok := seen[key]; ok && f.Inode != 0 {
				note = fmt.Sprintf("  (hard link of #%d)", first+1)
			} else {
				seen[key] = j
			}
			fmt.Fprintf(m.Stdout, "  #%-3d %s  %s%s\n", j+1, f.Machine, cell(string(f.Path)), note)
		}
		if more := int(g.Count) - len(g.Files); more > 0 {
			fmt.Fprintf(m.Stdout, "  ... and %d more (--files 0 lists all)\n", more)
		}
	}
	switch {
	case res.Total == 0:
		fmt.Fprintln(m.Stderr, "no duplicates")
	case q.Limit > 0 && res.Total > q.Offset+len(res.Groups):
		fmt.Fprintf(m.Stderr, "groups %d-%d of %d (%s wasted on this page); next page: --page %d\n", q.Offset+1, q.Offset+len(res.Groups), res.Total, app.Bytes(wasted), *page+1)
	default:
		fmt.Fprintf(m.Stderr, "%s, %s wasted\n", app.Count(res.Total, "group", "groups"), app.Bytes(wasted))
	}
	return nil
}
