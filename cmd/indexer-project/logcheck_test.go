package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// TestLostJetStreamNeedsTheOperator loses DATA/jetstream under a good
// index: status says so, a rebuild refuses, and only --accept-new-log
// builds a new index, keeping the old one aside.
func TestLostJetStreamNeedsTheOperator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	last := seedSteps(t, dir, 21, 200)
	if _, err := runMain(t, "rebuild", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(store.Dir(dir).JetStreamPath()); err != nil {
		t.Fatal(err)
	}
	out, err := runMain(t, "status", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("checkpoint       %d", last), "stopped", "--accept-new-log"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status does not say %q:\n%s", want, out)
		}
	}
	if _, err := runMain(t, "rebuild", "--data", dir); !errors.Is(err, projections.ErrLogReplaced) {
		t.Fatalf("rebuild = %v, want ErrLogReplaced", err)
	}
	if out, err := runMain(t, "rebuild", "--data", dir, "--accept-new-log"); err != nil || !strings.Contains(out, "at seq 0") {
		t.Fatalf("rebuild --accept-new-log: %q %v", out, err)
	}
	orphans, _ := filepath.Glob(store.Dir(dir).IndexPath() + ".orphaned-*")
	if len(orphans) != 1 {
		t.Fatalf("orphaned indexes %v, want one", orphans)
	}
	old := &store.DB{Path: orphans[0], ReadOnly: true}
	if err := old.Open(); err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if cp, err := projections.NewIndex(old).Checkpoint(); err != nil || cp.Seq != last {
		t.Fatalf("orphaned index at %d, %v; want %d", cp.Seq, err, last)
	}
}
