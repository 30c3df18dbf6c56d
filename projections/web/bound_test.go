package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/projections/web"
)

// costlyRegex takes about 2 ms per 200-byte name on this machine (Go's
// regexp falls back to its NFA for it): over thousands of long names, a
// question of seconds that only its context can stop early.
const costlyRegex = `([a-z]|[a-e]){1,300}q`

// longNames publishes n files with names of about 200 bytes in one
// directory, /big, and returns the env.
func longNames(t *testing.T, n int) *servicetest.Env {
	t.Helper()
	env := servicetest.MustOpen(t, servicetest.Options{})
	s := servicetest.NewScan("m", "/big", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for i := range n {
		name := strings.Repeat("abcdefghij", 20) + fmt.Sprintf("-%06d.txt", i)
		s.Scanned(s.File("/big/"+name, int64(i), fmt.Sprint(i)))
	}
	env.Publish(t, s.Complete(events.ScanCounts{})...)
	return env
}

// waitUntil polls cond until it holds, failing after a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClientGoneStopsTheQuery: a regex whose client gave up stops within
// milliseconds (its rows-examined count stops short of the index, its
// heavy slot is given back) instead of running to the end: over 300,000
// files one kept a core busy for a minute after its client left.
func TestClientGoneStopsTheQuery(t *testing.T) {
	t.Parallel()
	const files = 3000
	env := longNames(t, files)
	env.Local.Heavy = service.NewGate(1)
	srv := httptest.NewServer(web.New(env.Local, nil))
	defer srv.Close()

	before := env.Local.Work().Examined
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/find?mode=regex&limit=1000&q="+url.QueryEscape(costlyRegex), nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitUntil(t, "the query to start", func() bool { return env.Local.Work().Examined > before })
	cancel()
	<-done
	waitUntil(t, "the query to stop", func() bool { return env.Local.Work().Heavy == 0 })
	if got := env.Local.Work().Examined - before; got >= files {
		t.Fatalf("the query read %d rows of %d after its client left, want it stopped early", got, files)
	}
}

// heapPeak samples the heap in use until stop is closed and returns the
// highest value seen.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return out
}

// TestHeavyQueriesUnderAMemoryBound: 64 listings of 5,000 files at once
// hold at most a few answers in memory at a time (the heavy gate); the
// others wait or are told to retry (503 with Retry-After), and the heap
// grows by a few times one listing's cost, not 64 times: 8 parallel
// listings of 100,000 rows took a projector from 659 MB to 2 GB.
func TestHeavyQueriesUnderAMemoryBound(t *testing.T) {
	t.Parallel()
	const files, clients = 5000, 64
	env := longNames(t, files)
	gate := service.NewGate(1)
	gate.Wait = 5 * time.Second
	env.Local.Heavy = gate
	srv := httptest.NewServer(web.New(env.Local, nil))
	defer srv.Close()
	ls := srv.URL + "/api/ls?machine=m&dir=/big/&limit=100000"
	get := func() (int, string) {
		resp, err := http.Get(ls)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	stop := make(chan struct{})
	peak := heapPeak(stop)
	if code, _ := get(); code != 200 {
		t.Fatalf("one listing: status %d", code)
	}
	close(stop)
	one := <-peak - base

	runtime.GC()
	runtime.ReadMemStats(&ms)
	base = ms.HeapInuse
	stop = make(chan struct{})
	peak = heapPeak(stop)
	var ok, busy atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch code, retry := get(); {
			case code == 200:
				ok.Add(1)
			case code == 503 && retry != "":
				busy.Add(1)
			default:
				t.Errorf("status %d (Retry-After %q), want 200 or 503 with Retry-After", code, retry)
			}
		}()
	}
	wg.Wait()
	close(stop)
	many := <-peak - base
	t.Logf("one listing: %d MB of heap; %d at once: %d MB (%d answered, %d told to retry)", one>>20, clients, many>>20, ok.Load(), busy.Load())
	if ok.Load() == 0 {
		t.Fatal("no listing answered")
	}
	if bound := 8*one + 32<<20; many > bound {
		t.Fatalf("%d listings at once took %d MB of heap, want at most %d MB (one took %d MB)", clients, many>>20, bound>>20, one>>20)
	}
}
