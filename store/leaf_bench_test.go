package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// BenchmarkLeafCatchUp is an offline laptop's catch-up: a million events
// (INDEXER_BENCH_EVENTS) appended to a laptop's log while its hub is down,
// then the hub comes up; it reports the events/s from the hub's start
// until its log holds them all (the hub's server, the leaf connection,
// LeafHub and sourcing: everything but the hub's projector), the time to
// the first event (the hub's start, the laptop's reconnection and its
// source's start), and the events/s from that first event on: the rate
// once connected.
//
//	go test ./store -run '^$' -bench LeafCatchUp -benchtime 1x -count 3
func BenchmarkLeafCatchUp(b *testing.B) {
	n := benchEvents()
	scan, now := events.NewID(), time.Now()
	for b.Loop() {
		b.StopTimer()
		ctx := context.Background()
		h := newHub(b)
		_, cred := storetest.Issue(b, h.keyring, store.RoleLeaf, "laptop")
		_, lap := openLaptop(b, b.TempDir(), h, cred)
		a := lap.NewAppender()
		for i := range n {
			e := realisticEvent(scan, now, i)
			e.Machine = "laptop"
			if err := a.Append(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		h.up()
		var first time.Duration
		for {
			info, err := h.log.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if info.Msgs > 0 && first == 0 {
				first = time.Since(start)
			}
			if info.Msgs >= uint64(n) {
				break
			}
			if time.Since(start) > 10*time.Minute {
				srcs, _ := h.log.Sources(ctx)
				b.Fatalf("the hub holds %d of %d events after 10 minutes; sources %+v", info.Msgs, n, srcs)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took, cpu := time.Since(start), cpuTime()-cpu0
		b.StopTimer()
		b.ReportMetric(float64(n)/took.Seconds(), "events/s")
		b.ReportMetric(float64(n)/(took-first).Seconds(), "events/s-connected")
		b.ReportMetric(first.Seconds(), "s-to-first")
		b.ReportMetric(took.Seconds(), "s-total")
		// Both servers run in this process: the CPU time of the two per
		// event, which bounds the rate on a machine where they have the
		// cores to themselves (on a busy machine the wall clock says less).
		b.ReportMetric(cpu.Seconds()/float64(n)*1e6, "cpu-µs/event")
		h.down()
		b.StartTimer()
	}
}
