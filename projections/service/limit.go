package service

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/indexer/indexer/store"
)

// ErrBusy is returned by a heavy query (see Gate) that found every slot
// taken for as long as it may wait. Nothing went wrong: ask again in a
// moment. HTTP answers it 503 with Retry-After, NATS with error code 429,
// the indexer command with exit code 75. It is store.ErrBusy.
var ErrBusy = store.ErrBusy

// Gate bounds how many heavy queries run at once: those that read every
// name (a regex, a path or short pattern), every match (no limit),
// every duplicate group's files, or a directory listing of more than a
// page. Each holds its answer in memory while it is built and sent, so
// the bound is a bound on memory as well as on CPU: 8 listings of 100,000
// files at once took a projector from 659 MB to 2 GB.
//
// Light queries (a page of a name search, a lookup, stats, the first
// pages of duplicates) never wait for it.
type Gate struct {
	slots chan struct{}
	// Wait is how long a heavy query waits for a slot before ErrBusy.
	Wait time.Duration
}

// DefaultHeavy is the number of heavy queries run at once by default:
// half the CPUs, at least one, so light queries and the projection keep
// the rest.
func DefaultHeavy() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// DefaultHeavyWait is how long a heavy query waits for a slot by default.
const DefaultHeavyWait = 2 * time.Second

// NewGate returns a gate of n slots (n < 1: DefaultHeavy()).
func NewGate(n int) *Gate {
	if n < 1 {
		n = DefaultHeavy()
	}
	return &Gate{slots: make(chan struct{}, n), Wait: DefaultHeavyWait}
}

// enter takes a slot for a heavy query, waiting up to Wait or until ctx
// ends; the returned function gives it back. A nil Gate lets everything
// in.
func (g *Gate) enter(ctx context.Context, what string) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
	}
	t := time.NewTimer(g.Wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for a slot: %w", what, ctx.Err())
	case <-t.C:
		return nil, fmt.Errorf("%s: %w: %d heavy questions running", what, ErrBusy, cap(g.slots))
	}
}

// InUse returns the number of heavy queries running.
func (g *Gate) InUse() int {
	if g == nil {
		return 0
	}
	return len(g.slots)
}

// Limits of a light query: past them a query is heavy.
const (
	lightTreeFiles  = 10_000 // files of one listing
	lightDupesLimit = 1_000  // groups of one page
)

func heavyFind(q FindRequest) bool {
	short := len(q.Pattern) < 3 && q.Ext == "" && q.Hash == "" // no trigram narrows it
	return q.Limit < 0 || q.Mode == "regex" || q.Mode == "regexp" || q.Path || short && q.Pattern != "" ||
		short && (q.PathContains != "" || q.Archived || q.Under != "" || q.MinSize > 0 || q.MaxSize > 0)
}

func heavyDupes(q DupesRequest) bool {
	return q.Machine != "" || q.Limit < 0 || q.Limit > lightDupesLimit || q.Files < 0
}

func heavyTree(q TreeRequest) bool { return q.Limit < 0 || q.Limit > lightTreeFiles }

// Work is how much the queries of a Local do, for the metrics.
type Work struct {
	// Examined counts the rows the queries read (projections.Index.Examined).
	Examined uint64
	// Heavy is the number of heavy queries running (see Gate).
	Heavy int
}

// Work returns the work of l's queries so far.
func (l *Local) Work() Work { return Work{Examined: l.Index.Examined(), Heavy: l.Heavy.InUse()} }
