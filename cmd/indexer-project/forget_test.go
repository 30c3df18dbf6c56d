package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// forgetWorld seeds dir with files of machines m1 and m2 and returns the
// last sequence.
func forgetWorld(t *testing.T, dir string) uint64 {
	t.Helper()
	scan, now := events.NewID(), time.Now()
	f := func(p string, sha byte) events.File {
		return events.File{Path: events.Path(p), Size: 10, Mode: 0o644, Inode: uint64(sha), Device: 1,
			Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", sha)}}
	}
	link := f("/d/sub/l", 0)
	link.Mode, link.Target, link.Hashes = 0o777|1<<27, "b", events.Hashes{}
	ev := func(m string, d events.Payload) events.Event { return events.New(m, scan, now, d) }
	return seedDataDir(t, dir, []events.Event{
		ev("m1", &events.FileScanned{File: f("/d/a", 1)}),
		ev("m1", &events.FileScanned{File: f("/d/sub/b", 2)}),
		ev("m1", &events.FileScanned{File: link}),
		ev("m2", &events.FileScanned{File: f("/d/sub/b", 2)}),
	})
}

// openIndex opens dir's index.db read-only until the test ends.
func openIndex(t *testing.T, path string) *projections.Index {
	t.Helper()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return projections.NewIndex(db)
}

// TestForget: forget asks for --yes off a terminal, refuses a machine or
// root the index does not hold, and takes the files under the root out of
// the index while their history, and an index of an earlier moment, keep
// them.
func TestForget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	before := forgetWorld(t, dir)
	_, err := runMain(t, "forget", "--data", dir, "--machine", "m1", "--root", "/d/sub")
	if app.ExitCode(err) != app.ExitUsage || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "1 file (10 B), 1 link of machine m1 under /d/sub") {
		t.Fatalf("forget without --yes: %v, want a usage error asking for --yes and saying what", err)
	}
	missing := filepath.Join(t.TempDir(), "typo")
	if _, err := runMain(t, "forget", "--data", missing, "--machine", "m1", "--yes"); app.ExitCode(err) != app.ExitUsage || !strings.Contains(err.Error(), "no log in") {
		t.Fatalf("forget in a directory without a log: %v, want a usage error", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("forget created %s: %v", missing, err)
	}
	if _, err := runMain(t, "forget", "--data", dir, "--machine", "m3", "--yes"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("forget of an unknown machine: %v, want ErrNotFound", err)
	}
	if _, err := runMain(t, "forget", "--data", dir, "--machine", "m1", "--root", "/nowhere", "--yes"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("forget of an unknown root: %v, want ErrNotFound", err)
	}
	if _, err := runMain(t, "forget", "--data", dir, "--machine", "m1", "--root", "d", "--yes"); app.ExitCode(err) != app.ExitUsage {
		t.Fatalf("forget of a relative root: %v, want a usage error", err)
	}
	// Standard input that is not a terminal, even a character device, is
	// not asked.
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	err = (&Main{Stdin: null, Stdout: io.Discard, Stderr: io.Discard}).Run(context.Background(), []string{"forget", "--data", dir, "--machine", "m1"})
	if app.ExitCode(err) != app.ExitUsage || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("forget with /dev/null as input: %v, want a usage error asking for --yes", err)
	}
	out, err := runMain(t, "forget", "--data", dir, "--machine", "m1", "--root", "/d/sub/", "--yes", "--json", "--reason", "sold")
	if err != nil {
		t.Fatal(err)
	}
	var got forgotten
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Machine != "m1" || got.Root != "/d/sub" || got.Files != 1 || got.Links != 1 || got.Seq != before+1 || !got.Indexed {
		t.Fatalf("forget --json: %s", out)
	}
	if _, err := runMain(t, "forget", "--data", dir, "--machine", "m1", "--root", "/d/sub", "--yes"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("forgetting /d/sub again: %v, want ErrNotFound: nothing is left there", err)
	}
	ix := openIndex(t, store.Dir(dir).IndexPath())
	if _, err := ix.Lookup("m1", "/d/sub/b"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("m1's /d/sub/b after forget: %v", err)
	}
	for _, k := range [][2]string{{"m1", "/d/a"}, {"m2", "/d/sub/b"}} {
		if _, err := ix.Lookup(k[0], events.Path(k[1])); err != nil {
			t.Fatalf("%s's %s after forgetting m1's /d/sub: %v", k[0], k[1], err)
		}
	}
	hs, err := ix.History("m1", "/d/sub/b")
	if err != nil || len(hs) != 2 || hs[1].Type != events.TypeFilesForgotten || hs[1].Seq != got.Seq {
		t.Fatalf("history of a forgotten file: %+v, %v", hs, err)
	}
	// Time travel: as of before the forget, the file is there.
	past := filepath.Join(t.TempDir(), "past.db")
	if _, err := runMain(t, "rebuild", "--data", dir, "--until-seq", fmt.Sprint(before), "--into", past); err != nil {
		t.Fatal(err)
	}
	if _, err := openIndex(t, past).Lookup("m1", "/d/sub/b"); err != nil {
		t.Fatalf("m1's /d/sub/b as of seq %d: %v", before, err)
	}
}

// TestForgetBesideARunningProjector: with indexer-project running, forget
// publishes through it and the running projector applies the event.
func TestForgetBesideARunningProjector(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	forgetWorld(t, dir)
	url := startInProcess(t, dir)
	var ok map[string]any
	getJSON(t, url+"/ready", 200, &ok)
	// A scan of m2 holds its lease: forget waits for it to end.
	env, err := app.Open(context.Background(), app.Config{DataDir: dir}, app.OpenOptions{Owner: "test", AllowClient: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	lease, err := env.Log.AcquireLease(context.Background(), "m2", "the scan of m2", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = runMain(t, "forget", "--data", dir, "--machine", "m2", "--yes")
	if app.ExitCode(err) != app.ExitLocked || !strings.Contains(err.Error(), "the scan of m2") {
		t.Fatalf("forget during a scan of m2: %v, want exit %d naming the scan", err, app.ExitLocked)
	}
	if err := lease.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := runMain(t, "forget", "--data", dir, "--machine", "m2", "--yes")
	if err != nil || !strings.Contains(out, "forgot 1 file (10 B) of machine m2") || !strings.Contains(out, "the running indexer-project applies it") {
		t.Fatalf("forget beside indexer-project: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var st projections.Stats
		getJSON(t, url+"/api/stats", 200, &st)
		if st.Files == 2 {
			break // m1's two files; m2's one is forgotten
		}
		if ctx.Err() != nil {
			t.Fatalf("stats after forgetting m2: %+v", st)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
