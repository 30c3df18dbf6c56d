package projections

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/simtree"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// benchFiles is the number of FileScanned events of the big benchmarks;
// INDEXER_BENCH_FILES overrides it for quicker runs.
var benchFiles = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("INDEXER_BENCH_FILES"), &n); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// bigLog is one log holding benchFiles FileScanned events, shared by the
// benchmarks of one run (publishing a million events takes a while).
var bigLog struct {
	once sync.Once
	dir  string
	srv  *embedded.Server
	log  *store.Log
	last uint64
	err  error
}

func mustBigLog(b *testing.B) (*store.Log, uint64) {
	b.Helper()
	bigLog.once.Do(func() {
		ctx := context.Background()
		// INDEXER_BENCH_DIR keeps the published log between runs.
		keep := os.Getenv("INDEXER_BENCH_DIR")
		if keep != "" {
			bigLog.dir = keep
		} else if bigLog.dir, bigLog.err = os.MkdirTemp("", "indexer-bench-"); bigLog.err != nil {
			return
		}
		// Listening, as in indexer-project: its connection is the loopback
		// socket (see embedded.Server.Connect).
		bigLog.srv = &embedded.Server{DataDir: bigLog.dir}
		if bigLog.err = bigLog.srv.Open(ctx); bigLog.err != nil {
			return
		}
		nc, err := bigLog.srv.Connect("bench")
		if err != nil {
			bigLog.err = err
			return
		}
		bigLog.log = &store.Log{Conn: nc}
		if bigLog.err = bigLog.log.Open(ctx); bigLog.err != nil {
			return
		}
		if info, err := bigLog.log.Info(ctx); err == nil && info.LastSeq == uint64(benchFiles)+1 {
			bigLog.last = info.LastSeq
			return
		}
		start := time.Now()
		tree := simtree.New("bench", 42)
		tree.Untracked = true
		a := bigLog.log.NewAppender()
		if bigLog.err = a.Append(ctx, tree.StartScan()); bigLog.err != nil {
			return
		}
		for left := benchFiles; left > 0; left -= 100_000 {
			for _, e := range tree.Walk(min(left, 100_000), 5) {
				if bigLog.err = a.Append(ctx, e); bigLog.err != nil {
					return
				}
			}
		}
		if bigLog.err = a.Flush(ctx); bigLog.err != nil {
			return
		}
		info, err := bigLog.log.Info(ctx)
		bigLog.last, bigLog.err = info.LastSeq, err
		fmt.Fprintf(os.Stderr, "bench: published %d events in %s\n", info.LastSeq, time.Since(start).Round(time.Millisecond))
	})
	if bigLog.err != nil {
		b.Fatal(bigLog.err)
	}
	return bigLog.log, bigLog.last
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigLog.srv != nil {
		bigLog.srv.Close()
	}
	if bigLog.dir != "" && os.Getenv("INDEXER_BENCH_DIR") == "" {
		os.RemoveAll(bigLog.dir)
	}
	os.Exit(code)
}

// heapPeak samples the heap until stop is called and returns the peak of
// the heap in use, in MB. It includes the embedded server, which shares the
// process as it does in indexer-project.
func heapPeak() (stop func() float64) {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				res <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return float64(<-res) / (1 << 20)
	}
}

// BenchmarkLiveProjection projects the big log into a new index with the
// live settings (fsync on every commit, DefaultBatchSize), reporting
// events/s, the index's size per file and the peak heap.
func BenchmarkLiveProjection(b *testing.B) {
	log, last := mustBigLog(b)
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "index.db")
		runtime.GC()
		stop := heapPeak()
		start := time.Now()
		p := &Projector{Log: log, Path: path}
		if err := p.Open(); err != nil {
			b.Fatal(err)
		}
		if err := p.CatchUp(context.Background()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		heap := stop()
		size := p.db.Size()
		if testing.Verbose() {
			printSizes(os.Stderr, p.db, benchFiles)
		}
		p.Close()
		b.ReportMetric(float64(last)/d.Seconds(), "events/s")
		b.ReportMetric(float64(size)/float64(benchFiles), "index-bytes/file")
		b.ReportMetric(heap, "heap-peak-MB")
	}
}

// BenchmarkRebuild reads the big log with a bare ordered consumer, then
// rebuilds an index from it, in the same run, and reports both times, their
// ratio, and the CPU time (user and system, of the whole process, embedded
// server included) each took.
func BenchmarkRebuild(b *testing.B) {
	log, last := mustBigLog(b)
	ctx := context.Background()
	for b.Loop() {
		start, cpu0 := time.Now(), cpuTime()
		n := 0
		if _, err := log.Replay(ctx, 1, "", func(r store.Record) error { n += len(r.Data); return nil }); err != nil {
			b.Fatal(err)
		}
		bare, bareCPU := time.Since(start), cpuTime()-cpu0

		path := filepath.Join(b.TempDir(), "index.db")
		runtime.GC()
		stop := heapPeak()
		start, cpu0 = time.Now(), cpuTime()
		cp, err := Build(ctx, log, path, BuildOptions{})
		if err != nil {
			b.Fatal(err)
		}
		build, buildCPU := time.Since(start), cpuTime()-cpu0
		heap := stop()
		if cp.Seq != last {
			b.Fatalf("built to %d, want %d", cp.Seq, last)
		}
		fi, _ := os.Stat(path)
		b.ReportMetric(bare.Seconds(), "bare-read-s")
		b.ReportMetric(build.Seconds(), "rebuild-s")
		b.ReportMetric(build.Seconds()/bare.Seconds(), "rebuild/bare")
		b.ReportMetric(bareCPU.Seconds(), "bare-cpu-s")
		b.ReportMetric(buildCPU.Seconds(), "rebuild-cpu-s")
		b.ReportMetric(float64(fi.Size())/float64(benchFiles), "index-bytes/file")
		b.ReportMetric(heap, "heap-peak-MB")
	}
}

// BenchmarkRebuildFloor measures, in one run, what any rebuild of the big
// log costs at least, against the bare read BenchmarkRebuild compares with:
//
//   - feed: the read and the decoding Build does (startFeed, its batches),
//     applying nothing;
//
//   - files-only: the same, plus the least an index can write: each file's
//     record under its files key, one sorted put per event, in Build's
//     batches, without fsync. No other read model, no lookups.
//
//   - files+history: the same, plus each event's key in history, the other
//     read model the issue asks to hold one entry per event.
//
//   - files+history+fids: the same, plus each file's entry in fids (file id
//     -> directory id and name), which any trigram index needs to turn the
//     ids of its posting lists back into files.
//
// The bare read runs before and after them; the ratios use its mean. Their
// ratios to the bare read bound what the rebuild/bare ratio of
// BenchmarkRebuild can reach on this machine with bbolt.
func BenchmarkRebuildFloor(b *testing.B) {
	log, last := mustBigLog(b)
	ctx := context.Background()
	bareRead := func() time.Duration {
		start := time.Now()
		if _, err := log.Replay(ctx, 1, "", func(store.Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for b.Loop() {
		bare := bareRead()
		start := time.Now()
		if err := floorFeed(ctx, log, last, nil); err != nil {
			b.Fatal(err)
		}
		feed := time.Since(start)

		var took [3]time.Duration // files, +history, +fids
		for models := range took {
			var err error
			if took[models], err = floorPuts(ctx, b.TempDir(), log, last, models+1); err != nil {
				b.Fatal(err)
			}
		}
		bare = (bare + bareRead()) / 2 // the machine's speed drifts
		b.ReportMetric(bare.Seconds(), "bare-read-s")
		b.ReportMetric(feed.Seconds()/bare.Seconds(), "feed/bare")
		b.ReportMetric(took[0].Seconds()/bare.Seconds(), "files-only/bare")
		b.ReportMetric(took[1].Seconds()/bare.Seconds(), "files+history/bare")
		b.ReportMetric(took[2].Seconds()/bare.Seconds(), "files+history+fids/bare")
	}
}

// floorPuts reads the log to last as Build does and writes each
// FileScanned's files record, with models >= 2 its history key and with
// models >= 3 its fids entry, into a new file in dir, and returns how long
// it took.
func floorPuts(ctx context.Context, dir string, log *store.Log, last uint64, models int) (time.Duration, error) {
	db := &store.DB{Path: filepath.Join(dir, "floor.db"), NoSync: true}
	if err := db.Open(); err != nil {
		return 0, err
	}
	defer db.Close()
	dirIDs := map[string]uint64{}
	var nextFID uint64
	start := time.Now()
	err := floorFeed(ctx, log, last, func(items []item) error {
		return db.Update(func(tx *store.Tx) error {
			files, hist, fids := tx.Bucket(bucketFiles), tx.Bucket(bucketHistory), tx.Bucket(bucketFIDs)
			files.SetFillPercent(0.9) // as newUnit sets them
			hist.SetFillPercent(0.9)
			fids.SetFillPercent(1.0)
			code := []byte{typeCodes[events.TypeFileScanned]}
			for i := range items {
				d, ok := items[i].ev.Data.(*events.FileScanned)
				if !ok {
					continue
				}
				dir, name := splitPath(string(d.Path))
				id, ok := dirIDs[dir]
				if !ok {
					id = uint64(len(dirIDs) + 1)
					dirIDs[dir] = id
				}
				if err := files.Put(fileKey(id, name), items[i].file.encode()); err != nil {
					return err
				}
				if models >= 2 {
					if err := hist.Put(historyKey(id, name, items[i].rec.Seq), code); err != nil {
						return err
					}
				}
				if models >= 3 {
					nextFID++
					if err := fids.Put(be64(nextFID), append(binary.AppendUvarint(nil, id), name...)); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	if err == nil {
		err = db.Sync()
	}
	return time.Since(start), err
}

// floorFeed reads the log to last as Build does, handing each batch to fn.
func floorFeed(ctx context.Context, log *store.Log, last uint64, fn func([]item) error) error {
	f, err := startFeed(ctx, log, 1, (&Projector{}).decoders(), DefaultRebuildBatchSize)
	if err != nil {
		return err
	}
	defer f.stop()
	var buf []item
	for n := uint64(0); n < last; {
		items, err := f.batch(ctx, DefaultRebuildBatchSize, time.Second, buf)
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(items); err != nil {
				return err
			}
		}
		buf, n = items, n+uint64(len(items))
	}
	return nil
}

// BenchmarkPublishToVisible publishes a scan of walk-order files as fast as
// the appender goes (and paced at 20,000 events/s) while a live projector
// follows, and reports the latency from publish to visible in the index.
func BenchmarkPublishToVisible(b *testing.B) {
	for _, rate := range []int{0, 20_000, 5_000} {
		name := "max-rate"
		if rate > 0 {
			name = fmt.Sprintf("%d-per-s", rate)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p50, p99, max := publishToVisible(b, min(200_000, 10*max(rate, 20_000)), rate)
				b.ReportMetric(p50.Seconds()*1000, "p50-ms")
				b.ReportMetric(p99.Seconds()*1000, "p99-ms")
				b.ReportMetric(max.Seconds()*1000, "max-ms")
			}
		})
	}
}

func publishToVisible(b *testing.B, n, rate int) (p50, p99, worst time.Duration) {
	ctx := context.Background()
	// Listening, as in indexer-project (see mustBigLog).
	log := MustOpenLog(b, storetest.MustOpenServer(b, "", false))
	p := MustOpenProjector(b, log, "")
	runProjector(b, p)
	tree := simtree.New("lat", 1)
	tree.Untracked = true
	evs := append([]events.Event{tree.StartScan()}, tree.Walk(n, 5)...)
	sent := make([]time.Time, len(evs))
	errc := make(chan error, 1)
	go func() {
		a := log.NewAppender()
		start := time.Now()
		for i, e := range evs {
			if rate > 0 {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
					time.Sleep(d) // pacing the publisher, not waiting for a condition
				}
			}
			sent[i] = time.Now()
			if err := a.Append(ctx, e); err != nil {
				errc <- err
				return
			}
			if i%256 == 255 {
				// Flush bounds reordering by retries to 256 events; none
				// happen here, so seq = i+1.
				if err := a.Flush(ctx); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- a.Flush(ctx)
	}()
	lat := make([]time.Duration, len(evs))
	for i := range evs {
		if err := p.WaitFor(ctx, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(sent[i])
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
