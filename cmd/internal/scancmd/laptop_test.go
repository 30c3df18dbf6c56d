package scancmd

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// testHub is a hub as indexer-project run --leaf-listen is one: it owns
// its data directory, accepts laptops as leaf nodes, keeps their sources
// (embedded.LeafHub) and projects its log into its index.
type testHub struct {
	env    *app.Env
	p      *projections.Projector
	cancel context.CancelFunc
	done   chan struct{}
	leaf   chan struct{} // closed when its LeafHub returned
}

func startHub(t *testing.T, dir, leafListen string) *testHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env, err := app.Open(ctx, app.Config{DataDir: dir, Replicas: 1},
		app.OpenOptions{Owner: "indexer-project", Listen: "127.0.0.1:0", LeafListen: leafListen}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &testHub{env: env, cancel: cancel, done: make(chan struct{}), leaf: make(chan struct{})}
	h.p = &projections.Projector{Log: env.Log, Path: store.Dir(dir).IndexPath()}
	if err := h.p.Open(); err != nil {
		t.Fatal(err)
	}
	lh := &embedded.LeafHub{Server: inproc.Of(env), Log: env.Log, Machines: func() ([]string, error) {
		return []string{"laptop"}, nil
	}, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	go func() { defer close(h.leaf); lh.Run(ctx) }()
	go func() { defer close(h.done); h.p.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *testHub) stop() {
	if h.env == nil {
		return
	}
	h.cancel()
	<-h.done
	<-h.leaf
	h.p.Close()
	h.env.Close()
	h.env = nil
}

// caughtUp waits until the hub's index holds every event its log holds.
func (h *testHub) caughtUp(t *testing.T) {
	t.Helper()
	info, err := h.env.Log.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hubPromise)
	defer cancel()
	if err := h.p.WaitFor(ctx, info.LastSeq); err != nil {
		t.Fatal(err)
	}
}

// laptopFiles returns the paths the hub's index holds for machine laptop.
func (h *testHub) laptopFiles(t *testing.T) []string {
	t.Helper()
	res, err := h.p.Index().Find(projections.FindQuery{Machine: "laptop", Limit: -1, TotalLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range res.Files {
		out = append(out, string(f.Path))
	}
	slices.Sort(out)
	return out
}

// treeFiles returns the regular files under root, sorted.
func treeFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// hubPromise is how soon a laptop's events are on the hub once both
// run: the product's promise (README, Offline laptops), so a test that
// waits longer fails instead of hanging.
const hubPromise = 3 * time.Minute

// waitHubHolds waits until the hub's index applied n events (sourcing is
// asynchronous), at most hubPromise. It fails with the hub's and the
// laptop's counts and the hub's source state.
func (h *testHub) waitHubHolds(t *testing.T, n uint64, lapDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hubPromise)
	defer cancel()
	if err := h.p.WaitFor(ctx, n); err != nil {
		info, ierr := h.env.Log.Info(context.Background())
		srcs, serr := h.env.Log.Sources(context.Background())
		t.Fatalf("the hub's index did not reach %d events in %v: %v; hub log %+v (%v), laptop log %d, hub sources %+v (%v)",
			n, hubPromise, err, info, ierr, logLen(t, lapDir), srcs, serr)
	}
}

func logLen(t *testing.T, dir string) uint64 {
	t.Helper()
	return uint64(len(storetest.ReadAll(t, dir)))
}

// TestOfflineLaptop: a laptop scans a real tree into its own data
// directory while the hub is down; once both run, the hub's index holds
// the laptop's files, each event once, in the laptop's order. Connecting
// again adds nothing, and a scan while connected is stored once too.
func TestOfflineLaptop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hubDir, lapDir, root := t.TempDir(), t.TempDir(), t.TempDir()
	keyring, err := store.OpenKeyring(hubDir)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := storetest.Issue(t, keyring, store.RoleLeaf, "laptop")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leafListen := ln.Addr().String()
	ln.Close()
	hubFlags := []string{"--data", lapDir, "--hub", "nats-leaf://" + leafListen, "--hub-creds", creds}
	for i := range 120 {
		dir := filepath.Join(root, "d"+strconv.Itoa(i%7), "e"+strconv.Itoa(i%3))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i)), []byte(strconv.Itoa(i%40)), 0o644)
	}

	// Away: the hub is down. The scan works as on any standalone machine,
	// and its machine is the credential's.
	if code, _, errs := run(t, ctx, append(hubFlags, root)...); code != 0 {
		t.Fatalf("offline scan: exit %d\n%s", code, errs)
	}
	if st := indexStats(t, lapDir); st.Files != 120 {
		t.Fatalf("the laptop's own index holds %d files, want 120", st.Files)
	}
	if code, _, errs := run(t, ctx, append(hubFlags, "--machine", "other", root)...); code != app.ExitUsage {
		t.Fatalf("a scan of another machine with the laptop's leaf credential: exit %d, want %d\n%s", code, app.ExitUsage, errs)
	}
	offline := logLen(t, lapDir)
	t0 := time.Now()

	// Back: the hub runs, and so does the laptop's server (as its
	// indexer-project would).
	hub := startHub(t, hubDir, leafListen)
	lap, err := app.Open(ctx, app.Config{DataDir: lapDir, Replicas: 1, HubConfig: app.HubConfig{Hub: "nats-leaf://" + leafListen, HubCreds: creds}},
		app.OpenOptions{Owner: "indexer-project"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hub.waitHubHolds(t, offline, lapDir)
	t.Logf("offline events on the hub %v after both came up", time.Since(t0))
	t0 = time.Now()
	if got, want := hub.laptopFiles(t), treeFiles(t, root); !slices.Equal(got, want) {
		t.Fatalf("the hub's index holds %d files of the laptop, the tree %d:\n%v\n%v", len(got), len(want), got, want)
	}
	lap.Close()
	t.Logf("close %v", time.Since(t0))
	t0 = time.Now()

	// Connecting again adds nothing, and the hub's source takes up the
	// laptop again before the close gives up waiting for it (JetStream's
	// own retry of the source, 10-20 s and more, did not).
	var closeLog bytes.Buffer
	lap, err = app.Open(ctx, app.Config{DataDir: lapDir, Replicas: 1, HubConfig: app.HubConfig{Hub: "nats-leaf://" + leafListen, HubCreds: creds}},
		app.OpenOptions{Owner: "indexer-project"}, slog.New(slog.NewTextHandler(&closeLog, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	lap.Close()
	if strings.Contains(closeLog.String(), "has not taken every event") {
		t.Fatalf("closing the reconnected laptop gave up waiting for the hub's source:\n%s", closeLog.String())
	}
	t.Logf("reconnect %v", time.Since(t0))
	t0 = time.Now()

	// A scan while connected: its events reach the hub before it exits.
	os.WriteFile(filepath.Join(root, "new.txt"), []byte("new"), 0o644)
	os.Remove(filepath.Join(root, "d0", "e0", "f000.txt"))
	if code, _, errs := run(t, ctx, append(hubFlags, root)...); code != 0 || strings.Contains(errs, "has not taken every event") {
		t.Fatalf("connected scan: exit %d\n%s", code, errs)
	}
	t.Logf("connected scan %v", time.Since(t0))
	all := logLen(t, lapDir)
	hub.waitHubHolds(t, all, lapDir)
	hub.caughtUp(t)
	if got, want := hub.laptopFiles(t), treeFiles(t, root); !slices.Equal(got, want) {
		t.Fatalf("after the connected scan the hub's index holds %d files of the laptop, the tree %d", len(got), len(want))
	}
	if n := storetest.MustHoldEachOnce(t, hub.env.Log); uint64(n) != all {
		t.Fatalf("the hub's log holds %d events, the laptop's %d", n, all)
	}
}
