package projections

import (
	"time"

	"github.com/indexer/indexer/events"
)

// Projector states, as Status.State and the state gauge name them (the way
// KurrentDB shows a projection's state).
const (
	StateRunning    = "running"     // following the log, caught up
	StateCatchingUp = "catching_up" // following the log, behind it
	StateRebuilding = "rebuilding"  // building a new index beside the live one
	StateStopped    = "stopped"     // not following the log: Run not started, returned, or failed
)

// States lists the states in the order the metrics give them.
var States = []string{StateRunning, StateCatchingUp, StateRebuilding, StateStopped}

// BatchObserver is told of each batch Run commits, after its transaction
// committed: package projections/metrics turns them into Prometheus
// metrics. ObserveBatch is called from Run's goroutine, one batch at a time;
// it must not block.
type BatchObserver interface {
	ObserveBatch(Batch)
}

// Batch is one committed batch, for a BatchObserver.
type Batch struct {
	// Applied counts the events applied, by type (events.Types); those
	// that could not be decoded (dead letters) are counted in Undecodable.
	Applied     map[events.Type]int
	Undecodable int
	// Events is how many events the batch consumed; Apply the time spent
	// applying them, Total with the commit (write and fsync) as well.
	Events       int
	Apply, Total time.Duration
}

// countApplied counts the events of one batch above the checkpoint cp,
// by type, into b.
func countApplied(b *Batch, items []item, cp uint64) {
	b.Applied = map[events.Type]int{}
	for i := range items {
		if items[i].rec.Seq <= cp {
			continue
		}
		if _, ok := typeIndex[items[i].ev.Type]; ok {
			b.Applied[items[i].ev.Type]++
		} else {
			b.Undecodable++ // a dead letter: no type
		}
	}
}

// typeIndex maps an event type to its place in events.Types: the types
// countApplied knows.
var typeIndex = func() map[events.Type]int {
	m := make(map[events.Type]int, len(events.Types))
	for i, t := range events.Types {
		m[t] = i
	}
	return m
}()
