package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/events"
)

// Appender publishes events asynchronously with a bounded number in flight.
// It is not safe for concurrent use: one goroutine appends, then Flushes.
//
// Every event is sent with its id as Nats-Msg-Id. A publish that is not
// acknowledged (timeout, disconnection, server restart) is sent again with
// the same id, so the stream's deduplication stores it once. Retries go on
// for up to RetryFor, then Append or Flush return ErrUnavailable.
//
// Order: events appended before a Flush are stored before events appended
// after it. Between two Flushes a retried event may be stored after a later
// one.
type Appender struct {
	// MaxInFlight bounds unacknowledged publishes; Append blocks (back
	// pressure) while that many are pending. Default 4096.
	MaxInFlight int
	// RetryFor bounds how long an unacknowledged event is retried. Default
	// 15 seconds. It must stay below the stream's Duplicates window.
	RetryFor time.Duration

	// OnStored, when set, is called with each appended event and its
	// sequence once the log acknowledged it (a duplicate gets the
	// sequence of the copy stored first). It runs in the goroutine calling
	// Append or Flush.
	OnStored func(seq uint64, e events.Event)

	log     *Log
	pending []*inflight // FIFO
	head    int
	// Stored counts acknowledged events, Duplicates those the log already
	// had (a retry of an event it did store).
	Stored, Duplicates int64
}

type inflight struct {
	ev    events.Event
	msg   *nats.Msg
	ack   jetstream.PubAckFuture
	first time.Time // first try
	sent  time.Time // last try
	tries int
}

// ackTimeout is how long a publish waits for its acknowledgement before it
// is sent again (with the same id, so it is stored once).
const ackTimeout = 5 * time.Second

// NewAppender returns an Appender on l with default settings.
func (l *Log) NewAppender() *Appender {
	return &Appender{MaxInFlight: 4096, RetryFor: 15 * time.Second, log: l}
}

// Append encodes e and publishes it on its subject. It returns once the
// event is in flight, after waiting for room if MaxInFlight are pending. An
// error from an earlier event's acknowledgement may be returned here.
func (a *Appender) Append(ctx context.Context, e events.Event) error {
	if err := events.ValidateMachine(e.Machine); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	data, err := events.Encode(e)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	msg := &nats.Msg{
		Subject: events.Subject(e.Machine, e.Type),
		Header:  nats.Header{jetstream.MsgIDHeader: []string{e.ID.String()}},
		Data:    data,
	}
	for a.inFlight() >= a.MaxInFlight {
		if err := a.settleOldest(ctx); err != nil {
			return err
		}
	}
	return a.send(ctx, &inflight{ev: e, msg: msg, first: time.Now()})
}

// Flush waits until every appended event is acknowledged.
func (a *Appender) Flush(ctx context.Context) error {
	for a.inFlight() > 0 {
		if err := a.settleOldest(ctx); err != nil {
			return err
		}
	}
	a.pending, a.head = a.pending[:0], 0
	return nil
}

func (a *Appender) inFlight() int { return len(a.pending) - a.head }

// send publishes f, retrying while the connection cannot take it, and
// queues it.
func (a *Appender) send(ctx context.Context, f *inflight) error {
	for {
		f.tries++
		ack, err := a.log.js.PublishMsgAsync(f.msg)
		if err == nil {
			f.ack, f.sent = ack, time.Now()
			a.pending = append(a.pending, f)
			return nil
		}
		if err := a.backoff(ctx, f, err); err != nil {
			return err
		}
	}
}

// backoff sleeps before another try of f, or returns the error that ends
// trying.
func (a *Appender) backoff(ctx context.Context, f *inflight, cause error) error {
	// While the connection is down any error is the outage's; past it, only
	// the kinds that go away by themselves are worth another try.
	if !retryable(cause) && a.log.Conn.IsConnected() {
		return fmt.Errorf("append %s: %w", f.msg.Subject, translate(cause))
	}
	if time.Since(f.first) > a.RetryFor {
		return fmt.Errorf("append %s: no acknowledgement for %s (%d tries): %w: %v", f.msg.Subject, a.RetryFor, f.tries, ErrUnavailable, cause)
	}
	d := time.Duration(f.tries) * 50 * time.Millisecond
	if d > time.Second {
		d = time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// settleOldest waits for the oldest pending publish; a failed one is sent
// again (same id) and requeued at the back.
func (a *Appender) settleOldest(ctx context.Context) error {
	f := a.pending[a.head]
	var timeout <-chan time.Time
	select {
	case pa := <-f.ack.Ok():
		return a.stored(f, pa)
	case err := <-f.ack.Err():
		return a.retry(ctx, f, err)
	default:
		t := time.NewTimer(time.Until(f.sent.Add(ackTimeout)))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case pa := <-f.ack.Ok():
		return a.stored(f, pa)
	case err := <-f.ack.Err():
		return a.retry(ctx, f, err)
	case <-timeout:
		return a.retry(ctx, f, jetstream.ErrAsyncPublishTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stored retires the acknowledged oldest publish f.
func (a *Appender) stored(f *inflight, pa *jetstream.PubAck) error {
	a.pending[a.head] = nil
	a.head++
	if a.head > 1024 && a.head*2 > len(a.pending) {
		a.pending = append(a.pending[:0], a.pending[a.head:]...)
		a.head = 0
	}
	if pa.Duplicate {
		a.Duplicates++
	} else {
		a.Stored++
	}
	if a.OnStored != nil {
		a.OnStored(pa.Sequence, f.ev)
	}
	return nil
}

// retry requeues f after a failed or unanswered publish.
func (a *Appender) retry(ctx context.Context, f *inflight, cause error) error {
	a.pending[a.head] = nil
	a.head++
	if err := a.backoff(ctx, f, cause); err != nil {
		return err
	}
	return a.send(ctx, f)
}
