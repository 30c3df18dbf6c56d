package web_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/projections/web"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

var (
	wrkFiles    = flag.Int("wrk-files", 1_000_000, "files in the wrk test's index")
	wrkDuration = flag.Duration("wrk-duration", 10*time.Second, "length of each wrk run")
	wrkScan     = flag.Int("wrk-scan", 300_000, "files of the scan projected during the second wrk run")
	wrkScanRate = flag.Int("wrk-scan-rate", 0, "events/s the scan publishes (0: as fast as it can)")
	wrkScanPrio = flag.String("wrk-scan-priority", "", "--priority of the real indexer-scan (default: its own)")
)

// BenchmarkWrkLookups is the documented load run: wrk, 2 threads, 64
// connections on loopback, GET /api/lookup of random paths of a million-file
// index, once idle and once while a scan of another machine is published and
// projected. Goal: at least 5,000 lookups/s with p99 under 20 ms. It needs
// wrk (apt-get install -y wrk) and builds a 1M-file index once:
//
//	go test ./projections/web -run '^$' -bench Wrk -benchtime 1x -v
//
// The scan is synthetic (-wrk-scan files, published as fast as the log
// takes them, or at -wrk-scan-rate events/s), or with INDEXER_BENCH_TREE a
// real indexer-scan process scanning that tree into this server; with
// INDEXER_BENCH_COLD (as root) the tree is cold and the index warm, as on a
// first scan beside a running projector:
//
//	INDEXER_BENCH_COLD=1 INDEXER_BENCH_TREE=/data/trees/S go test ./projections/web -run '^$' -bench Wrk -benchtime 1x -v
//
// The scanner runs at its default priority (idle); -wrk-scan-priority
// normal compares.
//
// It prints wrk's report with the server's side of each run (runStats)
// and checks that every request succeeded.
func BenchmarkWrkLookups(b *testing.B) { wrkLookups(b) }

func wrkLookups(t testing.TB) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed: apt-get install -y wrk")
	}
	src := servicetest.Build(t, *wrkFiles)
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy the index: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(dir, "complete"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// With INDEXER_BENCH_TREE the scan is a real indexer-scan process
	// publishing to this server, as on a user's machine.
	tree := os.Getenv("INDEXER_BENCH_TREE")
	scanBin := filepath.Join(t.TempDir(), "indexer-scan")
	if tree != "" {
		if out, err := exec.Command("go", "build", "-o", scanBin, "github.com/indexer/indexer/cmd/indexer-scan").CombinedOutput(); err != nil {
			t.Fatalf("build indexer-scan: %v\n%s", err, out)
		}
	}
	srv := storetest.MustOpenServer(t, dir, tree == "")
	log := storetest.MustOpenLog(t, srv)
	// One P more than the CPUs, as indexer-project's main sets it.
	if os.Getenv("GOMAXPROCS") == "" {
		prev := runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
		defer runtime.GOMAXPROCS(prev)
	}
	p := &projections.Projector{Log: log, Path: store.Dir(dir).IndexPath()}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx) }()
	defer func() { cancel(); wg.Wait(); p.Close() }()

	local := &service.Local{Index: p.Index(), Log: log, Checkpoint: p.Checkpoint}
	var stats runStats
	hs := httptest.NewServer(stats.handler(web.New(&service.Cache{Queries: local, Checkpoint: p.Checkpoint}, nil)))
	defer hs.Close()

	// The script asks for 20,000 different paths in random order.
	var lua strings.Builder
	lua.WriteString("local paths = {\n")
	for i := 0; i < 20000; i++ {
		f := servicetest.GenFile(servicetest.Big, (i*7919)%*wrkFiles)
		fmt.Fprintf(&lua, "%q,\n", "/api/lookup?machine="+servicetest.Big+"&path="+url.QueryEscape(string(f.Path)))
	}
	lua.WriteString("}\nmath.randomseed(7)\nrequest = function()\n  return wrk.format(\"GET\", paths[math.random(#paths)])\nend\n")
	lua.WriteString(`done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`)
	// Two scripts: one sends as fast as the server answers (closed loop:
	// the latency is mostly queueing), one paces each connection: 8 ms
	// after each answer it sends the next request, at most 8,000
	// requests/s over 64 connections and about 5,800 at 3 ms a request,
	// above the 5,000/s the goal is stated at even when latency rises.
	scripts := filepath.Join(t.TempDir(), "lookup.lua")
	paced := filepath.Join(t.TempDir(), "lookup-paced.lua")
	if err := os.WriteFile(scripts, []byte(lua.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paced, []byte(lua.String()+"delay = function()\n  return 8\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(hs.URL + "/api/lookup?machine=big&path=" + url.QueryEscape(string(servicetest.GenFile(servicetest.Big, 0).Path)))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("a first lookup: %v %v", res, err)
	}
	res.Body.Close()

	run := func(name, script string) {
		t.Helper()
		stats.start()
		out, err := exec.Command(wrk, "-t2", "-c64", "-d"+wrkDuration.String(), "--latency", "-s", script, hs.URL).CombinedOutput()
		t.Logf("wrk %s:\n%s%s", name, out, stats.report())
		if err != nil {
			t.Fatalf("wrk: %v", err)
		}
		if m := regexp.MustCompile(`non-2xx or errors: (\d+)`).FindStringSubmatch(string(out)); m == nil || m[1] != "0" {
			t.Errorf("wrk %s: requests failed", name)
		}
	}
	run("idle, as fast as it answers", scripts)
	run("idle, paced", paced)

	// Again while another machine's scan is published and projected.
	start := p.Checkpoint()
	pubDone := make(chan error, 1)
	scanName := fmt.Sprintf("%d synthetic files", *wrkScan)
	if tree != "" {
		// A first scan of a real tree.
		scanName = tree
		if os.Getenv("INDEXER_BENCH_COLD") != "" {
			exec.Command("sync").Run()
			if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
				t.Fatalf("INDEXER_BENCH_COLD needs root: %v", err)
			}
			// The tree is cold, as on a first scan; a running projector's
			// index is not.
			if out, err := exec.Command("cat", store.Dir(dir).IndexPath()).Output(); err != nil {
				t.Fatalf("read the index: %v", err)
			} else {
				t.Logf("index of %d MB read back into the page cache", len(out)>>20)
			}
		}
		go func() {
			args := []string{"--server", srv.ClientURL(), "--data", t.TempDir(), "--machine", "scan2", "--quiet"}
			if *wrkScanPrio != "" {
				args = append(args, "--priority", *wrkScanPrio)
			}
			out, err := exec.Command(scanBin, append(args, tree)...).CombinedOutput()
			t.Logf("indexer-scan %s:\n%s", tree, out)
			pubDone <- err
		}()
	} else {
		go func() {
			a := log.NewAppender()
			began, i := time.Now(), 0
			err := servicetest.Generate("scan2", *wrkScan, func(e events.Event) error {
				if *wrkScanRate > 0 {
					i++
					if d := time.Until(began.Add(time.Duration(i) * time.Second / time.Duration(*wrkScanRate))); d > 0 {
						time.Sleep(d)
					}
				}
				return a.Append(ctx, e)
			})
			if err == nil {
				err = a.Flush(ctx)
			}
			pubDone <- err
		}()
	}
	run("paced, during a scan of "+scanName, paced)
	run("as fast as it answers, during the same scan", scripts)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("events projected during the runs: %d (checkpoint %d -> %d)", p.Checkpoint()-start, start, p.Checkpoint())
}
