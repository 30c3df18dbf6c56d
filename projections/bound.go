package projections

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Bounded questions. A query reads rows (names, files, groups) in one read
// transaction; a regex over a million names reads a million. Each query
// of an Index made WithContext looks at its context every checkEvery rows
// and stops with the context's error, so a client that went away, a
// deadline or a stopping process ends the work within about a millisecond,
// and the read transaction with it (closing the file waits for those).

// checkEvery is how many rows a query reads between looks at its context:
// a microsecond or two of a name search, tens of milliseconds of a costly
// regex over long paths (a few ms a row). A look is a few nanoseconds.
const checkEvery = 16

// WithContext returns the same queries, stopped when ctx ends: a query
// then returns an error wrapping ctx.Err(). They share ix's count of rows
// examined.
func (ix *Index) WithContext(ctx context.Context) *Index {
	c := *ix
	c.ctx = ctx
	return &c
}

// Examined returns how many rows the queries of ix (and of the Indexes
// made from it WithContext) have read, counted every checkEvery rows: a
// measure of the work done, exported as a metric.
func (ix *Index) Examined() uint64 {
	if ix.examined == nil {
		return 0
	}
	return ix.examined.Load()
}

// budget counts one query's rows and checks its context.
type budget struct {
	ctx      context.Context
	examined *atomic.Uint64
	done     <-chan struct{}
	n        int
	err      error
	// costly rows (a regex, a match against the whole path: up to
	// milliseconds each) look at the context every row.
	costly bool
}

func (ix *Index) budget() *budget { return &budget{ctx: ix.ctx, examined: ix.examined} }

// step counts a row; it returns false once the query's context has ended
// (then err says why).
func (b *budget) step() bool {
	b.n++
	if b.n%checkEvery != 0 {
		return !b.costly || b.alive()
	}
	if b.examined != nil {
		b.examined.Add(checkEvery)
	}
	return b.alive()
}

// alive looks at the context.
func (b *budget) alive() bool {
	if b.done == nil && b.ctx != nil {
		b.done = b.ctx.Done()
	}
	select {
	case <-b.done: // a nil channel (no context) never is
		b.err = b.ctx.Err()
		return false
	default:
	}
	return true
}

// end returns why the query stopped early, wrapped with its name, or nil.
func (b *budget) end(query string) error {
	if b.examined != nil {
		b.examined.Add(uint64(b.n % checkEvery))
	}
	if b.err != nil {
		return fmt.Errorf("%s: stopped after %d rows: %w", query, b.n, b.err)
	}
	return nil
}
