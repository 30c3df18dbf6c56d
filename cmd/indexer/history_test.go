package main

import (
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// TestHistoryDeletionReason: history says why a path that is still on
// disk left the index (an exclude pattern, a pruned file system); a
// plain deletion stays "gone".
func TestHistoryDeletionReason(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := servicetest.NewScan("m1", "/d", t0)
	for _, p := range []string{"/d/build.log", "/d/proc/x", "/d/old.txt"} {
		s.Scanned(s.File(p, 10, p))
	}
	env.Publish(t, s.Complete(events.ScanCounts{Added: 3})...)
	s = servicetest.NewScan("m1", "/d", t0.Add(time.Hour))
	for p, why := range map[string]string{"/d/build.log": events.DeletedExcluded, "/d/proc/x": events.DeletedPruned} {
		s.T = s.T.Add(time.Second)
		s.Events = append(s.Events, events.New(s.Machine, s.ID, s.T, &events.FileDeleted{Path: events.Path(p), Reason: why}))
	}
	s.Deleted("/d/old.txt", servicetest.Hashes("/d/old.txt").SHA256)
	env.Publish(t, s.Complete(events.ScanCounts{Deleted: 3})...)
	env.Close()

	for path, want := range map[string]string{
		"/d/build.log": "excluded: still on disk",
		"/d/proc/x":    "pruned: still on disk",
		"/d/old.txt":   "gone",
	} {
		out := mustRun(t, "history", path, "--data", env.Dir)
		if !strings.Contains(out, "FileDeleted") || !strings.Contains(out, want) {
			t.Errorf("history %s lacks %q:\n%s", path, want, out)
		}
		if want == "gone" && strings.Contains(out, "still on disk") {
			t.Errorf("history %s:\n%s", path, out)
		}
	}
}
