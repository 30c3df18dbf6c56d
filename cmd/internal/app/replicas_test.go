package app

import (
	"context"
	"strings"
	"testing"
)

// TestReplicasFlag: --replicas overrides INDEXER_REPLICAS; without either
// it is 0 (the stream's own count); more than 5, or more than 1 for the
// embedded server (one node), is a usage error that says what to do.
func TestReplicasFlag(t *testing.T) {
	if c := parseConfig(t); c.Replicas != 0 {
		t.Fatalf("no --replicas, no INDEXER_REPLICAS: %d, want 0 (as the stream is)", c.Replicas)
	}
	t.Setenv("INDEXER_REPLICAS", "3")
	if c := parseConfig(t, "--replicas", "1"); c.Check() != nil || c.Replicas != 1 {
		t.Fatalf("--replicas 1 over INDEXER_REPLICAS=3: %d, %v", c.Replicas, c.Check())
	}
	c := parseConfig(t, "--replicas", "7")
	if err := c.Check(); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--replicas 7") {
		t.Fatalf("--replicas 7: %v, want a usage error naming it", err)
	}
	c = parseConfig(t, "--data", t.TempDir(), "--replicas", "3")
	_, err := Open(context.Background(), c, OpenOptions{Owner: "t"}, nil)
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("--replicas 3 with the embedded server: %v, want a usage error pointing to --server", err)
	}
}
