package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestQueryWaitsForAScanUpdatingTheIndex: a standalone indexer-scan owns
// the data directory and holds index.db only while it updates it (at its
// end, and after each rescan with --watch). A query that comes meanwhile
// waits for it instead of failing.
func TestQueryWaitsForAScanUpdatingTheIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scan, now := events.NewID(), time.Now()
	storetest.Seed(t, dir,
		events.New("m", scan, now, &events.ScanStarted{Root: "/r"}),
		events.New("m", scan, now, &events.FileScanned{File: events.File{Path: "/r/report.txt", Size: 5, Hashes: events.Hashes{SHA256: strings.Repeat("a", 64)}}}),
	)
	srv := storetest.MustOpenServer(t, dir, true)
	if _, err := projections.Build(context.Background(), storetest.MustOpenLog(t, srv), store.Dir(dir).IndexPath(), projections.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	lock, err := store.LockDir(dir, "indexer-scan")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	db := &store.DB{Path: store.Dir(dir).IndexPath()}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	// The scan finishes its update while the query waits for the lock.
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(300 * time.Millisecond) // longer than the query's first try at the lock
		db.Close()
	}()
	out := mustRun(t, "find", "report", "--data", dir)
	<-released
	if !strings.Contains(out, "/r/report.txt") {
		t.Fatalf("find: %q", out)
	}
}
