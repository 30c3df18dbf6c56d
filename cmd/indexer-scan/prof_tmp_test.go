package main

import (
	"context"
	"io"
	"os"
	"testing"
)

func TestTmpProfileFirstScan(t *testing.T) {
	tree := os.Getenv("TREE")
	if tree == "" {
		return
	}
	m := &Main{Stdout: os.Stdout, Stderr: io.Discard, Hostname: func() (string, error) { return "bench", nil }}
	if err := m.Run(context.Background(), []string{"--data", t.TempDir(), tree}); err != nil {
		t.Fatal(err)
	}
}
