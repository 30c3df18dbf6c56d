package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// MustOpenServer starts an embedded server in dir (a temp dir when empty),
// stopped at cleanup. inProcess serves only in-process connections.
func MustOpenServer(tb testing.TB, dir string, inProcess bool) *embedded.Server {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	srv := &embedded.Server{DataDir: dir, InProcess: inProcess}
	if err := srv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// MustOpenLog opens the log on srv through a new in-process connection.
func MustOpenLog(tb testing.TB, srv *embedded.Server) *store.Log {
	tb.Helper()
	nc, err := srv.Connect("test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	l := &store.Log{Conn: nc}
	if err := l.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return l
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// NATSCLI returns the path of the real NATS CLI: $NATS_CLI, or the version
// pinned in the repository's tools/go.mod, built once into a cache under
// the temp dir shared by test runs (keyed by tools/go.sum).
func NATSCLI(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("NATS_CLI"); p != "" {
		return p
	}
	cliOnce.Do(func() { cliPath, cliErr = buildCLI() })
	if cliErr != nil {
		tb.Fatalf("build the NATS CLI: %v", cliErr)
	}
	return cliPath
}

func buildCLI() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	tools := filepath.Join(filepath.Dir(file), "..", "..", "tools")
	sum, err := os.ReadFile(filepath.Join(tools, "go.sum"))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(sum)
	bin := filepath.Join(os.TempDir(), "indexer-natscli", "nats-"+hex.EncodeToString(h[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Several test binaries may build at once: each builds its own file and
	// renames it into place.
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/nats-io/natscli/nats")
	cmd.Dir = tools
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// MustHoldEachOnce replays l from the start and fails tb if an event id is
// stored twice; it returns how many events l holds.
func MustHoldEachOnce(tb testing.TB, l *store.Log) int {
	tb.Helper()
	seen := map[string]uint64{}
	if _, err := l.Replay(context.Background(), 1, "", func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return err
		}
		if first := seen[e.ID.String()]; first != 0 {
			return fmt.Errorf("event %s stored twice, at %d and %d", e.ID, first, r.Seq)
		}
		seen[e.ID.String()] = r.Seq
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return len(seen)
}

// ScannedPaths replays l from the start and returns how many FileScanned
// events each path has: a scan stored exactly once has 1 for each file.
func ScannedPaths(tb testing.TB, l *store.Log) map[string]int {
	tb.Helper()
	scanned := map[string]int{}
	if _, err := l.Replay(context.Background(), 1, "", func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return err
		}
		if f, ok := e.Data.(*events.FileScanned); ok {
			scanned[string(f.Path)]++
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return scanned
}
