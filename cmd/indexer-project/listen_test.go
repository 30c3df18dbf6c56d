package main

import (
	"errors"
	"net"
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
