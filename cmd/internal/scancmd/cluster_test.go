package scancmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// clusterTree writes n files under a temp dir and returns it with each
// file's SHA-256.
func clusterTree(t *testing.T, n int) (string, map[string]string) {
	t.Helper()
	root := t.TempDir()
	sums := map[string]string{}
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%02d/f%05d", i%40, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := []byte(fmt.Sprintf("file %d of the cluster test\n", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		sums[p] = hex.EncodeToString(h[:])
	}
	return root, sums
}

// scanThroughLeaderLoss scans a tree of n files into cluster c with all
// its URLs and --replicas 3, doing lose to the stream leader as the scan
// begins publishing. It checks that the scan completes, that every event
// is stored once, and that the index projected from the log holds the
// tree, file for file, reading the log through the nodes that were not
// lost: a frozen node, once thawed, answers from its stale store until it
// hears the new leader.
func scanThroughLeaderLoss(t *testing.T, c *storetest.NATSCluster, n int, lose func(leader int)) {
	t.Helper()
	ctx := context.Background()
	root, sums := clusterTree(t, n)
	// The stream exists, with 3 replicas, before the scan: its leader is
	// known when the scan begins.
	c.OpenLog(3)
	leader := c.StreamLeader(store.DefaultStream)

	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "h", nil }}
	var once sync.Once
	var lost time.Time
	m.OnScanStart = func() {
		once.Do(func() {
			lose(leader)
			lost = time.Now()
		})
	}
	start := time.Now()
	err := m.Run(ctx, []string{"--data", t.TempDir(), "--server", c.URLs(), "--replicas", "3", "--machine", "c1", "--json", root})
	if err != nil {
		t.Fatalf("scan while node %s, the stream leader, was lost: %v\n%s", c.Name(leader), err, errb.String())
	}
	if lost.IsZero() {
		t.Fatal("the scan never began publishing")
	}
	t.Logf("scan of %d files took %s, %s of them after node %s, the stream leader, was lost; the new leader is %s",
		n, time.Since(start).Round(time.Millisecond), time.Since(lost).Round(time.Millisecond), c.Name(leader), c.Name(c.StreamLeader(store.DefaultStream)))
	var sum summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Added != int64(n) || !sum.Complete {
		t.Fatalf("summary %+v (%v): want %d added, complete", sum, err, n)
	}

	l := c.OpenLogOn(c.Others(leader))
	if got := storetest.MustHoldEachOnce(t, l); got < n {
		t.Fatalf("%d events in the log, want at least the %d files'", got, n)
	}
	scanned := storetest.ScannedPaths(t, l)
	if len(scanned) != n {
		t.Fatalf("%d files in the log, want %d", len(scanned), n)
	}
	for p, k := range scanned {
		if k != 1 {
			t.Fatalf("%s scanned %d times in the log, want once", p, k)
		}
	}

	path := filepath.Join(t.TempDir(), "index.db")
	if _, err := projections.CatchUp(ctx, l, path, nil); err != nil {
		t.Fatal(err)
	}
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ix := projections.NewIndex(db)
	if st, err := ix.Stats(); err != nil || st.Files != uint64(n) {
		t.Fatalf("index stats %+v (%v), want %d files", st, err, n)
	}
	for p, sha := range sums {
		f, err := ix.Lookup("c1", events.Path(p))
		if err != nil || f.Hashes.SHA256 != sha {
			t.Fatalf("index: %s = %+v (%v), want sha256 %s", p, f, err, sha)
		}
	}
}

// TestScanIntoClusterWhileLeaderStops: a scan into a 3-node cluster (the
// stream with 3 replicas) whose stream leader stops cleanly as the scan
// begins completes, with every event stored once and the index whole.
// nats-server hands the leadership over as it stops (about 0.25 s).
func TestScanIntoClusterWhileLeaderStops(t *testing.T) {
	t.Parallel()
	c := storetest.Cluster(t, 3)
	scanThroughLeaderLoss(t, c, 3000, c.Stop)
}

// TestScanIntoClusterWhileLeaderFreezes: the same with the stream leader's
// process frozen (SIGSTOP): its sockets stay open and nothing answers, so
// the others elect a new leader after Raft's timeouts (4-9 s) and the
// scanner's connection, if on the frozen node, leaves it after two
// unanswered pings. The scan completes within the appender's budget
// (15 s without an acknowledgement), every event once.
func TestScanIntoClusterWhileLeaderFreezes(t *testing.T) {
	if testing.Short() {
		t.Skip("a frozen node costs a Raft election")
	}
	t.Parallel()
	c := storetest.ProcessCluster(t, 3)
	var frozen = -1
	t.Cleanup(func() {
		if frozen >= 0 {
			c.Thaw(frozen)
		}
	})
	scanThroughLeaderLoss(t, c, 2000, func(leader int) {
		c.Freeze(leader)
		frozen = leader
	})
}
