package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/indexer/indexer/store"
)

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{flag.ErrHelp, ExitOK},
		{Usagef("bad %s", "flag"), ExitUsage},
		{fmt.Errorf("scan: %w", ErrPartial), ExitPartial},
		{&store.LockedError{Dir: "/d", PID: 7}, ExitLocked},
		{fmt.Errorf("lease: %w", store.ErrConflict), ExitLocked},
		{fmt.Errorf("scan: %w", context.Canceled), ExitInterrupted},
		{errors.New("disk on fire"), ExitError},
		{fmt.Errorf("append: %w", store.ErrUnavailable), ExitError},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestReportSaysWhatToDo(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	Report(&b, "indexer-scan", &store.LockedError{Dir: "/data", PID: 42, Owner: "indexer-project"})
	if got := b.String(); !strings.Contains(got, "in use by PID 42 (indexer-project)") || !strings.Contains(got, "hint:") {
		t.Fatalf("report: %q", got)
	}
	b.Reset()
	Report(&b, "indexer", Usagef("unknown command %q", "x"))
	if got := b.String(); !strings.Contains(got, "Run 'indexer --help'") || strings.Contains(got, "usage:") {
		t.Fatalf("usage report: %q", got)
	}
}

// Defaults, then the environment, then flags.
func TestConfigPrecedence(t *testing.T) {
	t.Setenv("INDEXER_DATA", "/from/env")
	t.Setenv("INDEXER_SERVER", "nats://env:4222")
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--server", "nats://flag:4222"}); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/env" || c.Server != "nats://flag:4222" {
		t.Fatalf("config %+v: want data from the environment, server from the flag", c)
	}
	t.Setenv("INDEXER_DATA", "")
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if got := DefaultDataDir(); got != "/xdg/indexer" {
		t.Fatalf("DefaultDataDir = %q", got)
	}
}

func TestOpenStandaloneThenClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir(), Replicas: 1}
	owner, err := Open(ctx, cfg, OpenOptions{Owner: "owner", Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if owner.Mode != Standalone || owner.Server == nil {
		t.Fatalf("first open: mode %v", owner.Mode)
	}
	// A second command on the same directory talks to the owner...
	client, err := Open(ctx, cfg, OpenOptions{Owner: "client", AllowClient: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if client.Mode != Client || client.Server != nil {
		t.Fatalf("second open: mode %v", client.Mode)
	}
	client.Close()
	// ...or, when it may not be a client, is refused.
	if _, err := Open(ctx, cfg, OpenOptions{Owner: "other"}, nil); ExitCode(err) != ExitLocked {
		t.Fatalf("third open: %v", err)
	}
}
