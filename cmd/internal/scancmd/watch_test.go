package scancmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// watchRun is an indexer-scan --watch running in the test's process.
type watchRun struct {
	t        *testing.T
	root     string // real path
	data     string
	rescans  chan []string
	hold     chan chan struct{} // a test's OnRescan blocks until told
	cancel   context.CancelFunc
	done     chan error
	stderrMu sync.Mutex
	stderr   bytes.Buffer
	// excluded, when set, says which of the tree's files the index must
	// not hold.
	excluded func(path string) bool
}

// lockedWriter lets the test read stderr while the watch writes it.
type lockedWriter struct{ w *watchRun }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.w.stderrMu.Lock()
	defer l.w.stderrMu.Unlock()
	return l.w.stderr.Write(p)
}

func (w *watchRun) stderrText() string {
	w.stderrMu.Lock()
	defer w.stderrMu.Unlock()
	return w.stderr.String()
}

// startWatch scans root (standalone, in data) and watches it until the test
// ends.
func startWatch(t *testing.T, root string, args ...string) *watchRun {
	t.Helper()
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchRun{t: t, root: real, data: t.TempDir(), rescans: make(chan []string, 1000),
		hold: make(chan chan struct{}, 1), cancel: cancel, done: make(chan error, 1)}
	watching := make(chan struct{})
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: lockedWriter{w}, Hostname: func() (string, error) { return "testhost", nil },
		OnWatching: func() { close(watching) },
		OnRescan: func(dirs []string) {
			select {
			case release := <-w.hold:
				<-release
			default:
			}
			w.rescans <- dirs
		}}
	go func() {
		w.done <- m.Run(ctx, append([]string{"--data", w.data, "--priority", "normal", "--watch", "--watch-delay", "50ms"}, append(args, root)...))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Errorf("watch ended with %v, want context.Canceled\n%s", err, w.stderrText())
		}
	})
	select {
	case <-watching:
	case err := <-w.done:
		t.Fatalf("watch ended before watching: %v\n%s", err, w.stderrText())
	}
	return w
}

// truth is what sha256sum says of every file under root.
func truth(t *testing.T, root string) map[string]string {
	t.Helper()
	cmd := exec.Command("sh", "-c", `find "$1" -type f -print0 | xargs -0 -r sha256sum`, "sh", root)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sha256sum: %v", err)
	}
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		sum, path, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("sha256sum line %q", line)
		}
		files[path] = sum
	}
	return files
}

// indexed is every file the index holds under root, with its sha256. A
// rescan holds index.db while it runs (it indexes beside the scan), for
// over a minute under -race on a busy machine: the file is waited for.
func (w *watchRun) indexed() (map[string]string, error) {
	db := &store.DB{Path: store.Dir(w.data).IndexPath(), ReadOnly: true, LockTimeout: 10 * time.Second}
	for deadline := time.Now().Add(3 * time.Minute); ; {
		err := db.Open()
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) {
			return nil, err
		}
	}
	defer db.Close()
	res, err := projections.NewIndex(db).Find(projections.FindQuery{Under: w.root, Limit: -1, TotalLimit: -1})
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, f := range res.Files {
		files[string(f.Path)] = f.Hashes.SHA256
	}
	return files, nil
}

// diff describes how got differs from want, "" when equal.
func diff(want, got map[string]string) string {
	var b strings.Builder
	n := 0
	for p, h := range want {
		if got[p] != h && n < 5 {
			fmt.Fprintf(&b, "  %s: index %q, tree %q\n", p, got[p], h)
			n++
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && n < 10 {
			fmt.Fprintf(&b, "  %s: in the index, not in the tree\n", p)
			n++
		}
	}
	if b.Len() == 0 && len(want) == len(got) {
		return ""
	}
	return fmt.Sprintf("index %d files, tree %d:\n%s", len(got), len(want), b.String())
}

// waitMatches waits, rescan after rescan, until the index holds exactly the
// tree's files and contents (sha256sum), and fails after the watch has been
// quiet for a minute.
func (w *watchRun) waitMatches(step string) {
	w.t.Helper()
	want := truth(w.t, w.root)
	for p := range want {
		if w.excluded != nil && w.excluded(p) {
			delete(want, p)
		}
	}
	for {
		got, err := w.indexed()
		if err != nil {
			w.t.Fatalf("%s: %v", step, err)
		}
		d := diff(want, got)
		if d == "" {
			return
		}
		select {
		case <-w.rescans:
		case err := <-w.done:
			w.t.Fatalf("%s: the watch ended: %v\n%s", step, err, w.stderrText())
		case <-time.After(3 * time.Minute):
			// A rescan of 20,000 files under -race on a busy machine took
			// over a minute once; three minutes without one is a hang.
			w.t.Fatalf("%s: no rescan for 3 minutes, and the index differs from the tree: %s\n%s", step, d, w.stderrText())
		}
	}
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchKeepsIndexCurrent: files and directories created, changed,
// moved and deleted under a watched root reach the index.
func TestWatchKeepsIndexCurrent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "a", "one.txt"), "one")
	write(t, filepath.Join(root, "a", "b", "two.txt"), "two")
	w := startWatch(t, root)
	w.waitMatches("first scan")

	write(t, filepath.Join(root, "a", "three.txt"), "three")
	write(t, filepath.Join(root, "new", "deep", "er", "four.txt"), "four") // directories new to the watch
	w.waitMatches("create")

	write(t, filepath.Join(root, "a", "one.txt"), "one, changed and longer")
	w.waitMatches("change")

	if err := os.Rename(filepath.Join(root, "a", "three.txt"), filepath.Join(root, "new", "three.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "a", "b"), filepath.Join(root, "new", "deep", "b")); err != nil {
		t.Fatal(err)
	}
	w.waitMatches("move")

	// The moved directory is watched at its new place.
	write(t, filepath.Join(root, "new", "deep", "b", "five.txt"), "five")
	w.waitMatches("create in a moved directory")

	if err := os.Remove(filepath.Join(root, "a", "one.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "new", "deep")); err != nil {
		t.Fatal(err)
	}
	w.waitMatches("delete")
}

// TestWatchKeepsExclusions: a change deep under a root whose .indexerignore
// excludes files rescans with that file's rules, so an excluded file never
// reaches the index.
func TestWatchKeepsExclusions(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, ".indexerignore"), "*.tmp\n")
	write(t, filepath.Join(root, "a", "b", "keep.txt"), "keep")
	w := startWatch(t, root)
	w.excluded = func(p string) bool { return strings.HasSuffix(p, ".tmp") }
	w.waitMatches("first scan")
	write(t, filepath.Join(root, "a", "b", "scratch.tmp"), "excluded")
	write(t, filepath.Join(root, "a", "b", "more.txt"), "more")
	w.waitMatches("create beside an excluded file")
}

// TestWatchRetriesTheIndexUpdate: a query holding index.db when the watch
// updates the index after a rescan makes the update fail; the watch retries
// it, so the change reaches the index once the query is done.
func TestWatchRetriesTheIndexUpdate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "one.txt"), "one")
	w := startWatch(t, root)
	w.waitMatches("first scan")

	query := &store.DB{Path: store.Dir(w.data).IndexPath(), ReadOnly: true}
	if err := query.Open(); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "two.txt"), "two")
	w.waitStderr("updating the index")
	query.Close()
	w.waitMatches("after the query")
}

// waitStderr waits until the watch has logged s.
func (w *watchRun) waitStderr(s string) {
	w.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !strings.Contains(w.stderrText(), s) {
		select {
		case <-tick.C:
		case <-deadline:
			w.t.Fatalf("the watch did not log %q in a minute:\n%s", s, w.stderrText())
		}
	}
}

// burstFiles is how many files TestWatchBurst creates at once: 10,000, or
// INDEXER_WATCH_BURST (docs/performance.md ran it with 100,000).
func burstFiles() int {
	if n, err := strconv.Atoi(os.Getenv("INDEXER_WATCH_BURST")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 2_000
	}
	return 10_000
}

// TestWatchBurst: a burst of files written as fast as the test can, in many
// directories, is indexed completely (the kernel's queue may overflow on
// the way: then every root is rescanned).
func TestWatchBurst(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "seed.txt"), "seed")
	w := startWatch(t, root)
	n := burstFiles()
	for i := range n {
		write(t, filepath.Join(root, fmt.Sprintf("d%03d", i%500), fmt.Sprintf("f%06d", i)), fmt.Sprint(i%(n/10+1)))
	}
	w.waitMatches(fmt.Sprintf("burst of %d files", n))
}

// TestWatchOverflow: while the watch is busy, more changes come than the
// kernel's inotify queue holds; the overflow makes the watch rescan every
// root, and the index ends up matching the tree, with the change whose
// event was lost (in a directory nothing else changed in).
func TestWatchOverflow(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("no inotify queue limit to overflow: %v", err)
	}
	queue, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	write(t, filepath.Join(root, "flood", "seed.txt"), "seed")
	write(t, filepath.Join(root, "late", "seed.txt"), "seed")
	w := startWatch(t, root)
	w.waitMatches("first scan")

	// Hold the watch in a rescan while the changes come: the kernel's queue
	// (and fsnotify's buffer of 4096 behind it) fills and overflows, and
	// the last change, alone in its directory, is lost.
	release := make(chan struct{})
	w.hold <- release
	write(t, filepath.Join(root, "flood", "trigger.txt"), "trigger")
	for i := range queue + 4096 + 1000 { // two events each: create and write
		write(t, filepath.Join(root, "flood", fmt.Sprintf("f%06d", i)), fmt.Sprint(i))
	}
	write(t, filepath.Join(root, "late", "lost.txt"), "its event is lost")
	close(release)
	w.waitMatches("overflow")
	if !strings.Contains(w.stderrText(), "overflowed") {
		t.Errorf("no overflow reported:\n%s", w.stderrText())
	}
}

// TestWatchIdleHoldsNothing: between rescans a standalone watch holds
// neither its data directory nor the embedded server (whose timers cost CPU
// while nothing changes). A change opens them again; while another process
// holds the directory, the rescan waits for it and then goes through.
func TestWatchIdleHoldsNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "one.txt"), "one")
	w := startWatch(t, root)
	w.waitMatches("first scan")
	lockFree := func(step string) *store.DirLock {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			lock, err := store.LockDir(w.data, "test")
			if err == nil {
				return lock
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the idle watch holds its data directory: %v\n%s", step, err, w.stderrText())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	lock := lockFree("after the first scan")
	write(t, filepath.Join(root, "two.txt"), "two")
	w.waitStderr("watch: cannot open the log to rescan")
	lock.Close()
	w.waitMatches("once the directory is free again")
	lockFree("after a rescan").Close()
}
