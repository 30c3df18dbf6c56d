package service_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/store"
)

// slowDupes holds every Dupes it receives until released, counting them.
type slowDupes struct {
	service.Queries
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (s *slowDupes) Dupes(ctx context.Context, q service.DupesRequest) (service.DupesResult, error) {
	s.calls.Add(1)
	s.entered <- struct{}{}
	<-s.release
	return s.Queries.Dupes(ctx, q)
}

// TestCacheComputesAMissOnce: 64 callers asking the same question of a
// cold cache at once share one computation (64 cold /api/dupes took 14 s
// each, each computing it).
func TestCacheComputesAMissOnce(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	inner := &slowDupes{Queries: env.Local, entered: make(chan struct{}, 64), release: make(chan struct{})}
	c := &service.Cache{Queries: inner, Checkpoint: env.Projector.Checkpoint}
	var wg sync.WaitGroup
	var asked atomic.Int64
	results := make([]int, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			asked.Add(1)
			res, err := c.Dupes(context.Background(), service.DupesRequest{})
			if err != nil {
				t.Error(err)
			}
			results[i] = res.Total
		}()
	}
	<-inner.entered // one computes; the others wait for it
	for asked.Load() < 64 {
		runtime.Gosched()
	}
	close(inner.release)
	wg.Wait()
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("64 callers at once computed the duplicates %d times, want 1", n)
	}
	for _, r := range results {
		if r != results[0] || r == 0 {
			t.Fatalf("answers differ or are empty: %v", results)
		}
	}
}

// TestBusyOverNATS: a heavy question that finds no slot is ErrBusy over
// NATS too (service error 429), which the CLI maps to its exit code.
func TestBusyOverNATS(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	gate := service.NewGate(1)
	gate.Wait = 0
	env.Local.Heavy = gate
	svc, err := service.Serve(env.Log, env.Local, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	leave := service.HoldSlot(gate) // as a heavy question running would
	defer leave()
	_, err = (&service.Client{Log: env.Log}).Find(context.Background(), service.FindRequest{Mode: "regex", Pattern: "x"})
	if !errors.Is(err, store.ErrBusy) || !errors.Is(err, service.ErrBusy) {
		t.Fatalf("a heavy find with no slot = %v, want ErrBusy", err)
	}
}
