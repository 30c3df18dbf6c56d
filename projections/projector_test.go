package projections

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/simtree"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

func TestNewerSchemaStopsWithClearError(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	g := newGen("nas1", 1)
	good := appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"}), g.ev(&events.FileScanned{File: file("/a", 1, 1, 1)}))
	newer := appendRaw(t, log, "idx.nas1.file.scanned", `{"v":2,"type":"FileScanned","id":"01KE1FHYPGAAAAAAAAAAAAAAAA","machine":"nas1","data":{"path":"/b"}}`)
	last := appendAll(t, log, g.ev(&events.FileScanned{File: file("/c", 1, 1, 2)}))

	p := MustOpenProjector(t, log, "")
	err := runProjector(t, p)()
	if !errors.Is(err, events.ErrNewerSchema) || !strings.Contains(err.Error(), "seq 3") {
		t.Fatalf("Run = %v, want a stop at seq %d with ErrNewerSchema", err, newer)
	}
	if got := p.Checkpoint(); got != good {
		t.Fatalf("checkpoint %d, want %d (everything before the newer event)", got, good)
	}
	if err := p.WaitFor(context.Background(), last); !errors.Is(err, events.ErrNewerSchema) {
		t.Fatalf("WaitFor past the stop = %v, want ErrNewerSchema", err)
	}
	if _, err := p.Index().Lookup("nas1", "/a"); err != nil {
		t.Fatal(err)
	}
	// A restart stops at the same place rather than skipping it.
	if err := p.CatchUp(context.Background()); !errors.Is(err, events.ErrNewerSchema) {
		t.Fatalf("CatchUp again = %v", err)
	}
}

func TestWaitForIsWokenByCommits(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	tree := simtree.New("m", 1)
	for i := range 5 {
		seq := appendAll(t, log, tree.Step())
		waitFor(t, p, seq)
		if i == 4 {
			st, err := p.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !st.CaughtUp || st.Checkpoint != seq || st.Lag != 0 || st.IndexBytes == 0 || st.EventsPerSec <= 0 {
				t.Fatalf("status %+v", st)
			}
		}
	}
}

// openServerAt opens an in-process server on dir and a log on it.
func openServerAt(t *testing.T, dir string) (*embedded.Server, *store.Log) {
	t.Helper()
	srv := storetest.MustOpenServer(t, dir, true)
	return srv, storetest.MustOpenLog(t, srv)
}

func capture(t *testing.T) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// TestTruncatedLogIsDetected loses the log's tail the way a power loss does
// (an older copy of the store comes back, same stream) and checks the
// projector rebuilds instead of keeping events the log no longer has.
func TestTruncatedLogIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, snap := t.TempDir(), t.TempDir()
	index := filepath.Join(t.TempDir(), "index.db")
	tree := simtree.New("m", 2)

	srv, log := openServerAt(t, dir)
	evs := []events.Event{tree.StartScan()}
	for range 200 {
		evs = append(evs, tree.Step())
	}
	kept := appendAll(t, log, evs...)
	log.Conn.Close()
	srv.Close()
	if out, err := exec.Command("cp", "-a", store.Dir(dir).JetStreamPath(), snap).CombinedOutput(); err != nil {
		t.Fatalf("snapshot: %v %s", err, out)
	}

	srv, log = openServerAt(t, dir)
	evs = evs[:0]
	for range 200 {
		evs = append(evs, tree.Step())
	}
	lost := appendAll(t, log, evs...)
	if _, err := CatchUp(ctx, log, index, nil); err != nil {
		t.Fatal(err)
	}
	log.Conn.Close()
	srv.Close()

	// The old copy of the store comes back.
	os.RemoveAll(store.Dir(dir).JetStreamPath())
	if out, err := exec.Command("cp", "-a", store.Dir(snap).JetStreamPath(), dir).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v %s", err, out)
	}
	srv, log = openServerAt(t, dir)
	defer srv.Close()
	defer log.Conn.Close()
	logger, lines := capture(t)
	p := &Projector{Log: log, Path: index, Logger: logger}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.Checkpoint(); got != lost {
		t.Fatalf("index at %d before, want %d", got, lost)
	}
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lines.String(), "the log was truncated") {
		t.Fatalf("no log line saying why it rebuilt:\n%s", lines)
	}
	if got := p.Checkpoint(); got != kept {
		t.Fatalf("checkpoint %d after rebuild, want %d", got, kept)
	}
	checkSameAsBuild(t, log, p.Index())
}

// checkSameAsBuild compares ix with a fresh build from log.
func checkSameAsBuild(t *testing.T, log *store.Log, ix *Index) {
	t.Helper()
	if got, want := dump(t, ix), dump(t, builtIndex(t, log)); got != want {
		t.Fatalf("index differs from a fresh build:\n%s", diff(want, got))
	}
}

func TestRecreatedStreamIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	index := filepath.Join(t.TempDir(), "index.db")
	logA := MustOpenLog(t, MustOpenServer(t))
	a := simtree.New("m", 3)
	appendAll(t, logA, a.StartScan(), a.Step(), a.Step(), a.Step())
	if _, err := CatchUp(ctx, logA, index, nil); err != nil {
		t.Fatal(err)
	}
	// Another stream, with more events than the first had.
	logB := MustOpenLog(t, MustOpenServer(t))
	b := simtree.New("m", 4)
	evs := []events.Event{b.StartScan()}
	for range 20 {
		evs = append(evs, b.Step())
	}
	appendAll(t, logB, evs...)
	logger, lines := capture(t)
	p := &Projector{Log: logB, Path: index, Logger: logger}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Another stream is not rebuilt into the index by itself: the operator
	// accepts it.
	if err := p.CatchUp(ctx); !errors.Is(err, ErrLogReplaced) {
		t.Fatalf("CatchUp = %v, want ErrLogReplaced", err)
	}
	if !strings.Contains(lines.String(), "the stream was deleted and created again") {
		t.Fatalf("no log line saying why it stopped:\n%s", lines)
	}
	if _, err := p.AcceptNewLog(ctx); err != nil {
		t.Fatal(err)
	}
	checkSameAsBuild(t, logB, p.Index())
}

// TestRebuildWhileReadersRead swaps a rebuilt index in under a running
// projector while readers query it without pause.
func TestRebuildWhileReadersRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := MustOpenLog(t, MustOpenServer(t))
	tree := simtree.New("m", 5)
	evs := []events.Event{tree.StartScan()}
	evs = append(evs, tree.Walk(2000, 5)...)
	seq := appendAll(t, log, evs...)
	known := tree.Paths()[0]

	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	waitFor(t, p, seq)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, errs int
	var mu sync.Mutex
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := p.Index().Lookup("m", known)
				if err == nil {
					_, err = p.Index().Find(FindQuery{Pattern: "report", Limit: 5})
				}
				mu.Lock()
				reads++
				if err != nil {
					errs++
					t.Errorf("read during rebuild: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	// Events keep coming while the rebuild runs.
	// (Not appendAll: its t.Fatal in this goroutine would leave the test
	// waiting for more forever.)
	more := make(chan error, 1)
	go func() {
		var evs []events.Event
		for range 500 {
			evs = append(evs, tree.Step())
		}
		more <- log.Append(ctx, evs...)
	}()
	if err := p.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-more; err != nil {
		t.Fatalf("append during the rebuild: %v", err)
	}
	info, err := log.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.LastSeq
	waitFor(t, p, last)
	close(stop)
	wg.Wait()
	if reads == 0 || errs > 0 {
		t.Fatalf("%d reads, %d errors", reads, errs)
	}
	if _, err := os.Stat(p.Path + ".rebuild"); !os.IsNotExist(err) {
		t.Fatalf("rebuild file left behind: %v", err)
	}
	checkSameAsBuild(t, log, p.Index())
}

// logOfSteps is a log holding a scan start and n steps of a simulated tree
// of machine m.
func logOfSteps(t *testing.T, seed uint64, n int) *store.Log {
	t.Helper()
	log := MustOpenLog(t, MustOpenServer(t))
	tree := simtree.New("m", seed)
	evs := []events.Event{tree.StartScan()}
	for range n {
		evs = append(evs, tree.Step())
	}
	appendAll(t, log, evs...)
	return log
}

func TestInterruptedBuildResumes(t *testing.T) {
	t.Parallel()
	log := logOfSteps(t, 6, 3000)
	path := filepath.Join(t.TempDir(), "index.db.rebuild")

	ctx, cancel := context.WithCancel(context.Background())
	var stoppedAt uint64
	_, err := Build(ctx, log, path, BuildOptions{BatchSize: 500, Progress: func(seq uint64) {
		stoppedAt = seq // the batch being gathered may still commit
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || stoppedAt == 0 {
		t.Fatalf("interrupted build: %v at %d", err, stoppedAt)
	}
	logger, lines := capture(t)
	var firstCommit uint64
	cp, err := Build(context.Background(), log, path, BuildOptions{BatchSize: 500, Logger: logger, Progress: func(seq uint64) {
		if firstCommit == 0 {
			firstCommit = seq
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lines.String(), "resuming") || firstCommit <= stoppedAt || firstCommit > stoppedAt+500 {
		t.Fatalf("not resumed at %d: first commit %d; log:\n%s", stoppedAt, firstCommit, lines)
	}
	if cp.Seq != 3001 {
		t.Fatalf("checkpoint %d", cp.Seq)
	}
	db := MustOpenDB(t, path)
	checkSameAsBuild(t, log, NewIndex(db))
}

// TestUnreadableBuildFileIsReplaced: a build file that does not open (here
// not a bbolt file; store.DB refuses as well one an earlier boot left
// unsynced) is discarded and the index built afresh.
func TestUnreadableBuildFileIsReplaced(t *testing.T) {
	t.Parallel()
	log := logOfSteps(t, 7, 300)
	path := filepath.Join(t.TempDir(), "index.db.rebuild")
	if err := os.WriteFile(path, []byte("not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	logger, lines := capture(t)
	cp, err := Build(context.Background(), log, path, BuildOptions{Logger: logger})
	if err != nil || cp.Seq != 301 || !strings.Contains(lines.String(), "discarding unreadable build file") {
		t.Fatalf("built to %d: %v; log:\n%s", cp.Seq, err, lines)
	}
	checkSameAsBuild(t, log, NewIndex(MustOpenDB(t, path)))
}

// TestTimeTravel builds the index as of a past sequence and a past time and
// compares it with an index of only the events up to then.
func TestTimeTravel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := MustOpenLog(t, MustOpenServer(t))
	past := MustOpenLog(t, MustOpenServer(t))
	tree := simtree.New("m", 8)
	first := []events.Event{tree.StartScan()}
	for range 300 {
		first = append(first, tree.Step())
	}
	first = append(first, tree.EndScan())
	then := appendAll(t, log, first...)
	appendAll(t, past, first...)
	second := []events.Event{tree.StartScan()}
	for range 300 {
		second = append(second, tree.Step())
	}
	appendAll(t, log, second...)

	want := filepath.Join(t.TempDir(), "past.db")
	if _, err := Build(ctx, past, want, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	wantDump := dump(t, NewIndex(MustOpenDB(t, want)))

	rec, err := log.Get(ctx, then)
	if err != nil {
		t.Fatal(err)
	}
	next, err := log.Get(ctx, then+1)
	if err != nil {
		t.Fatal(err)
	}
	for name, opt := range map[string]BuildOptions{
		"until-seq":  {UntilSeq: then},
		"until-time": {UntilTime: rec.Time},
	} {
		if name == "until-time" && !next.Time.After(rec.Time) {
			continue // two events stored in the same nanosecond
		}
		path := filepath.Join(t.TempDir(), name+".db")
		cp, err := Build(ctx, log, path, opt)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Seq != then {
			t.Fatalf("%s: checkpoint %d, want %d", name, cp.Seq, then)
		}
		if got := dump(t, NewIndex(MustOpenDB(t, path))); got != wantDump {
			t.Fatalf("%s: differs from an index of the past events:\n%s", name, diff(wantDump, got))
		}
	}
}

// TestCommitGapGroupsTrickles publishes events one at a time, a few
// milliseconds apart, as a scan does, and counts the projector's commits:
// with a gap there is at most one per gap, without one nearly every event.
func TestCommitGapGroupsTrickles(t *testing.T) {
	t.Parallel()
	trickle := func(gap time.Duration) (uint64, time.Duration) {
		log := MustOpenLog(t, MustOpenServer(t))
		p := MustOpenProjector(t, log, "")
		p.CommitGap = gap
		runProjector(t, p)
		tree := simtree.New("m", 1)
		tree.Untracked = true
		evs := append([]events.Event{tree.StartScan()}, tree.Walk(150, 5)...)
		start := time.Now()
		var last uint64
		for _, e := range evs {
			last = appendAll(t, log, e)
			time.Sleep(2 * time.Millisecond) // pacing the publisher, not waiting for a condition
		}
		waitFor(t, p, last)
		st, err := p.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.Commits, time.Since(start)
	}
	gap := 100 * time.Millisecond
	grouped, took := trickle(gap)
	most := uint64(took/gap) + 2 // the first event is committed at once, the last may be too
	if grouped == 0 || grouped > most {
		t.Errorf("with a %s gap: %d commits in %s, want 1 to %d", gap, grouped, took, most)
	}
	// Without a gap the projector commits as often as the disk lets it: on
	// an idle machine nearly every event, on a loaded one (each commit's
	// fsync slower) fewer, but always more than the gap allowed.
	single, took := trickle(-1)
	if single <= grouped {
		t.Errorf("without a gap: %d commits in %s, want more than the %d with a %s gap", single, took, grouped, gap)
	}
	t.Logf("commits: %d with a %s gap, %d without", grouped, gap, single)
}

// TestCommitGapHoldsOnlyATrickle: an event right after a commit waits for
// the gap, one after a quiet spell is committed at once.
func TestCommitGapHoldsOnlyATrickle(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	p := MustOpenProjector(t, log, "")
	p.CommitGap, p.BatchWait = time.Second, 5*time.Second
	runProjector(t, p)
	tree := simtree.New("m", 1)
	tree.Untracked = true
	evs := append([]events.Event{tree.StartScan()}, tree.Walk(2, 5)...)
	// The batch holding evs[0] returns after start; the next one may not
	// return before a gap has passed since.
	start := time.Now()
	waitFor(t, p, appendAll(t, log, evs[0]))
	waitFor(t, p, appendAll(t, log, evs[1]))
	if held := time.Since(start); held < p.CommitGap {
		t.Errorf("two events in a row were both visible after %s, want the second held for the gap (%s)", held, p.CommitGap)
	}
	time.Sleep(p.CommitGap + 100*time.Millisecond) // a quiet spell
	start = time.Now()
	waitFor(t, p, appendAll(t, log, evs[2]))
	if took := time.Since(start); took > p.CommitGap*9/10 {
		t.Errorf("an event after a quiet spell was visible after %s, want at once", took)
	}
}
