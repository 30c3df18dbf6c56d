package scancmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestPrioritySetsEveryThread runs setPriority in a child process, which
// then starts threads of its own and checks in /proc that every thread,
// old and new, has the priority.
func TestPrioritySetsEveryThread(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"idle", "low"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPriority$")
		cmd.Env = append(os.Environ(), "INDEXER_TEST_PRIORITY="+p)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PRIORITY OK") {
			t.Errorf("--priority %s: %v\n%s", p, err, out)
		}
	}
}

func TestHelperPriority(t *testing.T) {
	p := os.Getenv("INDEXER_TEST_PRIORITY")
	if p == "" {
		return // only runs as the child of TestPrioritySetsEveryThread
	}
	if err := setPriority(p); err != nil {
		fmt.Println("ERR", err)
		return
	}
	// Threads made after setPriority inherit it.
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // this goroutine holds its thread, so others need new ones
			<-release
		}()
	}
	ready := make(chan struct{})
	go func() { runtime.LockOSThread(); close(ready); <-release }()
	<-ready
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// Fields after the command name: [16] is field 19, nice; [38]
		// is field 41, the scheduling policy.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		nice, policy := f[16], f[38]
		if (p == "idle" && policy != "5") || (p == "low" && nice != "19") {
			fmt.Printf("ERR thread %s: policy %s, nice %s\n", e.Name(), policy, nice)
			return
		}
	}
	close(release)
	wg.Wait()
	fmt.Printf("PRIORITY OK, %d threads\n", len(ents))
}

func TestPriorityFlag(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "a"), []byte("a"), 0o644)
	if code, _, errs := run(t, context.Background(), "--data", data, "--priority", "high", root); code != 2 || !strings.Contains(errs, "want idle, low or normal") {
		t.Errorf("--priority high: exit %d, %q", code, errs)
	}
	// The real binary reads INDEXER_PRIORITY.
	cmd := exec.Command(mustBinary(t), "--data", data, root)
	cmd.Env = append(os.Environ(), "INDEXER_PRIORITY=high")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "want idle, low or normal") {
		t.Errorf("INDEXER_PRIORITY=high: exit %d, %v\n%s", code, err, out)
	}
}

// TestMain runs the tests' indexer-scan processes at normal priority: at
// idle, the other test processes of a busy CI machine would starve them.
func TestMain(m *testing.M) {
	os.Setenv("INDEXER_PRIORITY", "normal")
	os.Exit(m.Run())
}
