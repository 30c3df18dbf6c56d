package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestNewerEventStopsUntilSkipped: an event of a newer schema stops a
// running indexer-project, which stays up saying where and why (status,
// /health); `indexer-project skip` through it moves on, and deadletters
// lists the skipped event with its reason.
func TestNewerEventStopsUntilSkipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scan := events.NewID()
	seedDataDir(t, dir, []events.Event{
		events.New("m", scan, time.Now(), &events.ScanStarted{Root: "/"}),
		events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: "/a", Size: 3, Hashes: events.Hashes{SHA256: strings.Repeat("a", 64)}}}),
	})
	newer := storetest.SeedRaw(t, dir, "idx.m.file.scanned", []byte(`{"v":2,"type":"FileScanned","id":"01KE1FHYPGAAAAAAAAAAAAAAAA","machine":"m","time":"2026-01-01T00:00:00Z","data":{"path":"/b"}}`))
	last := seedDataDir(t, dir, []events.Event{
		events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: "/c", Size: 3, Hashes: events.Hashes{SHA256: strings.Repeat("c", 64)}}}),
	})
	c := startChild(t, dir, "127.0.0.1:0")
	defer func() { c.cmd.Process.Signal(os.Interrupt); c.cmd.Wait() }()
	url := childURL(t, c)
	statusPath := store.Dir(dir).StatusPath()
	waitStatus := func(what string, ok func(ownerStatus) bool) ownerStatus {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if st, err := readOwnerStatus(statusPath); err == nil && ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never %s:\n%s", what, c.logText())
			}
		}
	}
	st := waitStatus("stopped", func(st ownerStatus) bool { return st.StoppedAt == newer })
	if !strings.Contains(st.Error, "indexer-project skip 3") || st.Checkpoint != newer-1 {
		t.Fatalf("status %+v", st.Status)
	}
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "seq 3") {
		t.Fatalf("/health: %d %s, want 503 naming seq 3", resp.StatusCode, body)
	}
	if out, err := runMain(t, "status", "--data", dir); err != nil || !strings.Contains(out, "stopped at       seq 3") {
		t.Fatalf("status: %s %v", out, err)
	}

	if _, err := runMain(t, "skip", "--data", dir, "4"); err == nil {
		t.Fatal("skip of an event this binary applies was accepted")
	}
	if out, err := runMain(t, "skip", "3", "--data", dir); err != nil || !strings.Contains(out, "skipped seq 3") {
		t.Fatalf("skip: %q %v", out, err)
	}
	waitStatus("caught up", func(st ownerStatus) bool { return st.Checkpoint == last && st.Error == "" })
	out, err := runMain(t, "deadletters", "--data", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var dl []projections.DeadLetter
	if err := json.Unmarshal([]byte(out), &dl); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(dl) != 1 || dl[0].Seq != newer || !strings.Contains(dl[0].Reason, "skipped by the operator") {
		t.Fatalf("dead letters %+v", dl)
	}
	if out, err := runMain(t, "status", "--data", dir); err != nil || !strings.Contains(out, "skipped          3") {
		t.Fatalf("status: %s %v", out, err)
	}
}

// TestSkipWithoutAProjector: with no indexer-project running, a rebuild
// stops at an event of a newer schema, skip records the skip in index.db,
// and the next rebuild goes past it; deadletters reads index.db.
func TestSkipWithoutAProjector(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedSteps(t, dir, 31, 20)
	newer := storetest.SeedRaw(t, dir, "idx.m.file.scanned", []byte(`{"v":2,"type":"FileScanned","id":"01KE1FHYPGAAAAAAAAAAAAAAAA","machine":"m","time":"2026-01-01T00:00:00Z","data":{"path":"/b"}}`))
	last := seedSteps(t, dir, 32, 5)
	if _, err := runMain(t, "rebuild", "--data", dir); !errors.Is(err, events.ErrNewerSchema) {
		t.Fatalf("rebuild = %v, want a stop at the newer event", err)
	}
	if out, err := runMain(t, "skip", "--data", dir, strconv.FormatUint(newer, 10)); err != nil || !strings.Contains(out, "skipped seq") {
		t.Fatalf("skip: %q %v", out, err)
	}
	if out, err := runMain(t, "rebuild", "--data", dir); err != nil || !strings.Contains(out, fmt.Sprintf("at seq %d", last)) {
		t.Fatalf("rebuild after the skip: %q %v", out, err)
	}
	out, err := runMain(t, "deadletters", "--data", dir)
	if err != nil || !strings.Contains(out, strconv.FormatUint(newer, 10)) || !strings.Contains(out, "skipped by the operator") {
		t.Fatalf("deadletters: %q %v", out, err)
	}
}
