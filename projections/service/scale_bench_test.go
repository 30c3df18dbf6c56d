package service_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/store"
)

// scaleServerEnv, set in a child of the test binary, makes it run only the
// embedded server on the data directory it names (see TestMain), so the
// scale benchmark measures the server's memory apart from the projector's,
// as two processes.
const scaleServerEnv = "INDEXER_SCALE_SERVER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(scaleServerEnv); dir != "" {
		os.Exit(serveScaleLog(dir))
	}
	os.Exit(m.Run())
}

// serveScaleLog runs the embedded server on dir, listening on a free
// loopback port (its URL in dir/server.url, as indexer-project writes it),
// until its standard input closes.
func serveScaleLog(dir string) int {
	srv := &store.Server{DataDir: dir}
	if err := srv.Open(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "scale server:", err)
		return 1
	}
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	return 0
}

// scaleFiles is the number of files of BenchmarkScale:
// INDEXER_BENCH_SCALE_FILES, default ten million.
func scaleFiles() int {
	if n, err := strconv.Atoi(os.Getenv("INDEXER_BENCH_SCALE_FILES")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// BenchmarkScale measures the README's goals at ten million files, in one
// run: the log is a synthetic scan (servicetest.Generate, the files the
// query benchmarks ask about, FileScanned events of about 420 bytes), held
// by the embedded server in a process of its own, and this process
// projects it. It reports
//
//   - publish: how fast the scan's events were appended;
//   - live projection (Projector.CatchUp, fsync on every commit) of the
//     whole log: its rate over the first tenth of the events (the first
//     million) and over the last tenth, and their ratio (goal >= 0.7);
//   - the server's resident memory, peak, while the events were appended,
//     and while the projector read them (goal < 500 MB);
//   - the projector's resident memory and Go heap, peak (goal < 1 GB);
//   - index.db's bytes per file (goal < 500);
//   - the query goals on the live index: a name search for a word in ~8%
//     of the names (p50 < 20 ms), the top 100 duplicate groups (< 20 ms),
//     a lookup by path (< 1 ms);
//   - a rebuild of the whole log into a new file (goal < 4 min).
//
// It takes about 25 minutes at ten million files on a 2-core machine and
// needs about 12 GB in the temp dir (INDEXER_BENCH_SCALE_DIR keeps the
// log between runs there instead: a log already holding the scan is not
// published again):
//
//	go test ./projections/service -run '^$' -bench '^BenchmarkScale$' -benchtime 1x -timeout 2h
//
// INDEXER_BENCH_SCALE_FILES=1000000 makes a quicker run. CI never runs it.
func BenchmarkScale(b *testing.B) {
	n := scaleFiles()
	for b.Loop() {
		r := runScale(b, n)
		b.ReportMetric(r.publish, "publish-events/s")
		b.ReportMetric(r.firstRate, "live-first-tenth-events/s")
		b.ReportMetric(r.lastRate, "live-last-tenth-events/s")
		b.ReportMetric(r.lastRate/r.firstRate, "live-last/first")
		b.ReportMetric(r.liveRate, "live-events/s")
		b.ReportMetric(r.serverPublishMB, "server-rss-publish-MB")
		b.ReportMetric(r.serverReadMB, "server-rss-project-MB")
		b.ReportMetric(r.projectorMB, "projector-rss-MB")
		b.ReportMetric(r.projectorHeapMB, "projector-heap-MB")
		b.ReportMetric(r.bytesPerFile, "index-bytes/file")
		b.ReportMetric(r.findP50, "find-p50-ms")
		b.ReportMetric(r.dupesP50, "dupes-p50-ms")
		b.ReportMetric(r.lookupP50, "lookup-p50-ms")
		b.ReportMetric(r.rebuild.Seconds(), "rebuild-s")
		b.ReportMetric(r.rebuildMB, "rebuild-rss-MB")
	}
}

// scaleResult is what runScale measured.
type scaleResult struct {
	publish                       float64 // events/s
	firstRate, lastRate, liveRate float64 // events/s
	serverPublishMB, serverReadMB float64
	projectorMB, projectorHeapMB  float64
	bytesPerFile                  float64
	findP50, dupesP50, lookupP50  float64 // ms
	rebuild                       time.Duration
	rebuildMB                     float64
}

func runScale(b *testing.B, n int) scaleResult {
	ctx := context.Background()
	var r scaleResult
	dir := os.Getenv("INDEXER_BENCH_SCALE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	logDir := filepath.Join(dir, "log")
	server := startScaleServer(b, logDir)
	nc, err := store.Dial(ctx, store.ReadServerURL(logDir), "scale-bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc}
	if err := log.Open(ctx); err != nil {
		b.Fatal(err)
	}
	say := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "scale %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	last := uint64(n) + 2

	// Publish, unless the kept log holds the scan already.
	info, err := log.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if info.LastSeq != last {
		if info.LastSeq != 0 {
			b.Fatalf("the log in %s holds %d events, not the %d of a scan of %d files: remove it", logDir, info.LastSeq, last, n)
		}
		server.resetPeak()
		start := time.Now()
		a := log.NewAppender()
		sent := 0
		err := servicetest.Generate(servicetest.Big, n, func(e events.Event) error {
			if sent++; sent%1_000_000 == 0 {
				say("published %d", sent)
			}
			return a.Append(ctx, e)
		})
		if err == nil {
			err = a.Flush(ctx)
		}
		if err != nil {
			b.Fatal(err)
		}
		r.publish = float64(last) / time.Since(start).Seconds()
		r.serverPublishMB = server.peakMB()
		say("published %d events in %s (%.0f/s), server peak RSS %.0f MB", last, time.Since(start).Round(time.Second), r.publish, r.serverPublishMB)
	}

	// Live projection, in this process.
	runtime.GC()
	debug.FreeOSMemory()
	self := watchRSS(os.Getpid())
	server.resetPeak()
	heap := sampleHeap()
	path := filepath.Join(dir, "index.db")
	os.Remove(path)
	p := &projections.Projector{Log: log, Path: path}
	if err := p.Open(); err != nil {
		b.Fatal(err)
	}
	marks := watchTenths(p, last)
	start := time.Now()
	if err := p.CatchUp(ctx); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	times := marks()
	r.liveRate = float64(last) / took.Seconds()
	r.projectorHeapMB = heap()
	r.projectorMB = self.peakMB()
	r.serverReadMB = server.peakMB()
	r.firstRate, r.lastRate = tenthRates(times, start, last)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	r.bytesPerFile = float64(fi.Size()) / float64(n)
	say("projected %d events in %s (%.0f/s; first tenth %.0f/s, last tenth %.0f/s), projector peak RSS %.0f MB, heap %.0f MB, server %.0f MB, index.db %.0f bytes/file",
		last, took.Round(time.Second), r.liveRate, r.firstRate, r.lastRate, r.projectorMB, r.projectorHeapMB, r.serverReadMB, r.bytesPerFile)
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	self.stop()

	// Queries on the live index, read-only as indexer reads it.
	r.findP50, r.dupesP50, r.lookupP50 = scaleQueries(b, path, n)
	say("queries: name search p50 %.2f ms, top 100 groups p50 %.2f ms, lookup p50 %.3f ms", r.findP50, r.dupesP50, r.lookupP50)

	// A rebuild of the whole log into a new file.
	runtime.GC()
	debug.FreeOSMemory()
	self = watchRSS(os.Getpid())
	into := filepath.Join(dir, "rebuilt.db")
	os.Remove(into)
	start = time.Now()
	cp, err := projections.Build(ctx, log, into, projections.BuildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r.rebuild = time.Since(start)
	r.rebuildMB = self.peakMB()
	self.stop()
	if cp.Seq != last {
		b.Fatalf("rebuilt to %d, want %d", cp.Seq, last)
	}
	say("rebuilt in %s, peak RSS %.0f MB", r.rebuild.Round(time.Second), r.rebuildMB)
	os.Remove(into)
	os.Remove(path)
	return r
}

// scaleQueries opens the index at path read-only and times the three
// questions whose goals the README states, 200 times each, returning their
// medians in milliseconds.
func scaleQueries(b *testing.B, path string, n int) (find, dupes, lookup float64) {
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q := &service.Local{Index: projections.NewIndex(db)}
	ctx := context.Background()
	median := func(fn func(i int) error) float64 {
		var lat []time.Duration
		for i := range 200 {
			start := time.Now()
			if err := fn(i); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		return float64(lat[len(lat)/2].Microseconds()) / 1000
	}
	find = median(func(int) error {
		_, err := q.Find(ctx, service.FindRequest{Pattern: "invoice", Limit: 100})
		return err
	})
	dupes = median(func(int) error {
		_, err := q.Dupes(ctx, service.DupesRequest{Limit: 100})
		return err
	})
	lookup = median(func(i int) error {
		f := servicetest.GenFile(servicetest.Big, (i*7919*1013)%n)
		got, err := q.Lookup(ctx, servicetest.Big, f.Path)
		if err == nil && got.Size != f.Size {
			return fmt.Errorf("lookup %s: size %d, want %d", f.Path, got.Size, f.Size)
		}
		return err
	})
	return find, dupes, lookup
}

// scaleServer is the embedded server's process.
type scaleServer struct {
	cmd *exec.Cmd
	rss *rssWatch
}

// startScaleServer runs the embedded server on dir in a child process
// (this test binary, see TestMain) and waits until it serves; it is
// stopped at cleanup.
func startScaleServer(b *testing.B, dir string) *scaleServer {
	b.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	os.Remove(store.Dir(dir).ServerURLPath())
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), scaleServerEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	// The server writes its URL once it accepts connections.
	for store.ReadServerURL(dir) == "" {
		if cmd.ProcessState != nil {
			b.Fatal("the scale server ended")
		}
		time.Sleep(20 * time.Millisecond) // polling for the child's file
	}
	s := &scaleServer{cmd: cmd, rss: watchRSS(cmd.Process.Pid)}
	b.Cleanup(s.rss.stop)
	return s
}

func (s *scaleServer) resetPeak()      { s.rss.reset() }
func (s *scaleServer) peakMB() float64 { return s.rss.peakMB() }

// rssWatch samples a process's resident memory every 50 ms and keeps the
// peak since the last reset.
type rssWatch struct {
	pid  int
	mu   sync.Mutex
	peak uint64 // kB
	done chan struct{}
	once sync.Once
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := rssKB(pid); kb > 0 {
				w.mu.Lock()
				w.peak = max(w.peak, kb)
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) reset() {
	w.mu.Lock()
	w.peak = rssKB(w.pid)
	w.mu.Unlock()
}

func (w *rssWatch) peakMB() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.peak) / 1024
}

func (w *rssWatch) stop() { w.once.Do(func() { close(w.done) }) }

// rssKB is the VmRSS of pid in kB, 0 when it cannot be read.
func rssKB(pid int) uint64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// sampleHeap samples this process's Go heap in use until the returned
// function is called, which returns the peak in MB.
func sampleHeap() func() float64 {
	done, res := make(chan struct{}), make(chan uint64)
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
	return func() float64 { close(done); return float64(<-res) / (1 << 20) }
}

// watchTenths records when p's checkpoint passes each tenth of last,
// until the returned function is called, which returns those times.
func watchTenths(p *projections.Projector, last uint64) func() []time.Time {
	done, res := make(chan struct{}), make(chan []time.Time)
	go func() {
		var times []time.Time
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			stop := false
			select {
			case <-done:
				stop = true // one more look: CatchUp has returned
			case <-t.C:
			}
			cp := p.Checkpoint()
			for len(times) < 10 && uint64(len(times)+1)*last/10 <= cp {
				times = append(times, time.Now())
			}
			if stop {
				res <- times
				return
			}
		}
	}()
	return func() []time.Time { close(done); return <-res }
}

// tenthRates returns the rate of the first tenth of last events and of
// the last tenth, from the times the checkpoint passed each tenth.
func tenthRates(times []time.Time, start time.Time, last uint64) (first, final float64) {
	if len(times) < 10 {
		return 0, 0
	}
	tenth := float64(last) / 10
	return tenth / times[0].Sub(start).Seconds(), tenth / times[9].Sub(times[8]).Seconds()
}
