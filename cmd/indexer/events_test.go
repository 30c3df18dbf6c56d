package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store/storetest"
)

// seedLog appends events to a fresh data directory's log, plus a stranger's
// garbage on idx.>, and leaves the directory unowned.
func seedLog(t *testing.T) (string, []events.Event) {
	t.Helper()
	data := t.TempDir()
	scan, now := events.NewID(), time.Now()
	evs := []events.Event{
		events.New("nas1", scan, now, &events.ScanStarted{Root: "/srv"}),
		events.New("nas1", scan, now, &events.FileScanned{File: events.File{Path: "/srv/caf\xe9", Size: 1}}),
		events.New("laptop", scan, now, &events.FileDeleted{Path: "/home/x"}),
	}
	storetest.Seed(t, data, evs...)
	// A stranger publishes garbage on the subjects.
	srv := storetest.MustOpenServer(t, data, true)
	nc, err := srv.Connect("stranger")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request("idx.nas1.file.scanned", []byte("not an event"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Close()
	return data, evs
}

func TestEventsPrintsTheLog(t *testing.T) {
	t.Parallel()
	data, evs := seedLog(t)
	lines := func(args ...string) []map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errb}
		if err := m.Run(context.Background(), append([]string{"events", "--data", data}, args...)); err != nil {
			t.Fatalf("events %v: %v\n%s", args, err, errb.String())
		}
		var got []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l == "" {
				continue
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line is not JSON: %v: %s", err, l)
			}
			got = append(got, v)
		}
		return got
	}
	all := lines()
	if len(all) != 4 {
		t.Fatalf("%d lines, want 4", len(all))
	}
	// --json, which every command takes, prints the same lines.
	if got := lines("--json"); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Fatalf("--json: %v, want %v", got, all)
	}
	for i, l := range all {
		if l["seq"].(float64) != float64(i+1) {
			t.Fatalf("line %d has seq %v", i, l["seq"])
		}
	}
	ev := all[1]["event"].(map[string]any)
	if ev["id"] != evs[1].ID.String() || all[1]["subject"] != "idx.nas1.file.scanned" {
		t.Fatalf("line 2: %v", all[1])
	}
	if all[3]["error"] == nil || all[3]["raw"] != "not an event" {
		t.Fatalf("the stranger's garbage should be an error line: %v", all[3])
	}
	if got := lines("--from", "3"); len(got) != 2 || got[0]["seq"].(float64) != 3 {
		t.Fatalf("--from 3: %v", got)
	}
	if got := lines("--machine", "laptop"); len(got) != 1 || got[0]["subject"] != "idx.laptop.file.deleted" {
		t.Fatalf("--machine laptop: %v", got)
	}
	if got := lines("--type", "FileScanned"); len(got) != 2 {
		t.Fatalf("--type FileScanned: %v", got)
	}
	var errb bytes.Buffer
	err := (&Main{Stdout: &bytes.Buffer{}, Stderr: &errb}).Run(context.Background(), []string{"events", "--data", data, "--type", "FileEaten"})
	if app.ExitCode(err) != app.ExitUsage {
		t.Fatalf("--type FileEaten: %v", err)
	}
}

// A mistyped --data is not made a data directory by a command that only
// reads: it says there is none, as a usage error, and creates nothing (an
// empty log made there was later taken for a scan that stopped before it
// indexed).
func TestReadingCommandsCreateNoDataDirectory(t *testing.T) {
	t.Parallel()
	data, _ := seedLog(t)
	typo := data + "-typo"
	for _, args := range [][]string{{"events"}, {"rot"}, {"find", "x"}, {"stats"}, {"events"}} {
		var errb bytes.Buffer
		m := &Main{Stdout: &bytes.Buffer{}, Stderr: &errb}
		err := m.Run(context.Background(), append(args, "--data", typo))
		if got, want := app.ExitCode(err), app.ExitUsage; got != want {
			t.Fatalf("%v --data %s: exit %d (%v), want %d", args, typo, got, err, want)
		}
		if !strings.Contains(err.Error(), "no data directory at "+typo) {
			t.Fatalf("%v: %v, want it to say there is no data directory", args, err)
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s: %v", args, typo, err)
		}
	}
	// A directory that exists but holds no log gets no log either.
	empty := t.TempDir()
	err := (&Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}).Run(context.Background(), []string{"events", "--data", empty})
	if app.ExitCode(err) != app.ExitUsage {
		t.Fatalf("events on an empty directory: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("events wrote %d entries into an empty directory", len(ents))
	}
}
