package app_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	// Runs the embedded server in this process (app.Serve), as
	// indexer-scan and indexer-project do; the indexer command's tests
	// cover the sibling.
	_ "github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/store"
)

func TestOpenStandaloneThenClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := app.Config{DataDir: t.TempDir(), Replicas: 1}
	owner, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "owner", Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if owner.Mode != app.Standalone || owner.Server == nil {
		t.Fatalf("first open: mode %v", owner.Mode)
	}
	// A second command on the same directory talks to the owner...
	client, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "client", AllowClient: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if client.Mode != app.Client || client.Server != nil {
		t.Fatalf("second open: mode %v", client.Mode)
	}
	client.Close()
	// ...or, when it may not be a client, is refused.
	if _, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "other"}, nil); app.ExitCode(err) != app.ExitLocked {
		t.Fatalf("third open: %v", err)
	}
}

// TestServerURLStale: server.url is trusted while its owner lives (the lock
// is held), and removed once nobody owns the directory, as after a SIGKILL.
func TestServerURLStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + l.Addr().String()
	l.Close()
	file := store.Dir(dir).ServerURLPath()
	if err := os.WriteFile(file, []byte(dead+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An owner holds the directory: its server may be starting; keep it.
	lock, err := store.LockDir(dir, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustDirOwner(t, dir); got.URL != dead || got.Owner != app.Project {
		t.Fatalf("app.DirOwner with a live owner = %+v, want %q", got, dead)
	}
	lock.Close()
	// app.Nobody owns it and nothing answers: stale.
	if got := mustDirOwner(t, dir); got.URL != "" || got.Owner != app.Nobody {
		t.Fatalf("app.DirOwner with a stale file = %+v", got)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale server.url not removed: %v", err)
	}
	// A live owner's server answers.
	owner, err := app.Open(context.Background(), app.Config{DataDir: dir, Replicas: 1}, app.OpenOptions{Owner: "owner", Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if got := mustDirOwner(t, dir); got.URL == "" || got.URL != owner.Server.ClientURL() {
		t.Fatalf("app.DirOwner of a live owner = %+v, want %q", got, owner.Server.ClientURL())
	}
}

func mustDirOwner(t *testing.T, dir string) app.Ownership {
	t.Helper()
	o, err := app.DirOwner(store.Dir(dir), "test")
	if err != nil {
		t.Fatal(err)
	}
	return o
}
