package main

import (
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// TestArchiveMembersAreNotHardLinks: archive members have inode 0 (none),
// like files of a file system without inode numbers; two of the same
// content are two copies, as the duplicates model counts them, never
// "hard links" of each other in dupes or show. tree lists an archive's
// members as a directory.
func TestArchiveMembersAreNotHardLinks(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	s := servicetest.NewScan("m1", "/d", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for _, p := range []string{"/d/a.zip::x.jpg", "/d/b.zip::x.jpg"} {
		f := s.File(p, 1000, "photo")
		f.Inode, f.Device, f.Nlink, f.UID, f.GID = 0, 0, 0, 0, 0
		f.Archive = &events.Archive{Path: events.Path(p[:len("/d/a.zip")]), Member: []events.Path{"x.jpg"}, Format: "zip"}
		s.Scanned(f)
	}
	sub := s.File("/d/a.zip::sub/y.txt", 7, "y")
	sub.Inode, sub.Device = 0, 0
	sub.Archive = &events.Archive{Path: "/d/a.zip", Member: []events.Path{"sub/y.txt"}, Format: "zip"}
	s.Scanned(sub)
	s.Scanned(s.File("/d/a.zip", 2000, "zip"))
	env.Publish(t, s.Complete(events.ScanCounts{Added: 4})...)
	env.Close()
	out := mustRun(t, "dupes", "--data", env.Dir)
	if strings.Contains(out, "hard link") || !strings.Contains(out, "2 copies") {
		t.Errorf("dupes:\n%s", out)
	}
	// tree into an archive: its members, as a directory
	out = mustRun(t, "tree", "/d/a.zip", "--data", env.Dir)
	if !strings.Contains(out, "/d/a.zip::  2 files, 1007 B") || !strings.Contains(out, " x.jpg\n") ||
		!strings.Contains(out, " sub/\n") || strings.Contains(out, "b.zip") {
		t.Errorf("tree of an archive:\n%s", out)
	}
	out = mustRun(t, "show", "/d/a.zip::x.jpg", "--data", env.Dir)
	if strings.Contains(out, "hard link") || !strings.Contains(out, "/d/b.zip::x.jpg") ||
		!strings.Contains(out, "archive   /d/a.zip\n") || strings.Contains(out, "inode") {
		t.Errorf("show:\n%s", out)
	}
}
