package storetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/indexer/indexer/store"
)

// MustOpenServer starts an embedded server in dir (a temp dir when empty),
// stopped at cleanup. inProcess serves only in-process connections.
func MustOpenServer(tb testing.TB, dir string, inProcess bool) *store.Server {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	srv := &store.Server{DataDir: dir, InProcess: inProcess}
	if err := srv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// MustOpenLog opens the log on srv through a new in-process connection.
func MustOpenLog(tb testing.TB, srv *store.Server) *store.Log {
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

// NATSCLI returns the path of the real NATS CLI, built once per test binary
// from the version pinned in the repository's tools/go.mod (the Go build
// cache makes later builds quick).
func NATSCLI(tb testing.TB) string {
	tb.Helper()
	cliOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		tools := filepath.Join(filepath.Dir(file), "..", "..", "tools")
		dir, err := os.MkdirTemp("", "natscli")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "nats")
		cmd := exec.Command("go", "build", "-o", cliPath, "github.com/nats-io/natscli/nats")
		cmd.Dir = tools
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = err
			cliPath = string(out)
		}
	})
	if cliErr != nil {
		tb.Fatalf("build the NATS CLI: %v\n%s", cliErr, cliPath)
	}
	return cliPath
}
