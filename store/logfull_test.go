package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// TestLeaseOnAFullLog: when JetStream's storage is full, a scan that died
// could not delete its lease (a write); the next scan of the machine, which
// may take it over, must say the log is full, not that another scan runs.
func TestLeaseOnAFullLog(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, NoSigs: true, NoLog: true,
		StoreDir: t.TempDir(), JetStreamMaxStore: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	l := &store.Log{Conn: nc}
	if err := l.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.AcquireLease(ctx, "m", "indexer-scan pid 1 (dead)", 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	// Fill the storage; the dead scan's lease stays.
	scan := events.NewID()
	big := strings.Repeat("x", 4000)
	for i := 0; ; i++ {
		err := l.Append(ctx, events.New("m", scan, time.Now(), &events.FileUnreadable{Path: events.Path("/" + big), Error: big}))
		if errors.Is(err, store.ErrLogFull) {
			break
		}
		if err != nil || i > 10_000 {
			t.Fatalf("filling the log: %v after %d", err, i)
		}
	}
	_, err = l.AcquireLease(ctx, "m", "indexer-scan pid 2", 30*time.Second, func(string) bool { return true })
	if !errors.Is(err, store.ErrLogFull) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("taking over the lease of a dead scan on a full log: %v; want the log is full", err)
	}
}
