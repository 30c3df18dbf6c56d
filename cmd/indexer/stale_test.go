package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// closedURL returns a NATS URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "nats://" + addr
}

// TestStaleServerURL: a standalone indexer-scan killed with SIGKILL leaves
// server.url behind, and no process. Queries must not take it for an owner
// (that was "data directory in use", exit 11): they remove it and read the
// directory themselves.
func TestStaleServerURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scan, now := events.NewID(), time.Now()
	storetest.Seed(t, dir,
		events.New("m", scan, now, &events.ScanStarted{Root: "/r"}),
		events.New("m", scan, now, &events.FileScanned{File: events.File{Path: "/r/a", Size: 5, Hashes: events.Hashes{SHA256: strings.Repeat("a", 64)}}}),
	)
	urlFile := store.Dir(dir).ServerURLPath()
	writeStale := func() {
		t.Helper()
		if err := os.WriteFile(urlFile, []byte(closedURL(t)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The scan died before it built index.db: the log is there, the index
	// is not, and the message says how to build it.
	writeStale()
	_, errOut, code := runMain(t, "stats", "--data", dir)
	if code != app.ExitError || !strings.Contains(errOut, "indexer-project rebuild") {
		t.Fatalf("stats with a stale server.url and no index: exit %d, want %d and a hint to rebuild:\n%s", code, app.ExitError, errOut)
	}
	if _, err := os.Stat(urlFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stale server.url is still there: %v", err)
	}

	// With the index built, a stale server.url is no obstacle either.
	srv := storetest.MustOpenServer(t, dir, true)
	if _, err := projections.Build(context.Background(), storetest.MustOpenLog(t, srv), store.Dir(dir).IndexPath(), projections.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	writeStale()
	for _, args := range [][]string{{"stats"}, {"find", "a"}, {"dupes"}, {"machines"}} {
		out := mustRun(t, append(args, "--data", dir)...)
		if args[0] == "stats" && !strings.Contains(out, "files") {
			t.Errorf("stats: %s", out)
		}
	}
}
