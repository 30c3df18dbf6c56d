package main

import (
	"context"
	"io"
	"os"
	"testing"
)

// BenchmarkDupesJSON runs `indexer dupes --limit 0 --json` in this process
// over the data directory INDEXER_BENCH_DATA (for example tree S's, as
// tools/bench/compare.sh leaves it), output discarded: its CPU profile is
// the command's without the process start.
//
//	INDEXER_BENCH_DATA=/tmp/indexer-compare/data-S go test ./cmd/indexer -run '^$' -bench DupesJSON -cpuprofile /tmp/dupes.prof
func BenchmarkDupesJSON(b *testing.B) {
	data := os.Getenv("INDEXER_BENCH_DATA")
	if data == "" {
		b.Skip("INDEXER_BENCH_DATA names no data directory")
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard}
	for b.Loop() {
		if err := m.Run(context.Background(), []string{"dupes", "--data", data, "--limit", "0", "--json"}); err != nil {
			b.Fatal(err)
		}
	}
}
