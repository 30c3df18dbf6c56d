package store_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// benchEvents is how many events the log benchmarks append and replay:
// 1,000,000 by default, INDEXER_BENCH_EVENTS to change it.
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("INDEXER_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// realisticEvent returns the i-th of a series of FileScanned events of a
// few hundred bytes of JSON: paths in walk order, one sha256. Events are
// made one at a time so the benchmark's memory is the log's, not the
// input's.
func realisticEvent(scan ulid.ULID, now time.Time, i int) events.Event {
	return events.New("nas1", scan, now, &events.FileScanned{File: events.File{
		Path: events.Path(fmt.Sprintf("/srv/photos/%04d/%02d/IMG_%06d.jpg", 2000+i/100000, i/1000%100, i)),
		Size: int64(100000 + i%5000), Mode: 0o644, MTime: now.UnixNano(), CTime: now.UnixNano(),
		Inode: uint64(1000000 + i), Device: 2049, Nlink: 1, UID: 1000, GID: 1000,
		Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", i*7919)},
	}})
}

// BenchmarkLog appends a million events to a fresh embedded log, replays
// them, and reports events/s for both and the memory in use afterwards
// (the embedded server's, since it runs in this process; the client holds
// almost nothing). Run it with -benchtime 1x -count 5 and take medians:
//
//	go test ./store -run '^$' -bench Log -benchtime 1x -count 5
func BenchmarkLog(b *testing.B) {
	n := benchEvents()
	scan, now := events.NewID(), time.Now()
	size, _ := events.Encode(realisticEvent(scan, now, n/2))
	for b.Loop() {
		ctx := context.Background()
		// Listening, as indexer-project serves it: Connect then uses the
		// loopback socket, as a scanner in another process does.
		srv := storetest.MustOpenServer(b, "", false)
		l := storetest.MustOpenLog(b, srv)
		a := l.NewAppender()
		start := time.Now()
		for i := range n {
			if err := a.Append(ctx, realisticEvent(scan, now, i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		appendRate := float64(n) / time.Since(start).Seconds()
		// The deduplication window then holds the most ids.
		heapAppended := heapMB()

		start = time.Now()
		count := 0
		if _, err := l.Replay(ctx, 1, "", func(store.Record) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		replayRate := float64(count) / time.Since(start).Seconds()
		if count != n {
			b.Fatalf("replayed %d of %d", count, n)
		}
		b.ReportMetric(appendRate, "append-events/s")
		b.ReportMetric(replayRate, "replay-events/s")
		b.ReportMetric(float64(len(size)), "bytes/event")
		b.ReportMetric(heapAppended, "heap-appended-MB")
		b.ReportMetric(heapMB(), "heap-replayed-MB")
		b.ReportMetric(float64(rssBytes())/(1<<20), "rss-MB")
		// The server keeps the ids of the deduplication window in memory;
		// measure again once the window has passed.
		time.Sleep(l.Duplicates + 2*time.Second)
		b.ReportMetric(heapMB(), "heap-after-window-MB")
		srv.Close()
	}
}

// heapMB returns the live heap after a collection, in MiB.
func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// rssBytes returns the process's resident memory from /proc.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
