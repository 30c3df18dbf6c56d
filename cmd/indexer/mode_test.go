package main

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// Modes print as stat(2) and ls do: the POSIX st_mode, not Go's
// fs.FileMode bits (a symbolic link was 134218239). The conversion of
// every file type is tested in package service, which owns it.
func TestPosixModes(t *testing.T) {
	t.Parallel()
	if got := uint32(fs.ModeSymlink | 0o777); got != 134218239 {
		t.Fatalf("the issue's number: %d", got)
	}

	data := fixtureData(t)
	out := mustRun(t, "find", "notes.txt", "--json", "--data", data)
	if !strings.Contains(out, `"mode":33188,"mode_text":"-rw-r--r--"`) || !strings.HasPrefix(out, `{"machine":"laptop","path":`) {
		t.Fatalf("find --json: %s", out)
	}
	out = mustRun(t, "show", servicetest.NotesPath, "--json", "--data", data)
	if strings.Contains(out, `"mode":420`) || !strings.Contains(out, `"mode_text":"-rw-r--r--"`) {
		t.Fatalf("show --json: %s", out)
	}
	if out := mustRun(t, "show", servicetest.NotesPath, "--data", data); !strings.Contains(out, "-rw-r--r-- (100644)") {
		t.Fatalf("show: %s", out)
	}
}

// Tables mark a symbolic link, with its target, and do not give the
// target's length as its size.
func TestTablesMarkSymlinks(t *testing.T) {
	t.Parallel()
	s := servicetest.NewScan("m", "/d", time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	f := s.File("/d/file.txt", 1000, "x")
	s.Scanned(f)
	l := s.File("/d/link.txt", 8, "")
	l.Mode, l.Target, l.Hashes = uint32(fs.ModeSymlink|0o777), "file.txt", events.Hashes{}
	s.Scanned(l)
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, s.Complete(events.ScanCounts{Seen: 2})...)
	env.Close()
	for _, args := range [][]string{{"find", "link"}, {"tree", "/d", "--machine", "m"}} {
		out := mustRun(t, append(args, "--data", env.Dir)...)
		var row string
		for _, r := range strings.Split(out, "\n") {
			if strings.Contains(r, "link.txt") {
				row = r
			}
		}
		if !strings.Contains(row, "link.txt -> file.txt") || !strings.HasPrefix(strings.TrimSpace(row), "link") || strings.Contains(row, "8 B") {
			t.Errorf("%v: the link's row %q should say link and its target:\n%s", args, row, out)
		}
	}
	if out := mustRun(t, "find", "link", "--json", "--data", env.Dir); !strings.Contains(out, `"mode":41471,"mode_text":"lrwxrwxrwx"`) {
		t.Errorf("find --json of a link: %s", out)
	}
}
