package scancmd

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A standalone scan hosts the embedded NATS server, the scanner and, at
// the end, the projector in one process. Left to GOGC alone, the Go heap
// grows to twice what they hold live, which for an archive of 100,000
// members made the process peak at 225-240 MiB resident. memoryBudget
// keeps Go's memory near scanMemoryBase instead, while what is live is
// well under it, and lets it grow with the live heap beyond, so a large
// scan is never held near its limit, where the collector would run
// without pause.
const scanMemoryBase = 128 << 20

// memoryLimit is the soft memory limit for a live heap of live bytes:
// scanMemoryBase while the live heap is under about 96 MiB, then twice the
// live heap less 64 MiB (a collector pace of GOGC=33 at the crossover,
// rising towards GOGC=100 as the heap grows: 200 MiB live, 336 MiB).
func memoryLimit(live uint64) int64 {
	return max(scanMemoryBase, 2*int64(min(live, 1<<50))-64<<20)
}

// memoryBudget sets the process's soft memory limit after every garbage
// collection from the live heap it measured (memoryLimit), from the first
// start to the last stop (tests run several scans in one process at once;
// the limit there before the first start is restored by the last stop).
// It does nothing when GOMEMLIMIT is set: the user's limit stands.
var memoryBudget struct {
	mu     sync.Mutex
	runs   int    // started and not stopped
	gen    uint64 // of the current chain of adjustments
	prev   int64
	sample []metrics.Sample
}

// budgetRun is one start of the memoryBudget; nil when GOMEMLIMIT is set.
type budgetRun struct{ stopped bool }

// startMemoryBudget starts the memoryBudget for one run; stop it with
// stop.
func startMemoryBudget() *budgetRun {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	b := &memoryBudget
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.runs++; b.runs == 1 {
		b.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		b.prev = debug.SetMemoryLimit(memoryLimit(0))
		b.gen++
		armBudget(b.gen)
	}
	return &budgetRun{}
}

// armBudget calls adjustBudget once the next collection found a fresh
// object unreachable, that is after it.
func armBudget(gen uint64) {
	runtime.AddCleanup(new(gcSentinel), adjustBudget, gen)
}

// gcSentinel is large enough not to be batched with other tiny objects,
// whose cleanups may never run.
type gcSentinel struct{ _ [32]byte }

func adjustBudget(gen uint64) {
	b := &memoryBudget
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.runs == 0 || gen != b.gen {
		return // stopped: this chain ends
	}
	metrics.Read(b.sample)
	if b.sample[0].Value.Kind() == metrics.KindUint64 {
		debug.SetMemoryLimit(memoryLimit(b.sample[0].Value.Uint64()))
	}
	armBudget(gen)
}

// stop ends this run's part; the last one restores the limit there was
// before the first start.
func (r *budgetRun) stop() {
	if r == nil || r.stopped {
		return
	}
	r.stopped = true
	b := &memoryBudget
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.runs--; b.runs == 0 {
		debug.SetMemoryLimit(b.prev)
	}
}
