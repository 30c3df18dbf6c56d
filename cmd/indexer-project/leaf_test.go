package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestRunIsAHubOverTLS: indexer-project run --leaf-listen with a
// certificate takes the events of a laptop whose leaf credential
// 'credentials add --leaf' issued, once each, over TLS.
func TestRunIsAHubOverTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca, cert, key := storetest.TLSFiles(t)
	hubDir, lapDir := t.TempDir(), t.TempDir()
	creds := filepath.Join(t.TempDir(), "laptop.creds")
	out, err := runMain(t, "credentials", "add", "--leaf", "laptop", "--data", hubDir, "--out", creds)
	if err != nil || !strings.Contains(out, "INDEXER_HUB=tls://") {
		t.Fatalf("credentials add --leaf: %v\n%s", err, out)
	}
	if cred, err := store.ReadCredential(creds); err != nil || cred.Role != store.RoleLeaf || cred.Name != "laptop" {
		t.Fatalf("leaf credential read back: %+v %v", cred, err)
	}
	if _, err := runMain(t, "credentials", "add", "laptop", "--data", hubDir, "--out", filepath.Join(t.TempDir(), "x")); app.ExitCode(err) != app.ExitLocked {
		t.Fatalf("a scanner credential for the laptop too: %v, want a conflict (a machine reaches the hub one way)", err)
	}
	leaf := freePort(t)
	startInProcess(t, hubDir, "--leaf-listen", leaf, "--tls-cert", cert, "--tls-key", key)

	lap, err := app.Open(ctx, app.Config{DataDir: lapDir, Replicas: 1,
		AuthConfig: app.AuthConfig{TLSCA: ca}, HubConfig: app.HubConfig{Hub: "tls://" + leaf, HubCreds: creds}},
		app.OpenOptions{Owner: "indexer-project"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lap.Close()
	scan := events.NewID()
	evs := []events.Event{events.New("laptop", scan, time.Now(), &events.ScanStarted{Root: "/home"})}
	for i := range 50 {
		evs = append(evs, events.New("laptop", scan, time.Now(), &events.FileScanned{File: events.File{Path: events.Path("/home/f" + string(rune('a'+i%26)) + string(rune('a'+i/26)))}}))
	}
	if err := lap.Log.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	hub, err := app.Open(ctx, app.Config{DataDir: hubDir, Replicas: 1}, app.OpenOptions{Owner: "test", AllowClient: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, err := hub.Log.Info(ctx)
		if err == nil && info.Msgs >= uint64(len(evs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds %+v (%v) after 30s, want %d events", info, err, len(evs))
		}
	}
	if n := storetest.MustHoldEachOnce(t, hub.Log); n != len(evs) {
		t.Fatalf("the hub holds %d events, want %d", n, len(evs))
	}
}

// TestLeafListenUsage: --leaf-listen beyond loopback needs TLS, and there
// is no leaf listener with --server; --hub goes with --hub-creds.
func TestLeafListenUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"run", "--leaf-listen", "0.0.0.0:0", "--http", "off"},
		{"run", "--leaf-listen", "127.0.0.1:0", "--server", "nats://127.0.0.1:1", "--http", "off"},
		{"run", "--hub", "tls://hub:7444", "--http", "off"},
		{"run", "--hub", "hub:7444", "--hub-creds", "laptop.creds", "--http", "off"},
		{"credentials", "add", "--leaf", "--reader", "x"},
	} {
		_, err := runMain(t, append(args, "--data", t.TempDir())...)
		if app.ExitCode(err) != app.ExitUsage {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
