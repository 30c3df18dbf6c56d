package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// The watch's logic is tested where its code is, in cmd/internal/scancmd
// (TestWatch*), with the server in the test's process. This tests the
// programs as a user runs them: indexer-scan --watch becomes indexer-watch,
// which links no NATS server and sleeps while nothing changes.

// builtIn is the directory programs built into, "" before.
var builtIn string

// programs builds indexer, indexer-scan, indexer-project and indexer-watch
// into one directory, as the README's build does.
var programs = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "indexer-watch-bin")
	if err != nil {
		return "", err
	}
	builtIn = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "../indexer", "../indexer-scan", "../indexer-project", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build: " + err.Error() + "\n" + string(out))
	}
	return dir, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if builtIn != "" {
		os.RemoveAll(builtIn)
	}
	os.Exit(code)
}

// lockedBuffer is a child's stderr, read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wakeups is how many times the threads of process pid have been switched
// to: a process that sleeps adds none.
func wakeups(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of process %d: %v", pid, err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // a thread that ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

// children are the processes pid started that still run.
func children(pid int) string {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var out []string
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		out = append(out, strings.Fields(string(b))...)
	}
	return strings.Join(out, " ")
}

// TestScanWatchRunsInIndexerWatch: indexer-scan --watch execs indexer-watch
// (the same process), whose binary links no nats-server; between rescans
// it holds no data directory and runs no child, and its threads are not
// woken at all (the server's pse timer woke the in-process watch about five
// times a second); a change still reaches the index, and SIGTERM stops it.
func TestScanWatchRunsInIndexerWatch(t *testing.T) {
	t.Parallel()
	bin, err := programs()
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(filepath.Join(bin, "indexer-watch"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range info.Deps {
		if strings.Contains(dep.Path, "nats-server") {
			t.Fatalf("indexer-watch links %s %s", dep.Path, dep.Version)
		}
	}

	root, data := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "one.txt"), []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd := exec.Command(filepath.Join(bin, "indexer-scan"), "--data", data, "--priority", "normal",
		"--log-level", "info", "--watch", "--watch-delay", "50ms", root)
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second // a child left holding stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	// idle waits until the watch is suspended: no child, the data
	// directory free.
	idle := func(step string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if strings.Contains(stderr.String(), "watching") && children(pid) == "" {
				if lock, err := store.LockDir(data, "test"); err == nil {
					lock.Close()
					return
				}
			}
			select {
			case <-exited:
				t.Fatalf("%s: the watch exited: %v\n%s", step, waitErr, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the watch did not settle in 2 minutes (children %q)\n%s", step, children(pid), stderr.String())
			}
		}
	}
	idle("after the first scan")
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(exe) != "indexer-watch" {
		t.Errorf("the watching process runs %s, want indexer-watch", exe)
	}

	// Asleep: no thread switched to in 3 s (the fewest of two spells, as
	// Go's runtime may wake once in a while: a forced collection every 2
	// minutes; the pse timer gave about 15 in every spell).
	asleep := func(step string) {
		t.Helper()
		fewest := -1
		for range 2 {
			before := wakeups(t, pid)
			time.Sleep(3 * time.Second)
			if n := wakeups(t, pid) - before; fewest < 0 || n < fewest {
				fewest = n
			}
		}
		if fewest > 2 {
			t.Errorf("%s: the idle watch's threads were woken %d times in 3 s", step, fewest)
		}
	}
	asleep("after the first scan")

	if err := os.WriteFile(filepath.Join(root, "two.txt"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command(filepath.Join(bin, "indexer"), "--data", data, "find", "two.txt").Output()
		if bytes.Contains(out, []byte(filepath.Join(root, "two.txt"))) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two.txt not in the index after 2 minutes\n%s", stderr.String())
		}
	}
	idle("after a rescan")
	asleep("after a rescan")

	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.ExitCode() != app.ExitInterrupted {
		t.Errorf("after SIGTERM: %v, want exit %d\n%s", waitErr, app.ExitInterrupted, stderr.String())
	}
}
