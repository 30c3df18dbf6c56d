package service_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// benchFiles is the size of the benchmarks' index: the goals are stated for
// a million files. The index is built once and kept in the temp dir (see
// servicetest.Build).
var benchFiles = flag.Int("bench-files", 1_000_000, "files in the benchmark index")

// benchQueries opens the cached benchmark index read-only.
func benchQueries(b *testing.B) *service.Local {
	b.Helper()
	dir := servicetest.Build(b, *benchFiles)
	return &service.Local{Index: servicetest.OpenIndex(b, dir)}
}

// loop runs fn in b.Loop and reports the median and 99th percentile of
// its latency besides the mean.
func loop(b *testing.B, fn func(i int) error) {
	b.Helper()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := fn(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkFindName is a name substring search with a page of 100, as the
// search box sends it. Goal: p50 under 20 ms at a million files.
func BenchmarkFindName(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	for _, pat := range []string{
		"invoice",        // a word in ~8% of the names
		"budget-thesis",  // two words that never meet (a name's first word picks its second)
		"budget-notes",   // two words that do: ~4%
		"0424242",        // one file's number
		"report-receipt", // a combination that does not occur
	} {
		b.Run(pat, func(b *testing.B) {
			var total int
			loop(b, func(int) error {
				res, err := q.Find(ctx, service.FindRequest{Pattern: pat, Limit: 100})
				total = res.Total
				return err
			})
			b.ReportMetric(float64(total), "matches")
		})
	}
	// Counting every match of a common word, past DefaultTotalLimit: what
	// the page costs when the caller wants the exact total.
	b.Run("invoice-exact-total", func(b *testing.B) {
		var total int
		loop(b, func(int) error {
			res, err := q.Index.Find(projections.FindQuery{Pattern: "invoice", Limit: 100, TotalLimit: -1})
			total = res.Total
			return err
		})
		b.ReportMetric(float64(total), "matches")
	})
}

// BenchmarkFindFilters adds the filters the CLI offers to a name search.
func BenchmarkFindFilters(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	for name, r := range map[string]service.FindRequest{
		"ext+size":  {Pattern: "holiday", Ext: "jpg", MinSize: 10 << 20, Limit: 100},
		"glob":      {Pattern: "scan-*-00042??.pdf", Mode: "glob", Limit: 100},
		"under+ext": {Ext: "md", Under: "/data/big/set-042", Limit: 100},
	} {
		b.Run(name, func(b *testing.B) {
			loop(b, func(int) error { _, err := q.Find(ctx, r); return err })
		})
	}
}

// BenchmarkTopDupes reads the 100 groups that waste the most. Goal: under
// 20 ms at a million files.
func BenchmarkTopDupes(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	b.Run("groups", func(b *testing.B) {
		loop(b, func(int) error { _, err := q.Dupes(ctx, service.DupesRequest{Limit: 100}); return err })
	})
	b.Run("with-first-file", func(b *testing.B) {
		loop(b, func(int) error { _, err := q.Dupes(ctx, service.DupesRequest{Limit: 100, Files: 1}); return err })
	})
	b.Run("by-count-min-1MiB", func(b *testing.B) {
		loop(b, func(int) error {
			_, err := q.Dupes(ctx, service.DupesRequest{Sort: "count", MinSize: 1 << 20, Limit: 100})
			return err
		})
	})
}

// BenchmarkLookup reads one file by its path. Goal: under 1 ms.
func BenchmarkLookup(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	n := *benchFiles
	loop(b, func(i int) error {
		f := servicetest.GenFile(servicetest.Big, (i*7919)%n)
		got, err := q.Lookup(ctx, servicetest.Big, f.Path)
		if err == nil && got.Size != f.Size {
			return fmt.Errorf("lookup %s: size %d, want %d", f.Path, got.Size, f.Size)
		}
		return err
	})
}

// BenchmarkFindHash finds a file by its sha256 and by its md5. Most content
// is held once, so by-hash has no key of it and the name index's list of
// the digest's 12-bit prefix is checked: the slow path of a hash lookup.
func BenchmarkFindHash(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	n := *benchFiles
	for _, alg := range []string{"sha256", "md5"} {
		b.Run(alg, func(b *testing.B) {
			loop(b, func(i int) error {
				f := servicetest.GenFile(servicetest.Big, (i*7919)%n)
				h := f.Hashes.SHA256
				if alg == "md5" {
					h = f.Hashes.MD5
				}
				res, err := q.Find(ctx, service.FindRequest{Hash: h})
				if err == nil && !slices.ContainsFunc(res.Files, func(g projections.File) bool { return g.Path == f.Path }) {
					return fmt.Errorf("find %s %s: %s not among %d files", alg, h, f.Path, len(res.Files))
				}
				return err
			})
		})
	}
}

// BenchmarkStats and BenchmarkTree are the dashboard's other reads, with and
// without the cache in front.
func BenchmarkStats(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	b.Run("index", func(b *testing.B) {
		loop(b, func(int) error { _, err := q.Stats(ctx); return err })
	})
	b.Run("cached", func(b *testing.B) {
		c := &service.Cache{Queries: q, Checkpoint: func() uint64 { return 1 }}
		loop(b, func(int) error { _, err := c.Stats(ctx); return err })
	})
}

func BenchmarkTree(b *testing.B) {
	q := benchQueries(b)
	ctx := context.Background()
	for _, dir := range []string{"/data/big/", "/data/big/set-042/dir-17/"} {
		b.Run(dir, func(b *testing.B) {
			loop(b, func(int) error {
				_, err := q.Tree(ctx, service.TreeRequest{Machine: servicetest.Big, Dir: events.Path(dir), Limit: 1000})
				return err
			})
		})
	}
}
