package projections

import (
	"context"
	"sync"
	"time"

	"github.com/indexer/indexer/store"
)

// feed reads the log from a sequence and decodes the records on worker
// goroutines, delivering them in log order, in chunks. Decoding JSON is the
// costliest step per event, so it runs beside the transaction that applies
// the previous batch.
type feed struct {
	out    chan *chunk
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // why the feed ended; read after out is closed
	// left is what a batch did not take of the last chunk; tail whether
	// the last chunk taken ended at the log's tail.
	left *chunk
	tail bool
	// broken is set once a chunk was taken from out and dropped because
	// the context ended: no later chunk may be delivered, or a batch would
	// skip the dropped records and its checkpoint pass them.
	broken bool
	// gap is the least time between two batches that end at the tail;
	// returned is when the last batch was returned.
	gap      time.Duration
	returned time.Time
}

// chunk is a run of consecutive records, decoded once done is closed.
type chunk struct {
	items []item
	done  chan struct{}
	// tail: the last record was the last in the log when it was delivered.
	tail bool
}

const chunkLen = 256

// chunksAhead is how many chunks a feed for batches of batch events holds
// beyond the batch being applied: one batch's worth, so that the next one
// is read and decoded while the last commits, and no more. The feed's
// memory is what it holds: more would be taken from the log (or a Tap,
// which bounds itself) while commits wait on a slow disk, and a
// standalone scan's peak memory has a goal (see TestTapFeedHoldsABatch).
func chunksAhead(batch int) int { return max(2, (batch+chunkLen-1)/chunkLen) }

// startFeed starts a feed of the log from sequence from, for batches of
// batch events.
func startFeed(ctx context.Context, log *store.Log, from uint64, decoders, batch int) (*feed, error) {
	r, err := log.NewReader(ctx, from, "")
	if err != nil {
		return nil, err
	}
	return runFeed(ctx, decoders, chunksAhead(batch), func(ctx context.Context, send func(*chunk) error) error {
		defer r.Close()
		for {
			c := newChunk()
			var err error
			for len(c.items) < chunkLen {
				var rec store.Record
				if rec, err = r.Next(ctx); err != nil {
					break
				}
				c.items = append(c.items, item{rec: rec})
				if rec.Pending == 0 {
					c.tail = true
					break
				}
			}
			if len(c.items) > 0 {
				if serr := send(c); serr != nil {
					return serr
				}
			}
			if err != nil {
				return err
			}
		}
	}), nil
}

func newChunk() *chunk {
	return &chunk{items: make([]item, 0, chunkLen), done: make(chan struct{})}
}

// runFeed starts a feed whose chunks produce makes, in log order, handing
// each to send; the feed ends with produce's error. Records are decoded
// (those not decoded already) and prepared on decoders goroutines. It holds
// at most ahead chunks that were not taken (send blocks).
func runFeed(ctx context.Context, decoders, ahead int, produce func(ctx context.Context, send func(*chunk) error) error) *feed {
	ctx, cancel := context.WithCancel(ctx)
	f := &feed{out: make(chan *chunk, ahead), cancel: cancel}
	// A chunk is in work until a decoder takes it, and in out (from just
	// after) until a batch does: work's room adds nothing to what is held.
	work := make(chan *chunk, ahead)
	send := func(c *chunk) error {
		select {
		case work <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case f.out <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	f.wg.Add(1 + decoders)
	go func() {
		defer f.wg.Done()
		defer close(f.out)
		defer close(work)
		f.err = produce(ctx, send)
	}()
	for range decoders {
		go func() {
			defer f.wg.Done()
			for c := range work {
				for i := range c.items {
					it := &c.items[i]
					if !it.decoded {
						it.ev, it.err = decode(it.rec.Data)
					}
					prepareItem(it)
				}
				close(c.done)
			}
		}()
	}
	return f
}

// next returns the next decoded chunk, blocking until one is ready; ok is
// false when the feed ended (see f.err).
func (f *feed) next(ctx context.Context, timeout <-chan time.Time) (c *chunk, ok bool, timedOut bool) {
	if f.broken || ctx.Err() != nil {
		f.broken = true
		return nil, false, false
	}
	select {
	case c, ok = <-f.out:
		if !ok {
			return nil, false, false
		}
	case <-timeout:
		return nil, true, true
	case <-ctx.Done():
		f.broken = true
		return nil, false, false
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		f.broken = true // c is dropped
		return nil, false, false
	}
	return c, true, false
}

// stop ends the feed and waits for its goroutines.
func (f *feed) stop() {
	f.cancel()
	for range f.out { // unblock the reader
	}
	f.wg.Wait()
}

// batch gathers decoded records: at most max, returning early when the
// log's tail is reached and nothing more is ready, or when wait has passed
// since the first record. Returning at the tail makes commits group
// themselves: while one commits, the next batch accumulates. At the tail,
// a batch returns only once gap has passed since the last one (or wait
// since its first record): events that trickle in steadily are committed
// every gap, not a few at a time, while one after a quiet spell is
// committed at once.
func (f *feed) batch(ctx context.Context, max int, wait time.Duration, buf []item) ([]item, error) {
	defer func() { f.returned = time.Now() }()
	items := buf[:0]
	take := func(c *chunk) {
		room := max - len(items)
		if len(c.items) > room {
			items = append(items, c.items[:room]...)
			f.left = &chunk{items: c.items[room:], tail: c.tail}
			return
		}
		items = append(items, c.items...)
		f.tail = c.tail
	}
	if f.left != nil {
		c := f.left
		f.left = nil
		take(c)
	} else {
		c, ok, _ := f.next(ctx, nil)
		if !ok {
			return items, f.end(ctx)
		}
		take(c)
	}
	deadline := time.Now().Add(wait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(items) < max && f.left == nil {
		timeout := timer.C
		var hold *time.Timer
		if f.tail {
			// A chunk that is ready is taken (a nil timeout never fires);
			// more is waited for only until gap has passed since the last
			// batch, and within wait.
			timeout = nil
			if len(f.out) == 0 {
				d := min(f.gap-time.Since(f.returned), time.Until(deadline))
				if d <= 0 {
					return items, nil
				}
				hold = time.NewTimer(d)
				timeout = hold.C
			}
		}
		c, ok, timedOut := f.next(ctx, timeout)
		if hold != nil {
			hold.Stop()
		}
		if timedOut || !ok {
			if f.tail && !timedOut {
				return items, ctx.Err() // nil at the end: it shows up on the next call
			}
			return items, nil
		}
		take(c)
	}
	return items, nil
}

func (f *feed) end(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	return store.ErrClosed
}
