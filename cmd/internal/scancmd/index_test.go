package scancmd

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestMemoryLimitRestored checks that the soft memory limit of a
// standalone scan (memoryBudget) holds only during it.
func TestMemoryLimitRestored(t *testing.T) {
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

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, 128 << 20},
		{90 << 20, 128 << 20},
		{96 << 20, 128 << 20},
		{100 << 20, 136 << 20},
		{1 << 30, 2<<30 - 64<<20},
		{1 << 62, 2<<50 - 64<<20},
	} {
		if got := memoryLimit(c.live); got != c.want {
			t.Errorf("memoryLimit(%d MiB) = %d MiB, want %d MiB", c.live>>20, got>>20, c.want>>20)
		}
	}
}
