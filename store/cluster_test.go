package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// replicasOf returns the replica count of the log's stream.
func replicasOf(t *testing.T, nc *nats.Conn) int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), store.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Config.Replicas
}

// TestClusterReplicas: on a 3-node cluster, a Log without Replicas
// creates the stream with 1 and then keeps whatever count it has (a
// client scan must not scale the log down); Replicas 3 changes it in
// place, with the events already stored; more replicas than nodes, or
// more than 1 on a single server, is an error that says why.
func TestClusterReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := storetest.Cluster(t, 3)
	nc, err := store.Dial(ctx, c.URLs(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.Opts.PingInterval != store.PingInterval || nc.Opts.MaxPingsOut != store.MaxPingsOutstanding {
		t.Errorf("Dial: ping every %s, %d outstanding; want %s, %d", nc.Opts.PingInterval, nc.Opts.MaxPingsOut, store.PingInterval, store.MaxPingsOutstanding)
	}
	open := func(replicas int) (*store.Log, error) {
		l := &store.Log{Conn: nc, Replicas: replicas}
		return l, l.Open(ctx)
	}
	l, err := open(0)
	if err != nil || l.Replicas != 1 || replicasOf(t, nc) != 1 {
		t.Fatalf("a new stream without Replicas: %v, Log.Replicas %d, stream %d; want 1", err, l.Replicas, replicasOf(t, nc))
	}
	if err := l.Append(ctx, testEvents(100, "m")...); err != nil {
		t.Fatal(err)
	}
	if _, err = open(3); err != nil || replicasOf(t, nc) != 3 {
		t.Fatalf("Replicas 3: %v, stream %d", err, replicasOf(t, nc))
	}
	if l, err = open(0); err != nil || l.Replicas != 3 || replicasOf(t, nc) != 3 {
		t.Fatalf("a Log without Replicas on an R3 stream: %v, Log.Replicas %d, stream %d; want 3 kept", err, l.Replicas, replicasOf(t, nc))
	}
	if n := storetest.MustHoldEachOnce(t, l); n != 100 {
		t.Fatalf("after the change of replicas the log holds %d events, want 100", n)
	}
	if _, err = open(5); err == nil || !strings.Contains(err.Error(), "5 replicas") || !strings.Contains(err.Error(), "nodes") {
		t.Fatalf("Replicas 5 on 3 nodes: %v, want an error naming the replicas and the nodes", err)
	}
	t.Logf("Replicas 5 on 3 nodes: %v", err)
	if replicasOf(t, nc) != 3 {
		t.Fatalf("a refused change left %d replicas, want 3", replicasOf(t, nc))
	}

	srv := storetest.MustOpenServer(t, "", false)
	single, err := store.Dial(ctx, srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	err = (&store.Log{Conn: single, Replicas: 3}).Open(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 replicas") || !strings.Contains(err.Error(), "single server") {
		t.Fatalf("Replicas 3 on a single server: %v, want an error that says a single server keeps 1", err)
	}
	t.Logf("Replicas 3 on a single server: %v", err)
}

// TestAppendThroughAFrozenLeader: a client connected to the stream
// leader, whose process then freezes (SIGSTOP: its sockets stay open,
// nothing answers), leaves it after two unanswered pings and gets its
// events stored by the new leader: each once, with no error. With
// nats.go's default pings (every two minutes) the client stayed on the
// frozen node, and the Appender gave up after RetryFor.
func TestAppendThroughAFrozenLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("a frozen node costs a Raft election")
	}
	t.Parallel()
	ctx := context.Background()
	c := storetest.ProcessCluster(t, 3)
	c.OpenLog(3)
	leader := c.StreamLeader(store.DefaultStream)
	// The leader first, in that order: the client is on the node that
	// freezes.
	nc, err := store.Dial(ctx, c.URL(leader)+","+c.Others(leader), "test", nats.DontRandomize())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != c.Name(leader) {
		t.Fatalf("connected to %s, want the leader %s", got, c.Name(leader))
	}
	l := &store.Log{Conn: nc}
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	evs := testEvents(2000, "m")
	a := l.NewAppender()
	var last time.Time
	var gap time.Duration
	a.OnStored = func(uint64, events.Event) {
		if now := time.Now(); !last.IsZero() && now.Sub(last) > gap {
			gap = now.Sub(last)
		}
		last = time.Now()
	}
	for i, e := range evs {
		if i == 500 {
			if err := a.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			c.Freeze(leader)
			t.Cleanup(func() { c.Thaw(leader) })
		}
		if err := a.Append(ctx, e); err != nil {
			t.Fatalf("append %d after the leader froze: %v", i, err)
		}
	}
	frozen := last
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("flush after the leader froze: %v", err)
	}
	t.Logf("the client moved to %s; the 1500 events after the freeze were stored %s after it; longest wait for an acknowledgement %s",
		nc.ConnectedServerName(), last.Sub(frozen).Round(time.Millisecond), gap.Round(time.Millisecond))
	if nc.ConnectedServerName() == c.Name(leader) {
		t.Fatalf("the client is still on the frozen node %s", c.Name(leader))
	}
	if n := storetest.MustHoldEachOnce(t, l); n != len(evs) || a.Stored+a.Duplicates != int64(len(evs)) {
		t.Fatalf("the log holds %d events, the appender counted %d stored and %d duplicates; want %d", n, a.Stored, a.Duplicates, len(evs))
	}
}

// TestOpenAndLeaseWhileAnElectionRuns: a scan that starts while the
// cluster elects a new leader for the lease bucket (its leader froze a
// moment ago) opens the log and takes its lease once the election is
// over, instead of failing with "provision lease bucket: log
// unavailable"; the lease is its own, released, and taken again.
func TestOpenAndLeaseWhileAnElectionRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("a frozen node costs a Raft election")
	}
	t.Parallel()
	ctx := context.Background()
	c := storetest.ProcessCluster(t, 3)
	c.OpenLog(3)
	leader := c.StreamLeader("KV_" + store.LeaseBucket)
	c.Freeze(leader)
	t.Cleanup(func() { c.Thaw(leader) })
	start := time.Now()
	// Not on the frozen node: this is the election, not the failover.
	nc, err := store.Dial(ctx, c.Others(leader), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	l := &store.Log{Conn: nc}
	if err := l.Open(ctx); err != nil {
		t.Fatalf("open %s after the lease bucket's leader froze: %v", time.Since(start).Round(time.Millisecond), err)
	}
	le, err := l.AcquireLease(ctx, "m", "the test", time.Minute, nil)
	if err != nil {
		t.Fatalf("lease %s after the lease bucket's leader froze: %v", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("opened and leased %s after the freeze", time.Since(start).Round(time.Millisecond))
	if err := le.Release(ctx); err != nil {
		t.Fatal(err)
	}
	le, err = l.AcquireLease(ctx, "m", "the test again", time.Minute, nil)
	if err != nil {
		t.Fatalf("the lease after its release: %v", err)
	}
	le.Release(ctx)
}

// TestLeaseWhoseAckWasLost: a lease created by a try whose reply was lost
// (a cluster electing the bucket's leader) holds the holder's own name;
// the next try takes it as its own instead of reporting that another scan
// holds it until it expires. The lost reply is arranged by creating the
// key directly.
func TestLeaseWhoseAckWasLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := storetest.MustOpenLog(t, storetest.MustOpenServer(t, "", true))
	js, err := jetstream.New(l.Conn)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, store.LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "m", []byte("scan 1")); err != nil {
		t.Fatal(err)
	}
	le, err := l.AcquireLease(ctx, "m", "scan 1", time.Minute, nil)
	if err != nil {
		t.Fatalf("the lease its own lost try created: %v", err)
	}
	if err := le.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "m", []byte("scan 2")); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if _, err := l.AcquireLease(ctx, "m", "scan 1", time.Minute, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a lease another holds: %v, want ErrConflict", err)
	}
}

// TestOpenDuringAnElectionKeepsTheReplicas: a Log without Replicas
// (a scan, a projector) that opens while the stream's leader is frozen
// keeps the stream's 3 replicas. Its first stream info timed out during
// the election, and the retry took the count it had not learned for a
// request of 1 and scaled the log down to a single copy.
func TestOpenDuringAnElectionKeepsTheReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("a frozen node costs a Raft election")
	}
	t.Parallel()
	ctx := context.Background()
	c := storetest.ProcessCluster(t, 3)
	all := c.OpenLog(3)
	leader := c.StreamLeader(store.DefaultStream)
	c.Freeze(leader)
	t.Cleanup(func() { c.Thaw(leader) })
	nc, err := store.Dial(ctx, c.Others(leader), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	l := &store.Log{Conn: nc}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		err := l.Open(ctx)
		if err == nil {
			break
		}
		t.Logf("open while the stream's leader is frozen: %v", err)
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if got := replicasOf(t, nc); got != 3 || l.Replicas != 3 {
		t.Fatalf("after an open during the election the stream has %d replicas (the Log says %d), want 3", got, l.Replicas)
	}
	if err := all.Append(ctx, testEvents(1, "m")...); err != nil {
		t.Fatal(err)
	}
}
