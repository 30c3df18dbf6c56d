package projections

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/simtree"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestMissingJetStreamKeepsTheIndex loses the data directory's jetstream/
// under a good index: the server starts on an empty store and creates an
// empty stream. The index must not be rebuilt down to nothing: it is the
// only copy of what it knew.
func TestMissingJetStreamKeepsTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	index := filepath.Join(t.TempDir(), "index.db")
	tree := simtree.New("m", 11)
	srv, log := openServerAt(t, dir)
	evs := []events.Event{tree.StartScan()}
	evs = append(evs, tree.Walk(50, 3)...)
	seq := appendAll(t, log, evs...)
	if _, err := CatchUp(ctx, log, index, nil); err != nil {
		t.Fatal(err)
	}
	known := tree.Paths()[0]
	log.Conn.Close()
	srv.Close()

	if err := os.RemoveAll(store.Dir(dir).JetStreamPath()); err != nil {
		t.Fatal(err)
	}
	_, log = openServerAt(t, dir) // the log's Open creates an empty stream
	if info, err := log.Info(ctx); err != nil || info.LastSeq != 0 {
		t.Fatalf("stream after losing jetstream/: %+v, %v", info, err)
	}
	p := MustOpenProjector(t, log, index)
	err := p.CatchUp(ctx)
	if !errors.Is(err, ErrLogReplaced) || !strings.Contains(err.Error(), "--accept-new-log") {
		t.Fatalf("CatchUp = %v, want ErrLogReplaced naming --accept-new-log", err)
	}
	if got := p.Checkpoint(); got != seq {
		t.Fatalf("checkpoint %d, want %d: the index was touched", got, seq)
	}
	if _, err := p.Index().Lookup("m", events.Path(known)); !errors.Is(err, ErrLogReplaced) {
		t.Fatalf("a query of the orphaned index = %v, want ErrLogReplaced", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CaughtUp || !strings.Contains(st.Error, "created again") {
		t.Fatalf("status %+v: want an error and not caught up", st)
	}
	if err := p.Rebuild(ctx); !errors.Is(err, ErrLogReplaced) {
		t.Fatalf("Rebuild = %v, want a refusal (ErrLogReplaced)", err)
	}

	// The operator accepts the new log: the old index is kept aside.
	orphan, err := p.AcceptNewLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(orphan), "index.db.orphaned-") {
		t.Fatalf("orphan %s", orphan)
	}
	if got := p.Checkpoint(); got != 0 {
		t.Fatalf("checkpoint %d after accepting the empty log", got)
	}
	old := &Projector{Log: log, Path: orphan}
	if err := old.Open(); err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.Index().Lookup("m", events.Path(known)); err != nil || old.Checkpoint() != seq {
		t.Fatalf("orphaned index at %d, lookup %v: want it as it was, at %d", old.Checkpoint(), err, seq)
	}
	if _, err := p.Index().Stats(); err != nil {
		t.Fatalf("the new index answers no query: %v", err)
	}
}

// TestRunningProjectorSeesStreamRecreated deletes the stream under a
// running projector with the NATS CLI, then a new scan stores a few events
// in a new stream: the projector must stop, not wait at its old sequence
// serving the deleted log's files as if caught up.
func TestRunningProjectorSeesStreamRecreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli := storetest.NATSCLI(t)
	srv := storetest.MustOpenServer(t, "", false)
	log := storetest.MustOpenLog(t, srv)
	tree := simtree.New("m", 12)
	evs := []events.Event{tree.StartScan()}
	evs = append(evs, tree.Walk(20, 2)...)
	seq := appendAll(t, log, evs...)
	p := MustOpenProjector(t, log, "")
	done := runProjector(t, p)
	waitFor(t, p, seq)

	if out, err := exec.Command(cli, "--server", srv.ClientURL(), "stream", "rm", "-f", store.DefaultStream).CombinedOutput(); err != nil {
		t.Fatalf("nats stream rm: %v\n%s", err, out)
	}
	scan := storetest.MustOpenLog(t, srv) // a new scan provisions the stream anew
	b := simtree.New("m", 13)
	if last := appendAll(t, scan, b.StartScan(), b.Step(), b.Step(), b.Step()); last != 4 {
		t.Fatalf("new stream at %d", last)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.WaitFor(wctx, seq+1); !errors.Is(err, ErrLogReplaced) {
		t.Fatalf("WaitFor = %v, want the projector stopped with ErrLogReplaced", err)
	}
	if err := done(); !errors.Is(err, ErrLogReplaced) {
		t.Fatalf("Run = %v", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CaughtUp || st.StreamLastSeq != 4 || st.Checkpoint != seq || !strings.Contains(st.Error, "created again") {
		t.Fatalf("status %+v: want checkpoint %d against last seq 4 as an error", st, seq)
	}
	if _, err := p.Index().Stats(); !errors.Is(err, ErrLogReplaced) {
		t.Fatalf("query = %v, want ErrLogReplaced", err)
	}
}

// TestLogVerdict pins the rule for rebuilding without the operator.
func TestLogVerdict(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := created.Add(time.Hour)
	cp := store.Checkpoint{Seq: 100, StreamCreated: created, ModelVersion: ModelVersion}
	info := func(first, last uint64) store.StreamInfo {
		return store.StreamInfo{Created: created, FirstSeq: first, LastSeq: last, Msgs: last - first + 1}
	}
	for _, c := range []struct {
		name     string
		cp       store.Checkpoint
		info     store.StreamInfo
		lastTime time.Time
		want     string // "" whole, "auto" rebuilt alone, "operator"
	}{
		{"whole", cp, info(1, 120), time.Time{}, ""},
		{"new index", store.Checkpoint{}, store.StreamInfo{}, time.Time{}, ""},
		{"recreated", cp, store.StreamInfo{Created: created.Add(time.Minute), FirstSeq: 1, LastSeq: 200, Msgs: 200}, time.Time{}, "operator"},
		{"empty", cp, store.StreamInfo{Created: created}, time.Time{}, "operator"},
		{"head gone", cp, info(150, 200), time.Time{}, "operator"},
		{"unsynced tail", cp, info(1, 90), at.Add(-2 * time.Minute), "auto"},
		{"older copy", cp, info(1, 90), at.Add(-TailLossWindow - time.Second), "operator"},
		{"tail, time unknown", cp, info(1, 90), time.Time{}, "operator"},
		{"model version", store.Checkpoint{Seq: 100, StreamCreated: created, ModelVersion: 1}, info(1, 120), time.Time{}, "auto"},
	} {
		reason, auto := verdict(c.cp, at, c.info, c.lastTime)
		got := ""
		switch {
		case reason != "" && auto:
			got = "auto"
		case reason != "":
			got = "operator"
		}
		if got != c.want {
			t.Errorf("%s: %q (auto %v), want %s", c.name, reason, auto, c.want)
		}
	}
}
