package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
)

const showAbout = `Prints everything the index knows about one file: its metadata and hashes,
the other files with the same content (hard links marked), and its history.
PATH is looked up on --machine, else on this host's machine, else on the
one machine that has it.`

func (m *Main) runShow(ctx context.Context, args []string) error {
	c, err := m.openPathCmd(ctx, args, "show", "file", showAbout, probeLookup)
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.q.Show(ctx, c.machine, c.path)
	if err != nil {
		return queryError(err)
	}
	if c.qf.json {
		return newPrinter(m.Stdout, true).obj(d)
	}
	f := d.File
	pr := newPrinter(m.Stdout, false)
	pr.row("path", cell(string(f.Path)))
	pr.row("machine", f.Machine)
	pr.row("size", fmt.Sprintf("%s (%s)", app.Bytes(f.Size), app.Count(f.Size, "byte", "bytes")))
	pr.row("mode", fmt.Sprintf("%s (%o)", modeText(fs.FileMode(f.Mode)), posixMode(fs.FileMode(f.Mode))))
	pr.row("modified", fileTime(f.MTime))
	pr.row("changed", fileTime(f.CTime))
	if f.BTime != 0 {
		pr.row("born", fileTime(f.BTime))
	}
	if f.IsMember() {
		// An archive member: it has no owner or inode of its own.
		pr.row("archive", cell(string(f.Archive.Path)))
	} else {
		pr.row("owner", fmt.Sprintf("uid %d, gid %d", f.UID, f.GID))
		pr.row("inode", fmt.Sprintf("%d on device %d, %s", f.Inode, f.Device, app.Count(f.Nlink, "link", "links")))
	}
	if f.Target != "" {
		pr.row("link to", cell(string(f.Target)))
	}
	for _, h := range []struct{ name, v string }{{"md5", f.Hashes.MD5}, {"sha1", f.Hashes.SHA1}, {"sha256", f.Hashes.SHA256}, {"blake3", f.Hashes.BLAKE3}} {
		if h.v != "" {
			pr.row(h.name, h.v)
		}
	}
	if good := f.BitRot; good != "" || rotGood(d.History) != "" {
		if good == "" {
			good = rotGood(d.History) // an index of an older projector
		}
		pr.row("BIT ROT", "the last --verify read other content; good sha256 "+good+" (indexer rot)")
	}
	if err := pr.flush(); err != nil {
		return err
	}
	if g := d.Group; g != nil {
		fmt.Fprintln(m.Stdout)
		if g.Count < 2 {
			fmt.Fprintln(m.Stdout, "no other file has this content")
		} else {
			fmt.Fprintf(m.Stdout, "same content: %s, %s on disk, %s wasted\n", app.Count(g.Count, "path", "paths"), app.Count(g.Inodes, "copy", "copies"), app.Bytes(g.Wasted))
			for _, c := range d.Copies {
				note := ""
				if c.Machine == f.Machine && c.Device == f.Device && c.Inode == f.Inode && f.Inode != 0 {
					note = "  (hard link: the same inode)"
				}
				fmt.Fprintf(m.Stdout, "  %s  %s%s\n", c.Machine, cell(string(c.Path)), note)
			}
			if int(g.Count)-1 > len(d.Copies) {
				fmt.Fprintf(m.Stdout, "  ... and %d more\n", int(g.Count)-1-len(d.Copies))
			}
		}
	}
	fmt.Fprintln(m.Stdout)
	fmt.Fprintln(m.Stdout, "history:")
	return printHistory(m.Stdout, d.History, "  ")
}

// rotGood returns the good sha256 when the last content event of a
// file's history is bit rot, or "".
func rotGood(hs []service.HistoryEvent) string {
	good := ""
	for _, h := range hs {
		ev, err := events.Decode(h.Event)
		if err != nil {
			continue
		}
		switch d := ev.Data.(type) {
		case *events.FileChanged:
			switch {
			case d.Reason == events.ReasonBitRot:
				good = d.PrevSHA256
			case d.Reason == events.ReasonContent:
				good = ""
			}
		case *events.FileScanned, *events.FileDeleted:
			good = ""
		}
	}
	return good
}

// printHistory prints a timeline, one event a line.
func printHistory(w io.Writer, hs []service.HistoryEvent, indent string) error {
	p := newPrinter(w, false)
	for _, h := range hs {
		when, what := "-", string(h.Type)
		if h.MovedAway {
			what = "FileMoved (away)"
		}
		if h.Path != "" {
			// The file's life at a path it was moved from.
			what += " at " + cell(string(h.Path))
		}
		detail := h.Error
		if len(h.Event) > 0 {
			if ev, err := events.Decode(h.Event); err == nil {
				when = stamp(ev.Time)
				detail = describe(ev, h.MovedAway)
			} else {
				detail = err.Error()
			}
		}
		p.row(indent+"seq "+fmt.Sprint(h.Seq), when, what, detail)
	}
	return p.flush()
}

// describe says in a few words what an event did to its file.
func describe(ev events.Event, movedAway bool) string {
	short := func(sha string) string {
		if len(sha) > 12 {
			return sha[:12]
		}
		return sha
	}
	// What the file held: a symbolic link's target, a directory, or the
	// content's digest.
	held := func(f *events.File) string {
		switch {
		case f.Target != "":
			return "link to " + cell(string(f.Target))
		case f.Hashes.SHA256 == "":
			return app.Bytes(f.Size)
		}
		return fmt.Sprintf("%s, sha256 %s", app.Bytes(f.Size), short(f.Hashes.SHA256))
	}
	switch d := ev.Data.(type) {
	case *events.FileScanned:
		return held(&d.File)
	case *events.FileChanged:
		if d.Reason == events.ReasonBitRot {
			// The good digest in full, for 'indexer find --hash'.
			return fmt.Sprintf("BIT ROT (%s): read %s; good sha256 %s", d.Reason, held(&d.File), d.PrevSHA256)
		}
		s := fmt.Sprintf("%s: %s", d.Reason, held(&d.File))
		if d.PrevSHA256 != "" {
			s += " (was " + short(d.PrevSHA256) + ")"
		}
		return s
	case *events.FileMoved:
		if movedAway {
			return "to " + cell(string(d.Path))
		}
		return "from " + cell(string(d.From))
	case *events.FileDeleted:
		// A reason means the path is still on disk; the index left it.
		switch d.Reason {
		case "":
			return "gone"
		case events.DeletedExcluded:
			return "excluded: still on disk, an exclude pattern or .indexerignore matches it"
		case events.DeletedPruned:
			return "pruned: still on disk, on a pseudo file system the scan prunes"
		}
		return "left the index: " + cell(d.Reason)
	case *events.FileUnreadable:
		return strings.TrimSpace(d.Error)
	case *events.FilesForgotten:
		s := "forgotten: left the index (indexer-project forget"
		if d.Root != "" {
			s += " --root " + cell(string(d.Root))
		}
		s += ")"
		if d.Reason != "" {
			s += ": " + d.Reason
		}
		return s
	}
	return ""
}
