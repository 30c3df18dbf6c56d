package store

import (
	"context"
	"errors"
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
// while the log makes progress: Append or Flush return ErrUnavailable once
// RetryFor passed without an acknowledgement (counted from the last one
// this Appender received, or from the event's first send when that came
// later). A server that restarts or a cluster that elects a new leader
// leaves thousands of events unacknowledged at once; they are sent again
// one after the other without a pause each (the pause belongs to the
// outage, and was taken once), and none loses its chance while the ones
// before it are sent.
//
// The server remembers ids only for the stream's Duplicates window, which
// can be shorter than RetryFor. So an event is resent blindly only within
// half the window of the last moment it was known not to be stored (its
// first send, or a search). Past that, the log is first searched for it,
// headers only, from the first sequence it can have: found, it counts as a
// duplicate; not found, it is sent again. One search covers every pending
// event due for one. This holds while a publish reaches the server when it
// is sent: the connection must not buffer publishes while it reconnects
// (see Log.Conn), and a server that stores a publish more than a window
// after it arrived could still store two copies.
//
// Order: events appended before a Flush are stored before events appended
// after it. Between two Flushes a retried event may be stored after a later
// one.
type Appender struct {
	// MaxInFlight bounds unacknowledged publishes; Append blocks (back
	// pressure) while that many are pending. Default 1024: each holds its
	// event, its JSON and its message until acknowledged, and at 4,096 a
	// standalone scan (server, scanner and projector in one process) held
	// 15 MB in them and spent its memory budget collecting; 1,024 covers 50 ms
	// of a scan's pace at 20,000 events/s, and a 20 ms round trip at
	// 50,000 events/s.
	MaxInFlight int
	// RetryFor bounds how long events are retried without any
	// acknowledgement from the log. Default 15 seconds.
	RetryFor time.Duration

	// OnStored, when set, is called with each appended event and its
	// sequence once the log acknowledged it (a duplicate gets the
	// sequence of the copy stored first). It runs in the goroutine calling
	// Append or Flush.
	OnStored func(seq uint64, e events.Event)

	log     *Log
	pending []*inflight // FIFO
	head    int
	// progress is when the log last acknowledged one of the events (or
	// a search found one): the retry budget counts from it.
	progress time.Time
	// waited is when the last pause before a retry ended. A try made
	// before it failed in an outage that pause already waited for.
	waited time.Time
	// Stored counts acknowledged events, Duplicates those the log already
	// had (a retry of an event it did store).
	Stored, Duplicates int64
}

type inflight struct {
	ev    events.Event
	msg   *nats.Msg
	ack   jetstream.PubAckFuture // nil until a send went out
	first time.Time              // first try
	sent  time.Time              // last send
	tried time.Time              // last try: a send or a search
	tries int
	// floor is the lowest sequence a copy of it can have: one more than
	// the highest the log had seen stored when it was first sent (0 when
	// none).
	floor uint64
	// absent is when it was last known not to be in the log: a copy
	// stored since is in the server's deduplication window for a resend
	// within half the window of it.
	absent time.Time
	found  uint64 // the sequence a search found it at
}

// ackTimeout is how long a publish waits for its acknowledgement before it
// is sent again (with the same id, so it is stored once).
const ackTimeout = 5 * time.Second

// ackWait is how long f's last send waits for its acknowledgement: the
// first, ackTimeout; a resend, a second more for each earlier resend, up
// to ackTimeout. A resend to a cluster that is electing a stream leader
// gets no answer until it has one (4-9 s after the old one froze): with
// 5 s for every resend, one that just missed the election waited 5 s
// more, and a frozen leader cost 11 s of the 15 s RetryFor.
func (f *inflight) ackWait() time.Duration {
	if f.tries <= 1 {
		return ackTimeout
	}
	return min(ackTimeout, time.Duration(f.tries-1)*time.Second)
}

// NewAppender returns an Appender on l with default settings.
func (l *Log) NewAppender() *Appender {
	return &Appender{MaxInFlight: 1024, RetryFor: 15 * time.Second, log: l}
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
	now := time.Now()
	return a.send(ctx, &inflight{ev: e, msg: msg, first: now, absent: now, floor: a.next()}, nil)
}

// next is the lowest sequence an event sent now can be stored at: one
// above the highest the log has seen stored (0, the whole log, when none).
func (a *Appender) next() uint64 {
	if seen := a.log.seen.Load(); seen > 0 {
		return seen + 1
	}
	return 0
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

// send publishes f and queues it. A cause is the failure of its last try:
// send then waits before another, and searches the log first when a copy
// may have been stored but forgotten by the server (see Appender).
func (a *Appender) send(ctx context.Context, f *inflight, cause error) error {
	for {
		if cause != nil {
			if err := a.backoff(ctx, f, cause); err != nil {
				return err
			}
			if f.ack == nil {
				f.absent = time.Now() // never sent: no copy anywhere
			}
			if cause = a.checkAbsent(ctx, f); cause != nil {
				continue
			}
			if f.found != 0 {
				return a.retire(f, f.found, true)
			}
		}
		f.tries++
		f.tried = time.Now()
		ack, err := a.log.js.PublishMsgAsync(f.msg)
		if err == nil {
			f.ack, f.sent = ack, time.Now()
			a.pending = append(a.pending, f)
			return nil
		}
		cause = err
	}
}

// checkAbsent searches the log for f until a resend now is covered by the
// server's deduplication (see Appender) or f is found. A copy stored after
// a search began is caught only if the resend follows within the window, so
// a search that took too long is followed by another, from where it ended.
func (a *Appender) checkAbsent(ctx context.Context, f *inflight) error {
	for f.ack != nil && f.found == 0 && time.Since(f.absent) >= a.log.Duplicates/2 {
		if time.Now().After(a.deadline(f)) {
			return fmt.Errorf("append %s: no acknowledgement for %s while searching the log before a resend: %w", f.msg.Subject, a.RetryFor, ErrUnavailable)
		}
		if err := a.search(ctx, f); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %v", ErrUnavailable, err) // tried again after a backoff
		}
	}
	return nil
}

// search looks in the log for f and for every other pending event a
// resend of which would need a search too, from the lowest sequence they
// can have to the tail, and sets their found, or their absent and floor.
func (a *Appender) search(ctx context.Context, f *inflight) error {
	due := map[string]*inflight{f.ev.ID.String(): f}
	from := f.floor
	// Only the machine's own subjects when all are of one machine: a
	// scanner's credential may read no others.
	filter := events.MachineSubjects(f.ev.Machine)
	for _, p := range a.pending[a.head:] {
		if p.found == 0 && p.ack != nil && time.Since(p.absent) >= a.log.Duplicates/4 {
			due[p.ev.ID.String()] = p
			from = min(from, p.floor)
			if p.ev.Machine != f.ev.Machine {
				filter = ""
			}
		}
	}
	checked := time.Now()
	f.tried = checked
	// A search runs while the server may be restarting: bound it, as the
	// append is bounded (RetryFor), so a reply lost to a restart is not
	// waited for without end.
	ctx, cancel := context.WithTimeout(ctx, max(apiTimeout, time.Until(a.deadline(f))))
	defer cancel()
	// A search sent to a server that froze is never answered: it ends
	// when the connection gives that server up (see Dial), and the next
	// goes to the server it moves to. It cost the full apiTimeout, 5 s
	// of a frozen cluster leader's 10 s.
	moving := a.log.Conn.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer a.log.Conn.RemoveStatusListener(moving)
	go func() {
		select {
		case _, ok := <-moving:
			if ok {
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	last, err := a.log.findIDs(ctx, from, filter, func(id string, seq uint64) {
		if p := due[id]; p != nil && p.found == 0 {
			p.found = seq
		}
	})
	if err != nil {
		return err
	}
	for _, p := range due {
		if p.found == 0 {
			p.absent = checked
			p.floor = max(p.floor, last+1) // not in the log up to last
		}
	}
	return nil
}

// deadline is when retrying f ends: RetryFor after the last
// acknowledgement, or after f's first send when that came later. An event
// that waited behind a backlog keeps its chance while the log answers.
func (a *Appender) deadline(f *inflight) time.Time {
	return later(f.first, a.progress).Add(a.RetryFor)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// backoff pauses before another try of f, or returns the error that ends
// trying. A try of f made before the last pause ended failed in the
// outage that pause was for: f is tried again at once. Otherwise the
// pause grows with f's tries, up to a second.
func (a *Appender) backoff(ctx context.Context, f *inflight, cause error) error {
	// While the connection is down any error is the outage's; past it, only
	// the kinds that go away by themselves are worth another try (a search
	// of a server that is still starting times out: ErrUnavailable).
	if !retryLater(cause) && !errors.Is(cause, ErrUnavailable) && a.log.Conn.IsConnected() {
		return fmt.Errorf("append %s: %w", f.msg.Subject, translate(cause))
	}
	if time.Now().After(a.deadline(f)) {
		return fmt.Errorf("append %s: no acknowledgement for %s (%d tries): %w: %v", f.msg.Subject, a.RetryFor, f.tries, ErrUnavailable, cause)
	}
	if f.tried.Before(a.waited) {
		return nil
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
		a.waited = time.Now()
		return nil
	}
}

// retryLater reports whether a failed publish is worth sending again: the
// kinds of error retryable accepts, and a clustered stream's "duplicate
// message id is in process" (409, error code 10158): a copy is being
// stored, and the resend learns whether it was.
func retryLater(err error) bool {
	var apiErr *jetstream.APIError
	return retryable(err) || errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMsgIDInProcess
}

// errCodeMsgIDInProcess is JetStream's error code for a publish whose
// message id another publish is storing (nats-server's
// JSStreamDuplicateMessageConflict); nats.go has no name for it.
const errCodeMsgIDInProcess = 10158

// settleOldest waits for the oldest pending publish; a failed one is sent
// again (same id) and requeued at the back.
func (a *Appender) settleOldest(ctx context.Context) error {
	f := a.pending[a.head]
	if f.found != 0 {
		a.pop()
		return a.retire(f, f.found, true)
	}
	var timeout <-chan time.Time
	select {
	case pa := <-f.ack.Ok():
		return a.stored(f, pa)
	case err := <-f.ack.Err():
		return a.retry(ctx, f, err)
	default:
		t := time.NewTimer(time.Until(f.sent.Add(f.ackWait())))
		defer t.Stop()
		timeout = t.C
	}
	for {
		// A publish the server denied is never acknowledged: the
		// connection's report of it ends the wait (see permWatch).
		var violation <-chan struct{}
		if w := a.log.perm; w != nil {
			violation, _ = w.state()
			if err := w.deniedSubject(f.msg.Subject); err != nil {
				return fmt.Errorf("append %s: %w", f.msg.Subject, err)
			}
		}
		select {
		case pa := <-f.ack.Ok():
			return a.stored(f, pa)
		case err := <-f.ack.Err():
			return a.retry(ctx, f, err)
		case <-timeout:
			return a.retry(ctx, f, jetstream.ErrAsyncPublishTimeout)
		case <-violation:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pop takes the oldest publish off the queue.
func (a *Appender) pop() {
	a.pending[a.head] = nil
	a.head++
	if a.head > 1024 && a.head*2 > len(a.pending) {
		a.pending = append(a.pending[:0], a.pending[a.head:]...)
		a.head = 0
	}
}

// stored retires the acknowledged oldest publish f.
func (a *Appender) stored(f *inflight, pa *jetstream.PubAck) error {
	a.pop()
	return a.retire(f, pa.Sequence, pa.Duplicate)
}

// retire counts f, stored at seq, and reports it.
func (a *Appender) retire(f *inflight, seq uint64, duplicate bool) error {
	a.progress = time.Now()
	a.log.saw(seq)
	if duplicate {
		a.Duplicates++
	} else {
		a.Stored++
	}
	if a.OnStored != nil {
		a.OnStored(seq, f.ev)
	}
	return nil
}

// retry requeues f after a failed or unanswered publish.
func (a *Appender) retry(ctx context.Context, f *inflight, cause error) error {
	a.pop()
	return a.send(ctx, f, cause)
}
