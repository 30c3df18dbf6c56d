package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// TestSingularCounts: a count of one is written with the singular noun.
func TestSingularCounts(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	sc := servicetest.NewScan("solo", "/r", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	sc.Scanned(sc.File("/r/a.txt", 4, "same"))
	sc.Scanned(sc.File("/r/b.txt", 4, "same"))
	sc.Scanned(sc.File("/r/sub/c.txt", 5, "other"))
	env.Publish(t, sc.Complete(events.ScanCounts{Seen: 3, Read: 3, Added: 3})...)
	env.Close()
	dir := env.Dir
	for _, c := range []struct {
		args []string
		want string // in stdout and stderr
	}{
		{[]string{"stats"}, "1 group, 4 B wasted"},
		{[]string{"dupes"}, "1 group, 4 B wasted"},
		{[]string{"tree", "/r/sub", "--machine", "solo"}, "solo:/r/sub/  1 file, 5 B"},
		{[]string{"tree", "/r", "--machine", "solo"}, "5 B  1 file "},
		{[]string{"find", "c.txt"}, "\n1 file\n"},
		{[]string{"show", "/r/a.txt", "--machine", "solo"}, "1 link"},
		{[]string{"show", "/r/a.txt", "--machine", "solo"}, "2 paths, 2 copies on disk"},
	} {
		out, errOut, code := runMain(t, append(c.args, "--data", dir)...)
		if all := "\n" + out + errOut; code != 0 || !strings.Contains(all, c.want) {
			t.Errorf("indexer %s: exit %d, output lacks %q:\n%s", strings.Join(c.args, " "), code, c.want, all)
		}
	}
	_, errOut, _ := runMain(t, "show", "/nowhere", "--data", dir)
	if !strings.Contains(errOut, "(1 machine in the index)") {
		t.Errorf("show /nowhere: %s", errOut)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, errOut, code := runMain(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "indexer ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("--version: exit %d, %q %q", code, out, errOut)
	}
}
