package projections

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// BenchmarkCompactHalfDeleted builds the index of a log where benchFiles
// files were scanned and then every other one deleted, and compacts it:
// index.db's size before and after, and the time the compaction took.
//
//	INDEXER_BENCH_FILES=1000000 go test ./projections -run '^$' -bench CompactHalfDeleted -benchtime 1x
func BenchmarkCompactHalfDeleted(b *testing.B) {
	ctx := context.Background()
	srv := &embedded.Server{DataDir: b.TempDir()}
	if err := srv.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	nc, err := srv.Connect("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc}
	if err := log.Open(ctx); err != nil {
		b.Fatal(err)
	}
	g := newGen("m", 1)
	a := log.NewAppender()
	path := func(i int) string { return fmt.Sprintf("/srv/photos/%03d/%02d/IMG_%07d.jpg", i/10_000, i/100%100, i) }
	if err := a.Append(ctx, g.ev(&events.ScanStarted{Root: "/srv"})); err != nil {
		b.Fatal(err)
	}
	for i := range benchFiles {
		if err := a.Append(ctx, g.ev(&events.FileScanned{File: file(path(i), int64(1000+i), byte(i%250+1), uint64(i+1))})); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < benchFiles; i += 2 {
		if err := a.Append(ctx, g.ev(&events.FileDeleted{Path: events.Path(path(i))})); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		p := &Projector{Log: log, Path: filepath.Join(b.TempDir(), "index.db")}
		start := time.Now()
		if _, err := Build(ctx, log, p.Path, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
		built := time.Since(start)
		if err := p.Open(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, err := p.Compact(ctx)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
		b.ReportMetric(float64(c.Before)/1e6, "before-MB")
		b.ReportMetric(float64(c.After)/1e6, "after-MB")
		b.ReportMetric(c.Took.Seconds(), "compact-s")
		b.ReportMetric(built.Seconds(), "build-s")
		b.StartTimer()
	}
}
