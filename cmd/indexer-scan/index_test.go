package main

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestIndexMemoryLimitRestored checks that the soft memory limit of a
// standalone scan's index update holds only during it.
func TestIndexMemoryLimitRestored(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT set")
	}
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Hostname: func() (string, error) { return "test", nil }}
	if err := m.Run(context.Background(), []string{"--data", t.TempDir(), "--quiet", "--priority", "normal", tree}); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit after the scan = %d, want none", got)
	}
}

func TestIndexMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		events uint64
		want   int64
	}{
		{0, 144 << 20},
		{100_000, 144<<20 + 16_000_000},
		{10_000_000, 144<<20 + 1_600_000_000},
	} {
		if got := indexMemoryLimit(c.events); got != c.want {
			t.Errorf("indexMemoryLimit(%d) = %d, want %d", c.events, got, c.want)
		}
	}
}
