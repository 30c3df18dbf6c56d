package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		{ErrNotIndexed, ExitNotIndexed},
		{ErrDeletionsHeld, ExitHeld},
		{ErrBitRot, ExitRot},
		// A scan with several things to say exits with the most urgent.
		{errors.Join(ErrNotIndexed, ErrPartial), ExitPartial},
		{errors.Join(ErrNotIndexed, ErrPartial, ErrDeletionsHeld), ExitHeld},
		{errors.Join(ErrDeletionsHeld, ErrBitRot), ExitRot},
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
	c := parseConfig(t, "--server", "nats://flag:4222")
	if c.DataDir != "/from/env" || c.Server != "nats://flag:4222" {
		t.Fatalf("config %+v: want data from the environment, server from the flag", c)
	}
	t.Setenv("INDEXER_DATA", "")
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if got := DefaultDataDir(); got != "/xdg/indexer" {
		t.Fatalf("DefaultDataDir = %q", got)
	}
}

// parseConfig returns the Config that RegisterFlags and args make.
func parseConfig(t *testing.T, args ...string) Config {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return c
}

// A bad INDEXER_* value is a usage error that names the variable, the
// value and what is accepted; it is not replaced by the default.
func TestBadEnvironmentIsUsageError(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
		args              []string
	}{
		{"INDEXER_SYNC_INTERVAL", "10", "a duration", nil},
		{"INDEXER_SYNC_INTERVAL", "soon", "a duration", nil},
		{"INDEXER_REPLICAS", "three", "from 1 to 5", nil},
		{"INDEXER_REPLICAS", "0", "from 1 to 5", nil},
		{"INDEXER_REPLICAS", "7", "from 1 to 5", nil},
		{"INDEXER_LOG_LEVEL", "loud", "debug, info, warn or error", nil},
		{"--log-level", "loud", "debug, info, warn or error", []string{"--log-level", "loud"}},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			if tc.args == nil {
				t.Setenv(tc.name, tc.value)
			}
			c := parseConfig(t, tc.args...)
			err := c.Check()
			if got, want := ExitCode(err), ExitUsage; got != want {
				t.Fatalf("Check() = %v: exit code %d, want %d", err, got, want)
			}
			for _, s := range []string{tc.name, fmt.Sprintf("%q", tc.value), tc.want} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Check() = %q, want it to say %s", err, s)
				}
			}
			_, err = Open(context.Background(), c, OpenOptions{Owner: "t"}, nil)
			if got, want := ExitCode(err), ExitUsage; got != want {
				t.Fatalf("Open: %v: exit code %d, want %d", err, got, want)
			}
		})
	}
	// Good values, and a flag that overrides a bad level from the environment.
	t.Setenv("INDEXER_SYNC_INTERVAL", "-1s")
	t.Setenv("INDEXER_REPLICAS", "3")
	t.Setenv("INDEXER_LOG_LEVEL", "loud")
	c := parseConfig(t, "--log-level", "debug")
	if err := c.Check(); err != nil || c.SyncInterval != -time.Second || c.Replicas != 3 {
		t.Fatalf("Check() = %v with %+v", err, c)
	}
}

func mustDirOwner(t *testing.T, dir string) Ownership {
	t.Helper()
	o, err := DirOwner(store.Dir(dir), "test")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
	}{
		{Count(0, "file", "files"), "0 files"},
		{Count(1, "file", "files"), "1 file"},
		{Count(2, "file", "files"), "2 files"},
		{Count(uint64(1), "copy", "copies"), "1 copy"},
		{Count(int64(-1), "event", "events"), "-1 events"},
	} {
		if tc.got != tc.want {
			t.Errorf("Count: %q, want %q", tc.got, tc.want)
		}
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
	}{
		{Bytes(0), "0 B"},
		{Bytes(1023), "1023 B"},
		{Bytes(1500), "1.46 KiB"},
		{Bytes(uint64(3 << 20)), "3.00 MiB"},
		{Bytes(int64(32.5 * (1 << 20))), "32.5 MiB"},
		{Bytes(int64(114 << 20)), "114 MiB"},
		{Bytes(int64(5 << 50)), "5.00 PiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("Bytes: %q, want %q", tc.got, tc.want)
		}
	}
}

func TestCommandFirst(t *testing.T) {
	isCmd := func(s string) bool { return s == "stats" || s == "find" }
	for _, c := range []struct{ in, want string }{
		{"stats --json", "stats --json"},
		{"--data /d stats --json", "stats --data /d --json"},
		{"--json find report", "find --json report"},
		{"--data=/d --json stats", "stats --data=/d --json"},
		{"-data /d -server nats://h:1 find x --limit 3", "find -data /d -server nats://h:1 x --limit 3"},
		{"--data /d", "--data /d"},               // no command: as it was
		{"--data /d report", "--data /d report"}, // not a command
		{"", ""},
	} {
		if got := strings.Join(CommandFirst(strings.Fields(c.in), isCmd), " "); got != c.want {
			t.Errorf("CommandFirst(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A data directory a standalone scan owns answers no queries: DirOwner
// says so; one an indexer-project owns, or nobody, is not scanning. An
// owner that serves no URL is told apart from one that does.
func TestDirOwner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if o := mustDirOwner(t, filepath.Join(dir, "none")); o.Owner != Nobody {
		t.Fatalf("missing directory: %+v", o)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("DirOwner made the directory it was asked about: %v", err)
	}
	if err := os.WriteFile(store.Dir(dir).ServerURLPath(), []byte("nats://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		owner string
		want  Owner
	}{
		{"", Nobody},
		{"indexer-scan", Scanner},
		{"indexer-project", Project},
	} {
		var l *store.DirLock
		if tc.owner != "" {
			var err error
			if l, err = store.LockDir(dir, tc.owner); err != nil {
				t.Fatal(err)
			}
		}
		o := mustDirOwner(t, dir)
		if o.Owner != tc.want || (tc.want != Nobody) != (o.Lock != nil) {
			t.Errorf("owned by %q: %+v, want %s", tc.owner, o, tc.want)
		}
		if tc.owner == "" {
			// The free lock made server.url stale: now it is gone, and an
			// owner is silent until it writes one.
			if _, err := os.Stat(store.Dir(dir).ServerURLPath()); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stale server.url kept: %v", err)
			}
			if err := os.WriteFile(store.Dir(dir).ServerURLPath(), []byte("nats://127.0.0.1:1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if tc.owner == "indexer-project" {
			os.Remove(store.Dir(dir).ServerURLPath())
			if o := mustDirOwner(t, dir); o.Owner != Silent {
				t.Errorf("owned by %q without server.url: %+v, want silent", tc.owner, o)
			}
		}
		l.Close()
	}
}

func TestSplitHostPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"0.0.0.0:4222", "0.0.0.0", 4222, true},
		{":0", "127.0.0.1", 0, true},
		{"[::1]:4222", "::1", 4222, true},
		{"localhost", "", 0, false},
		{"host:port", "", 0, false},
		{"host:70000", "", 0, false},
	} {
		host, port, err := splitHostPort(tc.in)
		if (err == nil) != tc.ok || host != tc.host || port != tc.port {
			t.Errorf("splitHostPort(%q) = %q, %d, %v", tc.in, host, port, err)
		}
	}
}
