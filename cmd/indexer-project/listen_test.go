package main

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// TestListenPortTaken: run on a port another process listens on fails at
// once with an error naming the flag and the port, and a hint.
func TestListenPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = runMain(t, "run", "--data", t.TempDir(), "--listen", addr, "--http", "off")
	if !errors.Is(err, store.ErrAddrInUse) || !strings.Contains(err.Error(), "--listen "+addr) {
		t.Fatalf("run on a taken port = %v, want ErrAddrInUse naming --listen %s", err, addr)
	}
	if app.Hint(err) == "" {
		t.Errorf("no hint for %v", err)
	}
}

// TestCheckCommand: check passes a good index and reports a truncated one
// as corrupt, with a hint.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedSteps(t, dir, 3, 2000)
	if _, err := runMain(t, "rebuild", "--data", dir); err != nil {
		t.Fatal(err)
	}
	out, err := runMain(t, "check", "--data", dir)
	if err != nil || !strings.Contains(out, ": ok") {
		t.Fatalf("check of a good index = %q, %v", out, err)
	}
	path := store.Dir(dir).IndexPath()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	used := db.Used()
	db.Close()
	if err := os.Truncate(path, used/2); err != nil {
		t.Fatal(err)
	}
	_, err = runMain(t, "check", "--data", dir)
	if !errors.Is(err, store.ErrCorrupt) || app.Hint(err) == "" {
		t.Fatalf("check of a truncated index = %v, want ErrCorrupt with a hint", err)
	}
}
