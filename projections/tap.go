package projections

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// A Tap hands a Projector the events its own process appends, as the log
// acknowledges them, so that they are applied without being read back from
// the server and decoded again: a standalone scan indexes while it scans
// (FollowTap), instead of reading the whole scan back after it.
//
// The log stays the source of truth; the tap only saves reads. The feed
// takes a tapped event only when it is the next one the index lacks: the
// events before it that the tap does not have (stored by another process,
// a retried event stored out of order, events the tap let go while the
// projector fell behind) are read from the log first, and a tapped event
// the log no longer holds is not applied.
//
// A tapped event's time of storing is when its acknowledgement arrived,
// later than the server's by the round trip; it serves as the
// checkpoint's time (see TailLossWindow), where milliseconds do not count.
type Tap struct {
	mu     sync.Mutex
	items  []tapped
	closed bool
	wake   chan struct{}
	// max is the most events held; Add lets go of what comes beyond it
	// (the feed reads those from the log).
	max int
	// used counts the events fed from the tap, read those read from the
	// log to fill the gaps.
	used, read atomic.Int64
}

// tapped is an event handed over, stored at seq, acknowledged at at.
type tapped struct {
	seq uint64
	at  time.Time
	e   events.Event
}

// tapBatchWait is how long a batch fed by a Tap gathers events before it
// commits when it is not full: a scan hands over thousands a second, and
// each commit costs an fsync and rewrites the pages it touches.
const tapBatchWait = time.Second

// NewTap returns a Tap holding at most max events not yet taken (0: twice
// DefaultBatchSize).
func NewTap(max int) *Tap {
	return &Tap{max: cmp0(max, 2*DefaultBatchSize), wake: make(chan struct{}, 1)}
}

// Add hands over e, which the log stored at seq. It never blocks. It keeps
// its own copy of what the projector changes, so the caller may go on using
// e. Add after Close does nothing.
func (t *Tap) Add(seq uint64, e events.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.items) >= t.max {
		return
	}
	t.items = append(t.items, tapped{seq: seq, at: time.Now(), e: detach(e)})
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Close ends the tap: FollowTap returns once it applied what was handed
// over.
func (t *Tap) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// take waits for events and returns those handed over since the last call:
// a chunk's worth (or half what the tap holds, if less), or what came
// within takeWait of the first; closed is true once the tap is closed and
// nothing is left. The tap goes on with spare, a slice take returned
// before, as its buffer.
func (t *Tap) take(ctx context.Context, spare []tapped) (items []tapped, closed bool, err error) {
	want := max(1, min(chunkLen, t.max/2))
	var timer *time.Timer
	var waited <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	due := false
	for {
		t.mu.Lock()
		n := len(t.items)
		if t.closed || n >= want || n > 0 && due {
			items, t.items = t.items, spare[:0]
			closed = t.closed && n == 0
			t.mu.Unlock()
			return items, closed, nil
		}
		t.mu.Unlock()
		if n > 0 && timer == nil {
			timer = time.NewTimer(takeWait)
			waited = timer.C
		}
		select {
		case <-t.wake:
		case <-waited:
			due = true
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// takeWait bounds how long take gathers a chunk: the batches wait longer.
const takeWait = 10 * time.Millisecond

// detach copies the payloads prepareItem changes (it drops the digests in
// hex once the file record holds them).
func detach(e events.Event) events.Event {
	switch d := e.Data.(type) {
	case *events.FileScanned:
		c := *d
		e.Data = &c
	case *events.FileChanged:
		c := *d
		e.Data = &c
	case *events.FileMoved:
		c := *d
		e.Data = &c
	}
	return e
}

// errTapClosed ends a feed whose Tap was closed and drained.
var errTapClosed = errors.New("tap closed")

// feed delivers, from sequence from on, the tapped events and what the log
// holds between them (see Tap), until the tap is closed, for batches of
// batch events.
func (t *Tap) feed(ctx context.Context, log *store.Log, from uint64, decoders, batch int) *feed {
	return runFeed(ctx, decoders, chunksAhead(batch), func(ctx context.Context, send func(*chunk) error) error {
		next := from
		c := newChunk()
		flush := func() error {
			if len(c.items) == 0 {
				return nil
			}
			full := c
			c = newChunk()
			return send(full)
		}
		add := func(it item) error {
			if it.decoded {
				t.used.Add(1)
			} else {
				t.read.Add(1)
			}
			c.items = append(c.items, it)
			next = it.rec.Seq + 1
			if len(c.items) == chunkLen {
				return flush()
			}
			return nil
		}
		var items []tapped
		for {
			var closed bool
			var err error
			items, closed, err = t.take(ctx, items)
			if err != nil {
				return err
			}
			if closed {
				if err := flush(); err != nil {
					return err
				}
				return errTapClosed
			}
			// Acknowledgements come in the order of sending: a retried
			// event's after later ones.
			slices.SortFunc(items, func(a, b tapped) int { return cmp.Compare(a.seq, b.seq) })
			for i := range items {
				tp := &items[i]
				if tp.seq < next {
					continue // applied already, or read from the log
				}
				if tp.seq > next {
					held, err := readGap(ctx, log, next, tp.seq, add)
					if err != nil {
						return err
					}
					if !held {
						continue
					}
				}
				it := item{rec: store.Record{Seq: tp.seq, Subject: events.Subject(tp.e.Machine, tp.e.Type), Time: tp.at}, ev: tp.e, decoded: true}
				if err := add(it); err != nil {
					return err
				}
			}
			clear(items) // the buffer is reused: let go of the events
			if err := flush(); err != nil {
				return err
			}
		}
	})
}

// readGap passes add the log's events from sequence from up to, not
// including, seq, and reports whether the log holds seq itself (an
// acknowledged event may have been removed since).
func readGap(ctx context.Context, log *store.Log, from, seq uint64, add func(item) error) (held bool, err error) {
	_, err = log.Range(ctx, from, seq, func(rec store.Record) error {
		if rec.Seq == seq {
			held = true
			return nil
		}
		return add(item{rec: rec})
	})
	return held, err
}

// FollowTap applies what t hands over, reading from the log only what it
// lacks (see Tap), until t is closed and everything handed over is applied,
// or ctx ends. It checks the index against the log first, as CatchUp does;
// call CatchUp after it for what was stored besides.
func (p *Projector) FollowTap(ctx context.Context, t *Tap) error {
	err := p.run(ctx, true, t)
	if errors.Is(err, errTapClosed) {
		return nil
	}
	if errors.Is(err, ErrLogReplaced) {
		p.setFatal(err)
	}
	return err
}
