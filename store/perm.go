package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// A denied publish gets no reply and no error from nats.go's call: the
// server reports it on the connection ("-ERR 'Permissions Violation for
// Publish to ...'"), and nats.go hands that to the connection's async
// error handler. A connection made here (Dial, Server.Connect) records
// those reports in a permWatch, so an append or an API request that was
// denied fails at once with a *PermissionError instead of waiting for an
// acknowledgement that never comes.

// permWatch holds the permission violations reported on one connection.
type permWatch struct {
	allowed string // what the credential may do, for the message

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at each violation
	n       int           // violations so far
	last    *PermissionError
	denied  map[string]*PermissionError // by subject, bounded
	// lost is canceled, and replaced, each time the connection is lost
	// (disconnected or closed); loseAll cancels it.
	lost    context.Context
	loseAll context.CancelFunc
}

// watches maps a connection made here to its permWatch.
var watches sync.Map // *nats.Conn -> *permWatch

func newPermWatch(allowed string) *permWatch {
	w := &permWatch{allowed: allowed, changed: make(chan struct{}), denied: map[string]*PermissionError{}}
	w.lost, w.loseAll = context.WithCancel(context.Background())
	return w
}

// options returns the handlers that feed w, and forget the connection when
// it closes.
func (w *permWatch) options() []nats.Option {
	return []nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { w.report(err) }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { w.disconnected() }),
		nats.ClosedHandler(func(nc *nats.Conn) { w.disconnected(); watches.Delete(nc) }),
	}
}

func (w *permWatch) disconnected() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loseAll()
	w.lost, w.loseAll = context.WithCancel(context.Background())
}

// errConnLost ends a request whose connection was lost while it waited for
// the reply: the reply cannot come (NATS keeps nothing for a subscriber
// that is away).
var errConnLost = fmt.Errorf("%w: the connection to the server was lost", ErrUnavailable)

// untilLost returns ctx, canceled with errConnLost as its cause when the
// connection is lost while the returned cancel has not been called. It
// starts no goroutine unless the connection is lost (context.AfterFunc).
func (w *permWatch) untilLost(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if w == nil {
		return ctx, func() { cancel(nil) }
	}
	w.mu.Lock()
	lost := w.lost
	w.mu.Unlock()
	stop := context.AfterFunc(lost, func() { cancel(errConnLost) })
	return ctx, func() { stop(); cancel(nil) }
}

var violationRe = regexp.MustCompile(`(?i)for (publish|subscription) to "?([^"\s]+)"?`)

// report records err when it is a permissions violation. Connection
// trouble is not reported here: it is retried and, past the bound,
// reported by the operation that needed the server.
func (w *permWatch) report(err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	pe := &PermissionError{Op: "publish to", Allowed: w.allowed}
	if m := violationRe.FindStringSubmatch(err.Error()); m != nil {
		pe.Subject = m[2]
		if strings.EqualFold(m[1], "subscription") {
			pe.Op = "subscribe to"
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.denied) > 1024 {
		clear(w.denied)
	}
	w.denied[pe.Subject] = pe
	w.last = pe
	w.n++
	close(w.changed)
	w.changed = make(chan struct{})
}

// state returns the channel closed at the next violation and the count so
// far.
func (w *permWatch) state() (<-chan struct{}, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed, w.n
}

// deniedSubject returns the violation reported for subject, or nil.
func (w *permWatch) deniedSubject(subject string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pe := w.denied[subject]; pe != nil {
		return pe
	}
	return nil
}

// since returns the last violation if there were more than n, or nil.
func (w *permWatch) since(n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n > n {
		return w.last
	}
	return nil
}

// watchOf returns the permWatch of nc, or nil for a connection made
// elsewhere.
func watchOf(nc *nats.Conn) *permWatch {
	if v, ok := watches.Load(nc); ok {
		return v.(*permWatch)
	}
	return nil
}

// guard returns ctx, canceled with the *PermissionError as its cause when
// the connection reports a violation while the returned cancel has not
// been called: an API request (the JetStream API, a key-value write, a
// service request) that was denied ends at once. Any violation ends it:
// on one connection they are rare and always a wrong credential.
func (w *permWatch) guard(ctx context.Context) (context.Context, context.CancelFunc) {
	if w == nil {
		return context.WithCancel(ctx)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	ch, n := w.state()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-ch:
				if err := w.since(n); err != nil {
					cancel(err)
					return
				}
				ch, _ = w.state()
			}
		}
	}()
	var once sync.Once
	return ctx, func() { once.Do(func() { close(stop); cancel(nil) }) }
}

// denied returns the *PermissionError that ended ctx (made by guard), or
// err unchanged.
func denied(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrPermission) {
		return cause
	}
	return err
}
