package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/scanstate"
	"github.com/indexer/indexer/projections/simtree"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// childEnv makes the test binary run indexer-project's main with the
// arguments in it (separated by 0x1f bytes), so the crash test can SIGKILL a
// real process without building one.
const childEnv = "INDEXER_PROJECT_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Args = append([]string{"indexer-project"}, strings.Split(args, "\x1f")...)
		main()
		return
	}
	os.Exit(m.Run())
}

// seedDataDir writes events into dir's embedded log and returns the last
// sequence; no process owns dir afterwards.
func seedDataDir(t *testing.T, dir string, evs []events.Event) uint64 {
	t.Helper()
	return storetest.Seed(t, dir, evs...)
}

// seedSteps seeds dir with a scan of machine m and steps random changes of
// simtree's tree with seed, and returns the last sequence.
func seedSteps(t *testing.T, dir string, seed uint64, steps int) uint64 {
	t.Helper()
	tree := simtree.New("m", seed)
	evs := []events.Event{tree.StartScan()}
	for range steps {
		evs = append(evs, tree.Step())
	}
	return seedDataDir(t, dir, evs)
}

func runMain(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), args)
	if err != nil {
		t.Logf("indexer-project %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), err
}

func TestStatusRebuildAndTimeTravel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	last := seedSteps(t, dir, 1, 300)

	var st ownerStatus
	out, err := runMain(t, "status", "--data", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v: %s", err, out)
	}
	if st.Checkpoint != 0 || st.StreamLastSeq != last || st.Lag != last || st.CaughtUp {
		t.Fatalf("status before any projection: %+v", st)
	}
	// Nothing is working the lag off: status says so, not "catching up".
	if !strings.Contains(out, `"projector_running":false`) {
		t.Fatalf("status --json without a projector: %s", out)
	}
	out, err = runMain(t, "status", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("lag              %d (no projector running: start indexer-project", last); !strings.Contains(out, want) {
		t.Fatalf("status without a projector does not say %q:\n%s", want, out)
	}

	if out, err := runMain(t, "rebuild", "--data", dir); err != nil || !strings.Contains(out, fmt.Sprintf("at seq %d", last)) {
		t.Fatalf("rebuild: %q %v", out, err)
	}
	out, err = runMain(t, "status", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("checkpoint       %d", last), "lag              0 (caught up)", "dead letters     0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status does not say %q:\n%s", want, out)
		}
	}

	past := filepath.Join(t.TempDir(), "past.db")
	if out, err := runMain(t, "rebuild", "--data", dir, "--until-seq", "100", "--into", past); err != nil || !strings.Contains(out, "at seq 100") {
		t.Fatalf("rebuild --until-seq: %q %v", out, err)
	}
	db := &store.DB{Path: past, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if cp, err := projections.NewIndex(db).Checkpoint(); err != nil || cp.Seq != 100 {
		t.Fatalf("past index at %d, %v", cp.Seq, err)
	}
}

// TestRebuildIntoRefusesTheLiveIndex: --into naming the live index or its
// rebuild file, however spelled, is a usage error and leaves the index as
// it was; a build into it would roll the live index back.
func TestRebuildIntoRefusesTheLiveIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	last := seedSteps(t, dir, 2, 50)
	if _, err := runMain(t, "rebuild", "--data", dir); err != nil {
		t.Fatal(err)
	}
	live := store.Dir(dir).IndexPath()
	other := t.TempDir()
	link := func(name, target string) string {
		p := filepath.Join(other, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hard := filepath.Join(other, "hard.db")
	if err := os.Link(live, hard); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, live)
	if err != nil {
		t.Fatal(err)
	}
	for _, into := range []string{
		live,
		rel,
		dir + "/./" + filepath.Base(store.Dir(dir).IndexPath()),
		link("to-index.db", live),
		store.Dir(link("to-data", dir)).IndexPath(),
		hard,
		live + ".rebuild",
		link("to-rebuild", live+".rebuild"), // dangling: the build would create it
	} {
		var out, errb bytes.Buffer
		err := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), []string{"rebuild", "--data", dir, "--until-seq", "10", "--into", into})
		if app.ExitCode(err) != app.ExitUsage || !strings.Contains(fmt.Sprint(err), "build into another file") {
			t.Errorf("rebuild --into %s: exit %d (%v), want a usage error", into, app.ExitCode(err), err)
		}
	}
	if cp := checkpointOf(t, live); cp != last {
		t.Fatalf("the live index is at %d after the refused builds, want %d", cp, last)
	}
	if _, err := os.Stat(live + ".rebuild"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("index.db.rebuild: %v", err)
	}
	// Another file in the data directory is fine, and building into it
	// again too (it is an index).
	past := filepath.Join(dir, "past.db")
	for _, seq := range []string{"10", "20"} {
		if out, err := runMain(t, "rebuild", "--data", dir, "--until-seq", seq, "--into", past); err != nil || !strings.Contains(out, "at seq "+seq) {
			t.Fatalf("rebuild --into %s: %q %v", past, out, err)
		}
	}
	// A file that is not an index (text, or another bbolt file: a scan
	// state), or a directory, is not replaced; nor built into a directory
	// that does not exist.
	notes := filepath.Join(other, "notes.txt")
	os.WriteFile(notes, []byte("precious notes"), 0o644)
	state := filepath.Join(other, "scanstate-m.db")
	ss, err := scanstate.Open(state, "m")
	if err != nil {
		t.Fatal(err)
	}
	ss.Close()
	stateBytes, _ := os.ReadFile(state)
	for _, into := range []string{notes, state, t.TempDir(), filepath.Join(other, "no", "such", "dir", "x.db")} {
		_, err := runMain(t, "rebuild", "--data", dir, "--until-seq", "10", "--into", into)
		if app.ExitCode(err) != app.ExitUsage {
			t.Errorf("rebuild --into %s: exit %d (%v), want a usage error", into, app.ExitCode(err), err)
		}
	}
	if b, _ := os.ReadFile(notes); string(b) != "precious notes" {
		t.Fatalf("notes.txt now holds %d bytes", len(b))
	}
	if b, _ := os.ReadFile(state); !bytes.Equal(b, stateBytes) {
		t.Fatal("the scan state was replaced")
	}
}

func TestUsageAndHelp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, app.ExitOK},
		{[]string{"rebuild", "--help"}, app.ExitOK},
		{[]string{"status", "-h"}, app.ExitOK},
		{[]string{"frobnicate"}, app.ExitUsage},
		{[]string{"--no-such-flag"}, app.ExitUsage},
		{[]string{"rebuild", "--data", t.TempDir(), "--until-seq", "5"}, app.ExitUsage},
		{[]string{"rebuild", "--data", t.TempDir(), "--until-time", "yesterday", "--into", "x"}, app.ExitUsage},
		// No command takes positional arguments.
		{[]string{"status", "--data", t.TempDir(), "extra"}, app.ExitUsage},
		{[]string{"rebuild", "--data", t.TempDir(), "extra"}, app.ExitUsage},
		{[]string{"run", "--data", t.TempDir(), "extra"}, app.ExitUsage},
		{[]string{"extra"}, app.ExitUsage},
	} {
		var out, errb bytes.Buffer
		err := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), c.args)
		if got := app.ExitCode(err); got != c.code {
			t.Errorf("%v: exit %d (%v), want %d", c.args, got, err, c.code)
		}
		if errors.Is(err, flag.ErrHelp) && (!strings.Contains(errb.String(), "Exit codes:") || !strings.Contains(errb.String(), "-data")) {
			t.Errorf("%v: help lacks flags or exit codes:\n%s", c.args, errb.String())
		}
	}
	// --help without a command lists the commands too.
	var out, errb bytes.Buffer
	(&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), []string{"--help"})
	for _, want := range []string{"indexer-project rebuild", "indexer-project status", "-listen"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, errb.String())
		}
	}
	out.Reset()
	if err := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), []string{"--version"}); err != nil || !strings.HasPrefix(out.String(), "indexer-project ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("--version: %v %q", err, out.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// child is one indexer-project process of the crash test.
type child struct {
	cmd   *exec.Cmd
	ready chan struct{}
	mu    sync.Mutex
	log   *bytes.Buffer
}

// logText returns what the child logged so far.
func (c *child) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// startChild starts indexer-project run on dir and returns once its
// projector is running (it logs "projecting").
func startChild(t *testing.T, dir, listen string) *child {
	t.Helper()
	return startChildArgs(t, "run", "--data", dir, "--listen", listen, "--http", "127.0.0.1:0", "--log-level", "info")
}

// startChildArgs starts indexer-project with args, as startChild.
func startChildArgs(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, ready: make(chan struct{}), log: &bytes.Buffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // not waited for: a test that failed early
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			c.mu.Lock()
			c.log.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if !seen && strings.Contains(sc.Text(), "msg=projecting") {
				seen = true
				close(c.ready)
			}
		}
		io.Copy(io.Discard, stderr)
		if !seen {
			close(c.ready)
		}
	}()
	select {
	case <-c.ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("indexer-project did not start:\n%s", c.logText())
	}
	return c
}

// TestRunServesQueries: a running indexer-project answers over HTTP on the
// address it prints.
func TestRunServesQueries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scan := events.NewID()
	seedDataDir(t, dir, []events.Event{
		events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: "/a/x", Size: 3, Hashes: events.Hashes{SHA256: strings.Repeat("a", 64)}}}),
		events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: "/b/y", Size: 3, Hashes: events.Hashes{SHA256: strings.Repeat("a", 64)}}}),
	})
	c := startChild(t, dir, "127.0.0.1:0")
	defer func() { c.cmd.Process.Signal(os.Interrupt); c.cmd.Wait() }()
	url := childURL(t, c)
	var stats struct {
		TotalFiles int `json:"total_files"`
		WastedSize int `json:"wasted_size"`
		Checkpoint int `json:"checkpoint"`
	}
	for deadline := time.Now().Add(30 * time.Second); stats.Checkpoint < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/api/statistics")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
	}
	if stats.TotalFiles != 2 || stats.WastedSize != 3 {
		t.Fatalf("statistics %+v, want 2 files and 3 bytes wasted", stats)
	}
	out, err := runMain(t, "status", "--data", dir, "--json")
	if err != nil || !strings.Contains(out, `"projector_running":true`) || !strings.Contains(out, fmt.Sprintf(`"pid":%d`, c.cmd.Process.Pid)) {
		t.Fatalf("status --json beside a running projector: %s %v", out, err)
	}
}

// TestRebuildAsksTheRunningProjector: `indexer-project rebuild` beside a
// running indexer-project asks it to rebuild, waits, and the index is
// swapped (a new file) while the web API keeps answering.
func TestRebuildAsksTheRunningProjector(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree := simtree.New("m", 3)
	tree.Untracked = true
	evs := append([]events.Event{tree.StartScan()}, tree.Walk(20_000, 5)...)
	last := seedDataDir(t, dir, evs)
	c := startChild(t, dir, "127.0.0.1:0")
	defer func() { c.cmd.Process.Signal(os.Interrupt); c.cmd.Wait() }()
	url := childURL(t, c)
	statusPath := store.Dir(dir).StatusPath()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if st, err := readOwnerStatus(statusPath); err == nil && st.Checkpoint == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up to %d:\n%s", last, c.logText())
		}
	}
	before, err := os.Stat(store.Dir(dir).IndexPath())
	if err != nil {
		t.Fatal(err)
	}

	// Query the web API all through the rebuild.
	stop := make(chan struct{})
	queried := make(chan int)
	go func() {
		n := 0
		defer func() { queried <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(url + "/api/statistics")
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("a query during the rebuild: %v %v", resp, err)
				return
			}
			resp.Body.Close()
			n++
		}
	}()
	out, err := runMain(t, "rebuild", "--data", dir)
	close(stop)
	n := <-queried
	if err != nil || !strings.Contains(out, fmt.Sprintf("at seq %d", last)) || !strings.Contains(out, fmt.Sprintf("by indexer-project PID %d", c.cmd.Process.Pid)) {
		t.Fatalf("rebuild: %q %v", out, err)
	}
	after, err := os.Stat(store.Dir(dir).IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Fatal("index.db is the same file: nothing was swapped in")
	}
	if !strings.Contains(c.logText(), "rebuilt index swapped in") {
		t.Fatalf("the projector did not log the swap:\n%s", c.logText())
	}
	st, err := readOwnerStatus(statusPath)
	if err != nil || st.RebuildsAsked != 1 || st.RebuildsDone != 1 || st.RebuildError != "" {
		t.Fatalf("status after the rebuild: %+v %v", st, err)
	}
	t.Logf("%d queries answered during the rebuild", n)
	if n == 0 {
		t.Fatal("no query was answered during the rebuild")
	}
}

// childURL returns the web address a child printed.
func childURL(t *testing.T, c *child) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(c.logText(), "web UI and API "); ok {
			url, _, _ := strings.Cut(rest, ",")
			if strings.HasPrefix(url, "http://127.0.0.1:") {
				return url
			}
		}
	}
	t.Fatalf("no HTTP address in the log:\n%s", c.logText())
	return ""
}

// TestCrashAtRandomMoments SIGKILLs indexer-project at random moments, 20
// times, while a scanner publishes to it, restarting it each time; then
// checks the index it left continues to exactly a fresh rebuild of the log,
// and to the truth of the simulated tree.
func TestCrashAtRandomMoments(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: 20 process restarts")
	}
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	listen := freePort(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))

	c := startChild(t, dir, listen)
	url := store.ReadServerURL(dir)
	// The data directory's own credential, as a command run on it uses.
	admin, err := store.FindKeyring(dir).Admin()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := store.DialAs(ctx, url, "crash-test-scanner", store.ClientAuth{Credential: admin})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc}
	if err := log.Open(ctx); err != nil {
		t.Fatal(err)
	}

	tree := simtree.New("crash", 9)
	stop := make(chan struct{})
	published := make(chan error, 1)
	var appended int // events appended and flushed, set before published
	go func() {
		a := log.NewAppender()
		err := func() error {
			for i := 0; ; i++ {
				var e events.Event
				switch {
				case i%2000 == 0:
					e = tree.StartScan()
				case i%2000 == 1999:
					e = tree.EndScan()
				default:
					e = tree.Step()
				}
				if err := a.Append(ctx, e); err != nil {
					return err
				}
				// One at a time, so the log holds them in the tree's order
				// even when the server dies with events in flight.
				if err := a.Flush(ctx); err != nil {
					return err
				}
				select {
				case <-stop:
					return nil
				default:
				}
			}
		}()
		appended = int(a.Stored + a.Duplicates) // before the send: the receiver reads it
		published <- err
	}()

	const kills = 20
	for i := range kills {
		// A random moment: this sleep picks when to kill, it waits for no
		// condition.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.cmd.Wait()
		if i < kills-1 {
			c = startChild(t, dir, listen)
		}
	}
	// The last run: let the scanner finish, then stop it cleanly.
	c = startChild(t, dir, listen)
	close(stop)
	if err := <-published; err != nil {
		t.Fatalf("publishing: %v", err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("indexer-project after SIGTERM: %v\n%s", err, c.logText())
	}
	nc.Close()

	// Catch the index up in this process and compare it with a fresh
	// rebuild of the same log.
	local := storetest.MustOpenLog(t, storetest.MustOpenServer(t, dir, true))
	info, err := local.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	index := store.Dir(dir).IndexPath()
	before := checkpointOf(t, index)
	cp, err := projections.CatchUp(ctx, local, index, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events published across %d kills; the index was at %d, caught up to %d", info.LastSeq, kills, before, cp)
	// Each event is in the log once, however many times a kill made the
	// appender resend it.
	distinct := storetest.MustHoldEachOnce(t, local)
	if distinct != appended || info.Msgs != uint64(appended) {
		t.Fatalf("log holds %d events, %d distinct; the appender acknowledged %d", info.Msgs, distinct, appended)
	}
	if cp != info.LastSeq {
		t.Fatalf("caught up to %d, log ends at %d", cp, info.LastSeq)
	}
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if _, err := projections.Build(ctx, local, fresh, projections.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	got, want := dumpFile(t, index), dumpFile(t, fresh)
	if got != want {
		t.Fatalf("index after %d kills differs from a fresh rebuild", kills)
	}
	checkTree(t, index, tree)
}

func checkpointOf(t *testing.T, path string) uint64 {
	t.Helper()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cp, err := projections.NewIndex(db).Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	return cp.Seq
}

func dumpFile(t *testing.T, path string) string {
	t.Helper()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var b bytes.Buffer
	if err := projections.NewIndex(db).Dump(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkTree compares the index's files with the simulated truth.
func checkTree(t *testing.T, path string, tree *simtree.Tree) {
	t.Helper()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ix := projections.NewIndex(db)
	for _, p := range tree.Paths() {
		got, err := ix.Lookup(tree.Machine, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got.File != tree.Files[p] {
			t.Fatalf("%s = %+v, want %+v", p, got.File, tree.Files[p])
		}
	}
	st, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != uint64(len(tree.Files)) {
		t.Fatalf("index holds %d files, the tree %d", st.Files, len(tree.Files))
	}
}

// TestStatusOnlyReads: status creates no index (queries would then answer
// from an empty one) and no log in a directory that has none.
func TestStatusOnlyReads(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	if _, err := runMain(t, "status", "--data", empty); err == nil || !strings.Contains(err.Error(), "nothing at") {
		t.Errorf("status of an empty directory: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("status made %d entries in an empty directory", len(entries))
	}
	dir := t.TempDir()
	last := seedSteps(t, dir, 3, 2)
	out, err := runMain(t, "status", "--json", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var st ownerStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Checkpoint != 0 || st.StreamLastSeq != last || st.Lag != last {
		t.Errorf("status of a log without an index: %+v, %v; want lag %d", st, err, last)
	}
	if _, err := os.Stat(store.Dir(dir).IndexPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status created the index: %v", err)
	}
}

// The status file never says "rebuilding" for a rebuild it counts as done:
// `status` printed "rebuilding" after `rebuild` had reported the end.
func TestStatusNotRebuildingAfterTheRebuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedSteps(t, dir, 7, 200)
	ctx := context.Background()
	var cfg app.Config
	cfg.DataDir = dir
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	p := &projections.Projector{Log: env.Log, Path: store.Dir(dir).IndexPath()}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rb := &rebuilder{p: p, ctx: ctx, logger: slog.New(slog.DiscardHandler), subject: "x"}
	const rebuilds = 10
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= rebuilds; i++ {
			if _, err := rb.handle(ctx, nil); err != nil {
				t.Error(err)
				return
			}
			for rb.state().RebuildsDone < i {
				runtime.Gosched()
			}
		}
	}()
	for n := 0; ; n++ {
		select {
		case <-done:
			t.Logf("%d status snapshots over %d rebuilds", n, rebuilds)
			return
		default:
		}
		st := statusOf(ctx, p, rb, nil)
		if st.Rebuilding && st.RebuildsDone == st.RebuildsAsked {
			t.Fatalf("the status says rebuilding while every rebuild asked for is done: %+v", st)
		}
	}
}

// --until-time takes dates and "N UNIT ago"; a time before the log's first
// event is refused, not built into an empty index.
func TestUntilTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.Local)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.Local)},
		{"2026-01-02 15:04", time.Date(2026, 1, 2, 15, 4, 0, 0, time.Local)},
		{"2 weeks ago", now.Add(-14 * 24 * time.Hour)},
		{"1 day ago", now.Add(-24 * time.Hour)},
		{"90 Minutes ago", now.Add(-90 * time.Minute)},
	} {
		got, err := parseUntil(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseUntil(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"yesterday", "2 fortnights ago", "weeks ago", "2026-13-01"} {
		if _, err := parseUntil(in, now); app.ExitCode(err) != app.ExitUsage {
			t.Errorf("parseUntil(%q): %v, want a usage error", in, err)
		}
	}

	dir := t.TempDir()
	last := seedSteps(t, dir, 2, 50)
	past := filepath.Join(t.TempDir(), "past.db")
	_, err := runMain(t, "rebuild", "--data", dir, "--until-time", "2 years ago", "--into", past)
	if app.ExitCode(err) != app.ExitUsage || !strings.Contains(fmt.Sprint(err), "before the log's first event") {
		t.Fatalf("--until-time before the first event: %v", err)
	}
	if _, err := os.Stat(past); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an index was built: %v", err)
	}
	out, err := runMain(t, "rebuild", "--data", dir, "--until-time", "0 seconds ago", "--into", past)
	if err != nil || !strings.Contains(out, fmt.Sprintf("at seq %d", last)) {
		t.Fatalf("--until-time '0 seconds ago': %q %v", out, err)
	}
}
