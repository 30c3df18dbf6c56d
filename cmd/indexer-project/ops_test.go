package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/promtest"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for a running Main and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startInProcess runs `indexer-project run` on dir in this process until
// the test ends and returns its web address.
func startInProcess(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- (&Main{Stdout: &syncBuffer{}, Stderr: stderr}).Run(ctx,
			append([]string{"run", "--data", dir, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v\n%s", err, stderr)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, rest, ok := strings.Cut(stderr.String(), "web UI and API "); ok {
			url, _, _ := strings.Cut(rest, ",")
			return url
		}
		select {
		case err := <-done:
			t.Fatalf("run stopped: %v\n%s", err, stderr)
		default:
		}
	}
	t.Fatalf("no web address:\n%s", stderr)
	return ""
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestMetricsAfterKnownEvents scrapes a running indexer-project after it
// projected known events: the projector's, the queries', the embedded
// server's (under prometheus-nats-exporter's names) and health's metrics
// have the values the events make; /nats/ serves the server's monitoring
// JSON; /live, /ready and /health answer.
func TestMetricsAfterKnownEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scan := events.NewID()
	sha := strings.Repeat("a", 64)
	last := seedDataDir(t, dir, []events.Event{
		events.New("m", scan, time.Now(), &events.ScanStarted{Root: "/"}),
		events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: "/a/x", Size: 3, Hashes: events.Hashes{SHA256: sha}}}),
		events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: "/b/y", Size: 3, Hashes: events.Hashes{SHA256: sha}}}),
		events.New("m", scan, time.Now(), &events.FileDeleted{Path: "/b/y"}),
	})
	url := startInProcess(t, dir)
	// Caught up and healthy: /health is sampled once a second.
	var health map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		health = map[string]any{}
		json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
		if resp.StatusCode == 200 && health["checkpoint"] == float64(last) && health["state"] == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy at %d: %d %v", last, resp.StatusCode, health)
		}
	}
	if health["status"] != "healthy" || health["state"] != "running" || health["lag"] != float64(0) {
		t.Fatalf("/health = %v", health)
	}
	var ok map[string]any
	getJSON(t, url+"/live", 200, &ok)
	getJSON(t, url+"/ready", 200, &ok)
	getJSON(t, url+"/api/stats", 200, &ok)

	m := promtest.Scrape(t, url+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"indexer_projection_events_applied_total", []string{"type", "ScanStarted"}, 1},
		{"indexer_projection_events_applied_total", []string{"type", "FileScanned"}, 2},
		{"indexer_projection_events_applied_total", []string{"type", "FileDeleted"}, 1},
		{"indexer_projection_state", []string{"state", "running"}, 1},
		{"indexer_projection_state", []string{"state", "stopped"}, 0},
		{"indexer_projection_state", []string{"state", "catching_up"}, 0},
		{"indexer_projection_state", []string{"state", "rebuilding"}, 0},
		{"indexer_projection_dead_letters", nil, 0},
		{"indexer_projection_lag", nil, 0},
		{"indexer_index_checkpoint", nil, float64(last)},
		{"indexer_log_last_seq", nil, float64(last)},
		{"indexer_healthy", nil, 1},
		{"indexer_query_duration_seconds", []string{"query", "stats"}, 2}, // /ready and /api/stats
		{"jetstream_stream_total_messages", []string{"stream_name", "INDEXER"}, float64(last)},
		{"jetstream_stream_last_seq", []string{"stream_name", "INDEXER"}, float64(last)},
		{"indexer_log_max_bytes", []string{"stream_name", "INDEXER"}, -1},
	} {
		got, found := m.Value(c.name, c.labels...)
		if !found || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, found, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"indexer_projection_batch_events", nil}, // histograms: a sample count
		{"indexer_projection_batch_duration_seconds", nil},
		{"indexer_projection_commit_duration_seconds", nil},
		{"indexer_index_size_bytes", nil},
		{"jetstream_stream_total_bytes", []string{"stream_name", "INDEXER"}},
		{"gnatsd_varz_connections", nil},
		{"jetstream_server_total_streams", nil}, // the log, and the buckets beside it
	} {
		if got, found := m.Value(c.name, c.labels...); !found || got < 1 {
			t.Errorf("%s%v = %v (found %v), want at least 1", c.name, c.labels, got, found)
		}
	}
	// The projector's ordered consumer, with nothing pending.
	if got, found := m.Value("jetstream_consumer_num_pending", "stream_name", "INDEXER"); !found || got != 0 {
		t.Errorf("jetstream_consumer_num_pending = %v (found %v), want 0", got, found)
	}
	// Every metric the Grafana dashboard asks for is exposed (the
	// scanner's by indexer-scan --metrics: its own test checks those).
	for _, name := range promtest.DashboardMetrics(t, "../../docs/grafana/indexer.json") {
		if !isScanMetric(name) && !m.Has(name) {
			t.Errorf("the dashboard asks for %s, which indexer-project does not expose", name)
		}
	}
	if t.Failed() {
		t.Fatalf("metrics: %s", m.Names())
	}

	// The embedded server's own monitoring, on the same HTTP server.
	var varz struct {
		ID string `json:"server_id"`
	}
	getJSON(t, url+"/nats/varz", 200, &varz)
	var jsz struct {
		Streams  int    `json:"streams"`
		Messages uint64 `json:"messages"`
	}
	getJSON(t, url+"/nats/jsz", 200, &jsz)
	var healthz struct {
		Status string `json:"status"`
	}
	getJSON(t, url+"/nats/healthz", 200, &healthz)
	if varz.ID == "" || jsz.Streams < 1 || jsz.Messages < last || healthz.Status != "ok" {
		t.Fatalf("/nats/: varz %+v jsz %+v healthz %+v", varz, jsz, healthz)
	}

	// status beside the running projector shows its health.
	out, err := runMain(t, "status", "--data", dir)
	if err != nil || !strings.Contains(out, "health           healthy (state running") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// TestCompactCommand: compact alone on a data directory, then beside a
// running indexer-project, which does it while answering queries; the
// answers are the same (dump before and after).
func TestCompactCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedSteps(t, dir, 5, 2000)
	if _, err := runMain(t, "rebuild", "--data", dir); err != nil {
		t.Fatal(err)
	}
	before := dumpFile(t, store.Dir(dir).IndexPath())
	out, err := runMain(t, "compact", "--data", dir)
	if err != nil || !strings.Contains(out, "compacted ") {
		t.Fatalf("compact: %v %s", err, out)
	}
	if got := dumpFile(t, store.Dir(dir).IndexPath()); got != before {
		t.Fatal("compact changed the answers")
	}
	url := startInProcess(t, dir)
	var ok map[string]any
	getJSON(t, url+"/ready", 200, &ok)
	// compact asks over the subject in the status file: wait for it.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := readOwnerStatus(store.Dir(dir).StatusPath()); err == nil && st.RebuildSubject != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no status file")
		}
	}
	out, err = runMain(t, "compact", "--data", dir)
	if err != nil || !strings.Contains(out, "(by indexer-project PID ") {
		t.Fatalf("compact beside a running projector: %v %s", err, out)
	}
	getJSON(t, url+"/api/stats", 200, &ok)
}

// isScanMetric reports whether name is indexer-scan's, not indexer-project's.
func isScanMetric(name string) bool {
	return strings.HasPrefix(name, "indexer_scan_") || strings.HasPrefix(name, "indexer_last_scan_")
}

// TestHealthWhileStarting: the HTTP server answers before Run begins, and
// a projector that has not followed the log yet is starting, not stopped
// (/health said 503 in that moment); once it followed, a stop is a stop.
func TestHealthWhileStarting(t *testing.T) {
	t.Parallel()
	hw := &healthWatch{log: storetest.MustOpenLog(t, storetest.MustOpenServer(t, t.TempDir(), true))}
	ctx := context.Background()
	if v := hw.observe(ctx, projections.Status{State: projections.StateStopped}, nil); !v.Healthy {
		t.Fatalf("before Run: %+v, want healthy (starting)", v)
	}
	hw.observe(ctx, projections.Status{State: projections.StateRunning}, nil)
	if v := hw.observe(ctx, projections.Status{State: projections.StateStopped}, nil); v.Healthy {
		t.Fatalf("stopped after following: %+v, want unhealthy", v)
	}
}

// TestHealthHeadStaleWhileScanFrozen: a real indexer-scan process holds its
// lease while it publishes; frozen with SIGSTOP, its lease lives on (30 s)
// but nothing reaches the log, and /health turns unhealthy with that
// reason once the head has stood still for --head-stale; after SIGCONT the
// scan goes on and ends, and /health is healthy again.
//
// On a loaded machine the verdict may take long enough that the scan's
// own wait for the log's acknowledgements (15 s) runs out while it is
// frozen: it then ends with that error, which is the scan's rule, not the
// health check's, and /health must still be healthy after it.
func TestHealthHeadStaleWhileScanFrozen(t *testing.T) {
	t.Parallel()
	bin, err := scanBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Enough files that the scan is still publishing when it is frozen
	// (it is frozen as soon as its first events are in the log).
	tree := t.TempDir()
	for d := 0; d < 100; d++ {
		sub := filepath.Join(tree, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 200; f++ {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d", f)), []byte(fmt.Sprintf("file %d %d\n", d, f)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	url := startInProcess(t, dir, "--head-stale", "2s")
	health := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		v := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	waitHealth := func(what string, ok func(int, map[string]any) bool) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			code, v := health()
			if ok(code, v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("/health not %s: %d %v", what, code, v)
			}
		}
	}
	waitHealth("healthy before the scan", func(code int, _ map[string]any) bool { return code == 200 })

	scan := exec.Command(bin, "--data", dir, "--quiet", "--priority", "normal", tree)
	var scanErr bytes.Buffer
	scan.Stderr = &scanErr
	if err := scan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- scan.Wait() }()
	defer func() {
		scan.Process.Signal(syscall.SIGCONT)
		scan.Process.Kill()
		<-exited
	}()
	// Its first files are in the log: it holds its lease and publishes.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		m := promtest.Scrape(t, url+"/metrics")
		if n, _ := m.Value("jetstream_stream_last_seq", "stream_name", "INDEXER"); n >= 10 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the scan ended before it published: %v\n%s", err, &scanErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the scan published nothing")
		}
	}
	if err := scan.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The signal is delivered asynchronously: wait for the stopped state.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", scan.Process.Pid))
		if err == nil && strings.Contains(string(st), ") T ") {
			break
		}
		if err != nil || strings.Contains(string(st), ") Z ") || time.Now().After(deadline) {
			t.Fatalf("the scan is not stopped (did it end first? make the tree larger): %v %s", err, st)
		}
	}
	frozen := time.Now()
	v := waitHealth("unhealthy with the frozen scan", func(code int, v map[string]any) bool {
		return code == 503 && strings.Contains(fmt.Sprint(v["reasons"]), "a scan holds its lease, but the log's last sequence has stayed at")
	})
	t.Logf("unhealthy %s after SIGSTOP: %v", time.Since(frozen).Round(time.Millisecond), v["reasons"])
	if since := time.Since(frozen); since >= store.DefaultLeaseTTL*2/3 {
		t.Fatalf("unhealthy only after %s: the lease may have lapsed", since)
	}

	frozenFor := time.Since(frozen)
	if err := scan.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred clean-up
		ackTimeout := frozenFor >= 14*time.Second && strings.Contains(scanErr.String(), "no acknowledgement for")
		if err != nil && !ackTimeout {
			t.Fatalf("the scan after SIGCONT (frozen %s): %v\n%s", frozenFor, err, &scanErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the scan did not end after SIGCONT\n%s", &scanErr)
	}
	waitHealth("healthy after the scan", func(code int, v map[string]any) bool { return code == 200 && v["status"] == "healthy" })

}

// TestMetricsAfterRealScan scrapes a running indexer-project after a real
// indexer-scan process scanned a known tree into it: the events applied
// by type, the lag, the log's and the projector consumer's figures, parsed
// with the client's own text parser.
func TestMetricsAfterRealScan(t *testing.T) {
	t.Parallel()
	bin, err := scanBinary()
	if err != nil {
		t.Fatal(err)
	}
	tree := t.TempDir()
	const files = 3 * 10
	for d := 0; d < 3; d++ {
		for f := 0; f < 10; f++ {
			p := filepath.Join(tree, fmt.Sprintf("d%d", d), fmt.Sprintf("f%d", f))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d", f)), 0o644); err != nil { // each content three times
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	url := startInProcess(t, dir)
	if out, err := exec.Command(bin, "--data", dir, "--quiet", "--priority", "normal", tree).CombinedOutput(); err != nil {
		t.Fatalf("scan: %v\n%s", err, out)
	}
	// A scrape is not one snapshot: the collectors run side by side, and
	// the state's may have asked the projector a moment before the
	// checkpoint's. So the scrape is repeated until every value is the
	// one the scan leaves, for up to 30 s.
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"indexer_index_checkpoint", nil, files + 2},
		{"indexer_healthy", nil, 1},
		{"indexer_projection_events_applied_total", []string{"type", "FileScanned"}, files},
		{"indexer_projection_events_applied_total", []string{"type", "ScanStarted"}, 1},
		{"indexer_projection_events_applied_total", []string{"type", "ScanCompleted"}, 1},
		{"indexer_projection_events_applied_total", []string{"type", "FileDeleted"}, 0},
		{"indexer_projection_lag", nil, 0},
		{"indexer_log_last_seq", nil, files + 2},
		{"jetstream_stream_last_seq", []string{"stream_name", "INDEXER"}, files + 2},
		{"jetstream_stream_total_messages", []string{"stream_name", "INDEXER"}, files + 2},
		{"jetstream_consumer_num_pending", []string{"stream_name", "INDEXER"}, 0},
		{"indexer_projection_state", []string{"state", "running"}, 1},
		{"indexer_projection_dead_letters", nil, 0},
	}
	var m promtest.Families
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m = promtest.Scrape(t, url+"/metrics")
		var wrong []string
		for _, c := range checks {
			if got, found := m.Value(c.name, c.labels...); !found || got != c.want {
				wrong = append(wrong, fmt.Sprintf("%s%v = %v (found %v), want %v", c.name, c.labels, got, found, c.want))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the scan:\n%s", strings.Join(wrong, "\n"))
		}
	}
	if got, _ := m.Value("indexer_index_size_bytes"); got <= 0 {
		t.Errorf("indexer_index_size_bytes = %v", got)
	}
	// The duplicates the scan made are answered: ten contents, three copies each.
	var stats map[string]any
	getJSON(t, url+"/api/stats", 200, &stats)
	if stats["duplicate_groups"] != float64(10) {
		t.Errorf("/api/stats: %v", stats)
	}
}
