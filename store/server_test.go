package store_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// TestServerPortTaken: a port another process listens on is an error at
// once, naming the port, not a wait for a server that never gets ready.
// Without the probe, Open waited 30 s and said "not ready".
func TestServerPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	s := &embedded.Server{DataDir: t.TempDir(), Port: port}
	err = s.Open(context.Background())
	if err == nil {
		s.Close()
		t.Fatal("Open on a taken port succeeded")
	}
	if !errors.Is(err, store.ErrAddrInUse) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Open = %v, want ErrAddrInUse naming port %d", err, port)
	}
}

// TestServerOpenHonoursContext: a context that ends while the server
// starts ends the wait.
func TestServerOpenHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &embedded.Server{DataDir: t.TempDir()}
	if err := s.Open(ctx); err == nil {
		// The server may be ready at its first look: that is fine too.
		s.Close()
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v, want context.Canceled", err)
	}
}
