package service_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
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
	"github.com/indexer/indexer/store/embedded"
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
	srv := &embedded.Server{DataDir: dir}
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
//     million) and over the last tenth, and their ratio (goal >= 0.7),
//     with the CPU time per event of each (projector and server), which a
//     busy machine disturbs less than the rate;
//   - the server's resident memory, peak, while the events were appended,
//     and while the projector read them (goal < 500 MB);
//   - the projector's resident memory, peak, all of it and the anonymous
//     part (without index.db's pages mapped by bbolt, which are page
//     cache), and its Go heap (goal < 1 GB);
//   - index.db's bytes per file (goal < 500);
//   - the query goals on the live index: a name search for a word in ~8%
//     of the names (p50 < 20 ms), the top 100 duplicate groups (< 20 ms),
//     a lookup by path (< 1 ms);
//   - a rebuild of the whole log into a new file (goal < 4 min), beside a
//     bare read of the log just before it (the machine's speed then).
//
// It takes about 25 minutes at ten million files on a 2-core machine and
// needs about 12 GB in the temp dir (INDEXER_BENCH_SCALE_DIR keeps the
// log and the live index between runs there instead: a log already
// holding the scan is not published again):
//
//	go test ./projections/service -run '^$' -bench '^BenchmarkScale$' -benchtime 1x -timeout 2h
//
// INDEXER_BENCH_SCALE_FILES=1000000 makes a quicker run;
// INDEXER_BENCH_SCALE_HEAPPROFILE=FILE writes the projector's heap profile
// once it has projected the log. CI never runs it.
//
// For work on the rebuild: INDEXER_BENCH_SCALE_ONLY=rebuild runs only the
// bare read and the rebuild, on a kept log that holds the scan (about 6
// minutes at ten million, not 25), and INDEXER_BENCH_SCALE_ONLY=live only
// the live projection and the queries; INDEXER_BENCH_SCALE_INDEX_DIR puts
// index.db and rebuilt.db there instead of beside the log; and
// INDEXER_BENCH_SCALE_CPUPROFILE=FILE writes CPU profiles of the rebuild's
// first tenth of the events (FILE.first) and its last tenth (FILE.last),
// to compare what the index's size makes dearer;
// INDEXER_BENCH_SCALE_REBUILD_BATCH sets the rebuild's events per
// transaction (BuildOptions.BatchSize). The rebuild's CPU time of
// each process (projector, server) is reported in all, and for the first
// and last tenths per event.
func BenchmarkScale(b *testing.B) {
	n := scaleFiles()
	for b.Loop() {
		r := runScale(b, n)
		if r.liveRate > 0 {
			b.ReportMetric(r.publish, "publish-events/s")
			b.ReportMetric(r.firstRate, "live-first-tenth-events/s")
			b.ReportMetric(r.lastRate, "live-last-tenth-events/s")
			b.ReportMetric(r.lastRate/r.firstRate, "live-last/first")
			b.ReportMetric(float64(r.firstCPU.Nanoseconds())/1000, "live-first-tenth-cpu-us/event")
			b.ReportMetric(float64(r.lastCPU.Nanoseconds())/1000, "live-last-tenth-cpu-us/event")
			b.ReportMetric(r.liveRate, "live-events/s")
			b.ReportMetric(r.serverPublishMB, "server-rss-publish-MB")
			b.ReportMetric(r.serverReadMB, "server-rss-project-MB")
			b.ReportMetric(r.projectorMB, "projector-rss-MB")
			b.ReportMetric(r.projectorAnonMB, "projector-anon-MB")
			b.ReportMetric(r.projectorHeapMB, "projector-heap-MB")
			b.ReportMetric(r.bytesPerFile, "index-bytes/file")
			b.ReportMetric(r.findP50, "find-p50-ms")
			b.ReportMetric(r.dupesP50, "dupes-p50-ms")
			b.ReportMetric(r.lookupP50, "lookup-p50-ms")
		}
		if r.rebuild == 0 {
			continue // INDEXER_BENCH_SCALE_ONLY=live
		}
		b.ReportMetric(r.rebuild.Seconds(), "rebuild-s")
		b.ReportMetric(r.bareRead.Seconds(), "bare-read-s")
		b.ReportMetric(r.rebuild.Seconds()/r.bareRead.Seconds(), "rebuild/bare")
		b.ReportMetric(r.bareCPU.Seconds(), "bare-read-cpu-s")
		b.ReportMetric(r.rebuildCPU.Seconds(), "rebuild-projector-cpu-s")
		b.ReportMetric(r.rebuildServerCPU.Seconds(), "rebuild-server-cpu-s")
		b.ReportMetric(float64(r.rebuildFirstCPU.Nanoseconds())/1000, "rebuild-first-tenth-cpu-us/event")
		b.ReportMetric(float64(r.rebuildLastCPU.Nanoseconds())/1000, "rebuild-last-tenth-cpu-us/event")
		b.ReportMetric(r.rebuildMB, "rebuild-rss-MB")
		b.ReportMetric(r.rebuildAnonMB, "rebuild-anon-MB")
		b.ReportMetric(r.rebuildHeapMB, "rebuild-heap-MB")
	}
}

// scaleResult is what runScale measured.
type scaleResult struct {
	publish                       float64       // events/s
	firstRate, lastRate, liveRate float64       // events/s
	firstCPU, lastCPU             time.Duration // per event, both processes
	serverPublishMB, serverReadMB float64
	projectorMB, projectorAnonMB  float64
	projectorHeapMB               float64
	bytesPerFile                  float64
	findP50, dupesP50, lookupP50  float64 // ms
	rebuild                       time.Duration
	bareRead                      time.Duration
	rebuildMB, rebuildAnonMB      float64
	rebuildHeapMB                 float64
	// CPU time: of both processes for the bare read; of the projector and
	// of the server for the rebuild, in all and per event over the first
	// and the last tenth (the projector's).
	bareCPU, rebuildCPU, rebuildServerCPU time.Duration
	rebuildFirstCPU, rebuildLastCPU       time.Duration
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
	only := os.Getenv("INDEXER_BENCH_SCALE_ONLY")
	switch {
	case only != "" && only != "rebuild" && only != "live":
		b.Fatalf("INDEXER_BENCH_SCALE_ONLY=%q: only rebuild and live are known", only)
	case only != "" && info.LastSeq != last:
		b.Fatalf("INDEXER_BENCH_SCALE_ONLY=%s needs a log holding the scan in %s (it holds %d events, not %d): run the whole benchmark once", only, logDir, info.LastSeq, last)
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
		r.serverPublishMB, _ = server.peakMB()
		say("published %d events in %s (%.0f/s), server peak RSS %.0f MB", last, time.Since(start).Round(time.Second), r.publish, r.serverPublishMB)
	}
	indexDir := cmp.Or(os.Getenv("INDEXER_BENCH_SCALE_INDEX_DIR"), dir)
	if only != "rebuild" {
		scaleLive(b, &r, log, server, filepath.Join(indexDir, "index.db"), n, say)
	}
	if only == "live" {
		return r
	}

	// A bare read of the log, for the machine's speed at the moment, then
	// a rebuild of the whole log into a new file.
	srv := server.cmd.Process.Pid
	start, cpu0 := time.Now(), cpuOf(os.Getpid())+cpuOf(srv)
	if _, err := log.Replay(ctx, 1, "", func(store.Record) error { return nil }); err != nil {
		b.Fatal(err)
	}
	r.bareRead, r.bareCPU = time.Since(start), cpuOf(os.Getpid())+cpuOf(srv)-cpu0
	say("bare read of the log in %s (%.0f events/s), %.1f s of CPU", r.bareRead.Round(time.Second), float64(last)/r.bareRead.Seconds(), r.bareCPU.Seconds())
	runtime.GC()
	debug.FreeOSMemory()
	self := watchRSS(os.Getpid())
	heap := sampleHeap()
	into := filepath.Join(indexDir, "rebuilt.db")
	os.Remove(into)
	begin := markOf(os.Getpid(), srv)
	tenths := &tenthMarks{last: last, pids: [2]int{os.Getpid(), srv}, profile: os.Getenv("INDEXER_BENCH_SCALE_CPUPROFILE")}
	tenths.startProfile(".first")
	opt := projections.BuildOptions{Progress: tenths.progress}
	opt.BatchSize, _ = strconv.Atoi(os.Getenv("INDEXER_BENCH_SCALE_REBUILD_BATCH"))
	cp, err := projections.Build(ctx, log, into, opt)
	if err != nil {
		b.Fatal(err)
	}
	end := markOf(os.Getpid(), srv)
	tenths.stopProfile()
	r.rebuild = end.t.Sub(begin.t)
	r.rebuildCPU, r.rebuildServerCPU = end.cpu-begin.cpu, end.cpu2-begin.cpu2
	r.rebuildMB, r.rebuildAnonMB = self.peakMB()
	r.rebuildHeapMB = heap()
	self.stop()
	if cp.Seq != last {
		b.Fatalf("rebuilt to %d, want %d", cp.Seq, last)
	}
	if m := tenths.marks; len(m) == 10 {
		tenth := float64(last) / 10
		r.rebuildFirstCPU = time.Duration(float64(m[0].cpu-begin.cpu) / tenth)
		r.rebuildLastCPU = time.Duration(float64(m[9].cpu-m[8].cpu) / tenth)
		say("rebuild: first tenth %.0f events/s, %.1f us CPU an event (server %.1f us, %d minor faults); last tenth %.0f/s, %.1f us (server %.1f us, %d minor faults)",
			tenth/m[0].t.Sub(begin.t).Seconds(), float64(r.rebuildFirstCPU.Nanoseconds())/1000, float64((m[0].cpu2-begin.cpu2).Nanoseconds())/1000/tenth, m[0].minflt-begin.minflt,
			tenth/m[9].t.Sub(m[8].t).Seconds(), float64(r.rebuildLastCPU.Nanoseconds())/1000, float64((m[9].cpu2-m[8].cpu2).Nanoseconds())/1000/tenth, m[9].minflt-m[8].minflt)
	}
	say("rebuilt in %s, CPU %.0f s (server %.0f s), peak RSS %.0f MB (anonymous %.0f MB, heap %.0f MB)",
		r.rebuild.Round(time.Second), r.rebuildCPU.Seconds(), r.rebuildServerCPU.Seconds(), r.rebuildMB, r.rebuildAnonMB, r.rebuildHeapMB)
	os.Remove(into)
	if os.Getenv("INDEXER_BENCH_SCALE_DIR") == "" {
		os.Remove(filepath.Join(indexDir, "index.db"))
	} // else kept beside the log, for a look at its queries
	return r
}

// scaleLive projects the whole log live into a new index at path, as
// indexer-project does, then times the queries on it, into r.
func scaleLive(b *testing.B, r *scaleResult, log *store.Log, server *scaleServer, path string, n int, say func(string, ...any)) {
	ctx := context.Background()
	last := uint64(n) + 2
	runtime.GC()
	debug.FreeOSMemory()
	self := watchRSS(os.Getpid())
	server.resetPeak()
	heap := sampleHeap()
	os.Remove(path)
	commits := &commitTimes{tenth: last / 10, last: last}
	p := &projections.Projector{Log: log, Path: path, Observer: commits}
	if err := p.Open(); err != nil {
		b.Fatal(err)
	}
	begin := markNow(server.cmd.Process.Pid)
	marks := watchTenths(p, last, server.cmd.Process.Pid)
	start := begin.t
	if err := p.CatchUp(ctx); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	tenths := marks()
	if f := os.Getenv("INDEXER_BENCH_SCALE_HEAPPROFILE"); f != "" {
		writeHeapProfile(b, f) // what the projector holds at ten million files
	}
	r.liveRate = float64(last) / took.Seconds()
	r.projectorHeapMB = heap()
	r.projectorMB, r.projectorAnonMB = self.peakMB()
	r.serverReadMB, _ = server.peakMB()
	r.firstRate, r.lastRate, r.firstCPU, r.lastCPU = tenthRates(tenths, begin, last)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	r.bytesPerFile = float64(fi.Size()) / float64(n)
	say("projected %d events in %s (%.0f/s; first tenth %.0f/s, %.1f us CPU an event; last tenth %.0f/s, %.1f us), projector peak RSS %.0f MB (anonymous %.0f MB, heap %.0f MB), server %.0f MB, index.db %.0f bytes/file",
		last, took.Round(time.Second), r.liveRate, r.firstRate, float64(r.firstCPU.Nanoseconds())/1000, r.lastRate, float64(r.lastCPU.Nanoseconds())/1000, r.projectorMB, r.projectorAnonMB, r.projectorHeapMB, r.serverReadMB, r.bytesPerFile)
	say("live batches, first tenth / last tenth: %s / %s", commits.first, commits.final)
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	self.stop()

	// Queries on the live index, read-only as indexer reads it.
	r.findP50, r.dupesP50, r.lookupP50 = scaleQueries(b, path, n)
	say("queries: name search p50 %.2f ms, top 100 groups p50 %.2f ms, lookup p50 %.3f ms", r.findP50, r.dupesP50, r.lookupP50)
}

// procMark is a moment of a rebuild: the time, the CPU time the projector
// (cpu) and the server (cpu2) had used by then, and the projector's minor
// page faults (the pages of index.db bbolt's map touches first).
type procMark struct {
	t         time.Time
	cpu, cpu2 time.Duration
	minflt    uint64
}

func markOf(pid, server int) procMark {
	return procMark{time.Now(), cpuOf(pid), cpuOf(server), faultsOf(pid)}
}

// tenthMarks records a procMark each time a build's checkpoint passes a
// tenth of last (Progress), and with a profile file name, profiles the CPU
// of the first tenth (FILE.first) and of the last (FILE.last).
type tenthMarks struct {
	last    uint64
	pids    [2]int // projector, server
	marks   []procMark
	profile string
	out     *os.File
}

func (m *tenthMarks) progress(seq uint64) {
	for len(m.marks) < 10 && uint64(len(m.marks)+1)*m.last/10 <= seq {
		m.marks = append(m.marks, markOf(m.pids[0], m.pids[1]))
		switch len(m.marks) {
		case 1:
			m.stopProfile()
		case 9:
			m.startProfile(".last")
		}
	}
}

func (m *tenthMarks) startProfile(suffix string) {
	if m.profile == "" {
		return
	}
	f, err := os.Create(m.profile + suffix)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale: cpu profile:", err)
		m.profile = ""
		return
	}
	m.out = f
}

func (m *tenthMarks) stopProfile() {
	if m.out != nil {
		pprof.StopCPUProfile()
		m.out.Close()
		m.out = nil
	}
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

// writeHeapProfile writes this process's heap profile (after a
// collection: what is live) to file.
func writeHeapProfile(b *testing.B, file string) {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
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

func (s *scaleServer) resetPeak()                  { s.rss.reset() }
func (s *scaleServer) peakMB() (rss, anon float64) { return s.rss.peakMB() }

// rssWatch samples a process's resident memory every 50 ms and keeps the
// peaks since the last reset: of its anonymous memory (heap, stacks: what
// the process itself holds) and of all of it (VmRSS, which also counts
// the pages of mapped files it touched: index.db, read through bbolt's
// memory map, is page cache the kernel can drop).
type rssWatch struct {
	pid        int
	mu         sync.Mutex
	anon, peak uint64 // kB
	done       chan struct{}
	once       sync.Once
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, anon := rssKB(pid); rss > 0 {
				w.mu.Lock()
				w.peak, w.anon = max(w.peak, rss), max(w.anon, anon)
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
	w.peak, w.anon = rssKB(w.pid)
	w.mu.Unlock()
}

// peakMB returns the peaks of all resident memory and of the anonymous
// part, in MB.
func (w *rssWatch) peakMB() (rss, anon float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.peak) / 1024, float64(w.anon) / 1024
}

func (w *rssWatch) stop() { w.once.Do(func() { close(w.done) }) }

// rssKB returns the VmRSS and RssAnon of pid in kB, 0 when they cannot
// be read.
func rssKB(pid int) (rss, anon uint64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	field := func(line, name string) (uint64, bool) {
		v, ok := strings.CutPrefix(line, name)
		if !ok {
			return 0, false
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return kb, true
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := field(sc.Text(), "VmRSS:"); ok {
			rss = kb
		} else if kb, ok := field(sc.Text(), "RssAnon:"); ok {
			anon = kb
		}
	}
	return rss, anon
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

// mark is a moment of the live projection: the time, and the CPU time
// both processes (projector and server) had used by then.
type mark struct {
	t   time.Time
	cpu time.Duration
}

// markNow returns the mark of now; server is the server's process id.
func markNow(server int) mark {
	return mark{time.Now(), cpuOf(os.Getpid()) + cpuOf(server)}
}

// cpuOf returns the user and system CPU time pid has used, from
// /proc/PID/stat (in clock ticks of 10 ms).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name in parentheses: utime and
	// stime are the 12th and 13th.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// faultsOf returns the minor page faults pid has had, from /proc/PID/stat
// (the 10th field after the command's name).
func faultsOf(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 8 {
		return 0
	}
	n, _ := strconv.ParseUint(f[7], 10, 64)
	return n
}

// watchTenths records the mark at which p's checkpoint passes each tenth
// of last, until the returned function is called, which returns them.
func watchTenths(p *projections.Projector, last uint64, server int) func() []mark {
	done, res := make(chan struct{}), make(chan []mark)
	go func() {
		var marks []mark
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
			for len(marks) < 10 && uint64(len(marks)+1)*last/10 <= cp {
				marks = append(marks, markNow(server))
			}
			if stop {
				res <- marks
				return
			}
		}
	}()
	return func() []mark { close(done); return <-res }
}

// commitTimes sums what the live projection's batches took in the first
// and the last tenth of the log (by the events counted so far), to tell
// applying from committing (bbolt's write and fsync) from waiting for the
// feed (the rest of the tenth's wall time).
type commitTimes struct {
	tenth, last, seen uint64
	first, final      batchTimes
}

type batchTimes struct {
	batches      int
	apply, total time.Duration
}

func (t batchTimes) String() string {
	return fmt.Sprintf("%d batches, applying %.1f s, committing %.1f s", t.batches, t.apply.Seconds(), (t.total - t.apply).Seconds())
}

func (c *commitTimes) ObserveBatch(b projections.Batch) {
	c.seen += uint64(b.Events)
	var t *batchTimes
	switch {
	case c.seen <= c.tenth:
		t = &c.first
	case c.seen > c.last-c.tenth:
		t = &c.final
	default:
		return
	}
	t.batches++
	t.apply += b.Apply
	t.total += b.Total
}

// tenthRates returns the rate of the first tenth of last events and of
// the last tenth, and the CPU time per event of each (both processes),
// from the marks at each tenth and the one at the start.
func tenthRates(marks []mark, start mark, last uint64) (first, final float64, firstCPU, finalCPU time.Duration) {
	if len(marks) < 10 {
		return 0, 0, 0, 0
	}
	tenth := float64(last) / 10
	first, final = tenth/marks[0].t.Sub(start.t).Seconds(), tenth/marks[9].t.Sub(marks[8].t).Seconds()
	firstCPU = time.Duration(float64(marks[0].cpu-start.cpu) / tenth)
	finalCPU = time.Duration(float64(marks[9].cpu-marks[8].cpu) / tenth)
	return first, final, firstCPU, finalCPU
}
