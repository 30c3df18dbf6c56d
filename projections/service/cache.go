package service

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/indexer/indexer/projections"
)

// Cache answers the hot queries (Stats, Dupes, Tree, Machines, Scans) from
// memory while the index's checkpoint stays the same, and passes everything
// else to Queries. Answers that found nothing (an empty page, a directory
// that is not there) are cached too.
//
// A cached answer is never older than the index: each answer is stored
// under the checkpoint read before it was computed, and served only while
// Checkpoint still returns that value. The first call after the checkpoint
// moves drops every entry.
type Cache struct {
	// Queries answers what the cache does not hold.
	Queries
	// Checkpoint returns the index's checkpoint; it must be cheap
	// (Projector.Checkpoint is). Nil: nothing is cached.
	Checkpoint func() uint64
	// MaxEntries bounds the number of answers held (default 256); when
	// full, the cache starts over.
	MaxEntries int

	mu      sync.Mutex
	seq     uint64
	entries map[string]cacheEntry
	running map[string]*flight // misses being computed, by key
	hits    atomic.Uint64
	misses  atomic.Uint64
}

type cacheEntry struct {
	val any
	err error
}

// flight is a miss being computed: callers asking the same meanwhile wait
// for it instead of computing it again. 64 browsers asking for the
// duplicates at once after the index moved computed them 64 times over,
// 14 s each.
type flight struct {
	done chan struct{}
	seq  uint64
	val  any
	err  error
}

var _ Queries = (*Cache)(nil)

// CacheStats counts the cache's answers.
type CacheStats struct {
	Hits, Misses uint64
	Entries      int
}

// CacheStats returns how often the cache answered.
func (c *Cache) CacheStats() CacheStats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n}
}

// cached returns the answer for key, computing it with fn on a miss.
func cached[T any](c *Cache, key string, fn func() (T, error)) (T, error) {
	if c.Checkpoint == nil {
		return fn()
	}
	seq := c.Checkpoint()
	c.mu.Lock()
	if c.entries == nil || c.seq != seq {
		c.entries, c.seq = map[string]cacheEntry{}, seq
	}
	e, ok := c.entries[key]
	f := c.running[key]
	if !ok && (f == nil || f.seq != seq) {
		f = &flight{done: make(chan struct{}), seq: seq}
		if c.running == nil {
			c.running = map[string]*flight{}
		}
		c.running[key] = f
		c.mu.Unlock()
		v, err := compute(c, key, seq, fn)
		f.val, f.err = v, err
		c.mu.Lock()
		if c.running[key] == f {
			delete(c.running, key)
		}
		c.mu.Unlock()
		close(f.done)
		return v, err
	}
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
		v, _ := e.val.(T)
		return v, e.err
	}
	<-f.done // the same question at the same checkpoint, being answered
	if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
		return cached(c, key, fn) // the asker went away, not this caller: ask again
	}
	c.hits.Add(1)
	v, _ := f.val.(T)
	return v, f.err
}

// compute answers a miss and stores the answer under seq.
func compute[T any](c *Cache, key string, seq uint64, fn func() (T, error)) (T, error) {
	c.misses.Add(1)
	v, err := fn()
	if err != nil && !errors.Is(err, projections.ErrNotFound) && !errors.Is(err, projections.ErrBadQuery) {
		return v, err // a failure to answer, not an answer
	}
	c.mu.Lock()
	if c.seq == seq { // else the index moved on while fn ran
		max := c.MaxEntries
		if max <= 0 {
			max = 256
		}
		if len(c.entries) >= max {
			c.entries = map[string]cacheEntry{}
		}
		c.entries[key] = cacheEntry{val: v, err: err}
	}
	c.mu.Unlock()
	return v, err
}

// key returns a cache key of a query name and its request.
func key(name string, req any) string {
	b, _ := json.Marshal(req)
	return name + " " + string(b)
}

// Stats implements Queries from the cache.
func (c *Cache) Stats(ctx context.Context) (projections.Stats, error) {
	return cached(c, "stats", func() (projections.Stats, error) { return c.Queries.Stats(ctx) })
}

// Dupes implements Queries from the cache.
func (c *Cache) Dupes(ctx context.Context, q DupesRequest) (DupesResult, error) {
	return cached(c, key("dupes", q), func() (DupesResult, error) { return c.Queries.Dupes(ctx, q) })
}

// Tree implements Queries from the cache.
func (c *Cache) Tree(ctx context.Context, q TreeRequest) (projections.Tree, error) {
	return cached(c, key("tree", q), func() (projections.Tree, error) { return c.Queries.Tree(ctx, q) })
}

// Machines implements Queries from the cache.
func (c *Cache) Machines(ctx context.Context) ([]projections.Machine, error) {
	return cached(c, "machines", func() ([]projections.Machine, error) { return c.Queries.Machines(ctx) })
}

// Scans implements Queries from the cache.
func (c *Cache) Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error) {
	return cached(c, key("scans", []any{machine, limit}), func() ([]projections.Scan, error) {
		return c.Queries.Scans(ctx, machine, limit)
	})
}

// Rot implements Queries from the cache: it reads every change in the log.
func (c *Cache) Rot(ctx context.Context, machine string) ([]RotFile, error) {
	return cached(c, key("rot", machine), func() ([]RotFile, error) { return c.Queries.Rot(ctx, machine) })
}

// Group implements Queries from the cache: the duplicates browser asks for
// the same groups again and again.
func (c *Cache) Group(ctx context.Context, sha256 string, files int) (Group, error) {
	return cached(c, key("group", []any{sha256, files}), func() (Group, error) { return c.Queries.Group(ctx, sha256, files) })
}
