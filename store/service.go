package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// ServiceConfig describes a NATS request/reply service: a name and version
// that `nats micro ls` shows, and endpoints, each answering on its own
// subject. Endpoints share the queue group "q", so several processes serving
// the same service split the requests between them.
type ServiceConfig struct {
	Name        string // a service name: letters, digits, '-' and '_'
	Version     string // semantic version, e.g. "1.0.0"
	Description string
	// Metadata is shown by `nats micro info`.
	Metadata  map[string]string
	Endpoints []ServiceEndpoint
	// Logger receives the replies that could not be sent; nil discards
	// them (they still count in the endpoint's errors, `nats micro stats`).
	Logger *slog.Logger
}

// PartHeader marks a reply too large for one message (see StartService):
// its value is "part/total", "1/3" to "3/3". A reply that fits in one
// message has no such header.
const PartHeader = "Indexer-Part"

// partHeaderRoom is what a part leaves of the max payload for its headers:
// "NATS/1.0\r\nIndexer-Part: 123/456\r\n\r\n" is about 40 bytes.
const partHeaderRoom = 1024

// ServiceEndpoint is one request/reply subject of a service.
type ServiceEndpoint struct {
	Name    string // the endpoint's name in `nats micro info`
	Subject string // the subject it answers on
	// Handler answers one request: its body in, the reply body out. An
	// error that is a *ServiceError is sent with its code; any other error
	// is sent with code 500. Handlers of one endpoint run one at a time, in
	// order of arrival; different endpoints run concurrently.
	Handler func(ctx context.Context, body []byte) ([]byte, error)
}

// ServiceError is an error a service replies with: a code (HTTP-like: 400
// bad request, 404 not found, 429 busy, 500 internal) and a message. Request returns
// one when the service answered with an error.
type ServiceError struct {
	Code    int
	Message string
}

// Error returns the service's message.
func (e *ServiceError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) true for a 404, errors.Is(err,
// ErrBusy) for a 429 and errors.Is(err, ErrUnavailable) for a 503.
func (e *ServiceError) Is(target error) bool {
	return e.Code == 404 && target == ErrNotFound || e.Code == 429 && target == ErrBusy || e.Code == 503 && target == ErrUnavailable
}

// Service is a running request/reply service. Stop it when done.
type Service struct {
	svc    micro.Service
	cancel context.CancelFunc
}

// StartService registers cfg on the log's connection and starts answering.
// Handlers receive a context that Stop cancels.
//
// A reply body that fits in the connection's max payload (what the server
// announced, 1 MiB by default) is sent as one message, as any NATS service
// does. A larger one is sent as several messages to the request's reply
// subject, in order, each with a PartHeader; Request puts them together
// again.
func (l *Log) StartService(cfg ServiceConfig) (*Service, error) {
	if l.Conn == nil {
		return nil, fmt.Errorf("start service %s: no connection", cfg.Name)
	}
	svc, err := micro.AddService(l.Conn, micro.Config{
		Name: cfg.Name, Version: cfg.Version, Description: cfg.Description, Metadata: cfg.Metadata,
	})
	if err != nil {
		return nil, fmt.Errorf("start service %s: %w", cfg.Name, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{svc: svc, cancel: cancel}
	for _, ep := range cfg.Endpoints {
		h, name := ep.Handler, ep.Name
		handler := micro.HandlerFunc(func(req micro.Request) {
			hctx, cancel := requestContext(ctx, req.Headers())
			out, err := recovered(func() ([]byte, error) { return h(hctx, req.Data()) })
			cancel()
			if err != nil && errors.Is(err, errPanic) {
				logger.Error("panic serving request", "service", cfg.Name, "endpoint", name, "subject", req.Subject(), "err", err)
			}
			if err == nil {
				err = respond(l.Conn, req, out)
				if err != nil {
					logger.Error("reply not sent", "service", cfg.Name, "endpoint", name, "subject", req.Subject(), "bytes", len(out), "err", err)
				}
				return
			}
			code := 500
			var se *ServiceError
			switch {
			case ctx.Err() != nil:
				// Stop ended the work: the asker may ask another instance,
				// or whatever takes over (ErrUnavailable).
				code, err = 503, fmt.Errorf("the service is stopping: %w", err)
			case errors.As(err, &se):
				code = se.Code
			}
			if rerr := req.Error(strconv.Itoa(code), err.Error(), nil); rerr != nil {
				logger.Error("error reply not sent", "service", cfg.Name, "endpoint", name, "subject", req.Subject(), "reply", err, "err", rerr)
			}
		})
		if err := svc.AddEndpoint(ep.Name, handler, micro.WithEndpointSubject(ep.Subject)); err != nil {
			s.Stop()
			return nil, fmt.Errorf("start service %s: endpoint %s: %w", cfg.Name, ep.Name, err)
		}
	}
	// Once the server has the subscriptions, a request from any
	// connection finds the service.
	if err := l.Conn.Flush(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start service %s: %w", cfg.Name, translate(err))
	}
	return s, nil
}

// TimeoutHeader carries, in milliseconds, how long the asker waits for the
// reply's first message (Request sets it): the handler's context ends
// then, so work nobody waits for stops.
const TimeoutHeader = "Indexer-Timeout"

// requestContext returns the handler's context of a request: ctx (which
// Stop cancels), ended at the asker's timeout when it sent one.
func requestContext(ctx context.Context, h micro.Headers) (context.Context, context.CancelFunc) {
	ms, err := strconv.ParseInt(h.Get(TimeoutHeader), 10, 64)
	if err != nil || ms <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}

// errPanic marks the error of a handler that panicked: the request gets a
// 500 and the process, with the NATS server it may host, lives on.
var errPanic = errors.New("internal error")

// recovered runs fn, turning a panic into an error wrapping errPanic.
func recovered(fn func() ([]byte, error)) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: panic: %v", errPanic, p)
		}
	}()
	return fn()
}

// respond sends out as the reply to req: one message when it fits in the
// connection's max payload, otherwise parts marked with PartHeader. A part
// that cannot be sent ends the reply with a 500 error, if that can be sent.
func respond(nc *nats.Conn, req micro.Request, out []byte) error {
	limit := int(nc.MaxPayload())
	if limit <= 0 || len(out) <= limit {
		return req.Respond(out)
	}
	size := limit - partHeaderRoom
	if size < partHeaderRoom {
		err := fmt.Errorf("reply of %d bytes: the server's max payload (%d bytes) leaves no room for parts", len(out), limit)
		req.Error("500", err.Error(), nil)
		return err
	}
	n := (len(out) + size - 1) / size
	for i := range n {
		part := out[i*size : min((i+1)*size, len(out))]
		h := micro.Headers{PartHeader: []string{strconv.Itoa(i+1) + "/" + strconv.Itoa(n)}}
		if err := req.Respond(part, micro.WithHeaders(h)); err != nil {
			err = fmt.Errorf("reply of %d bytes: part %d of %d: %w", len(out), i+1, n, err)
			req.Error("500", err.Error(), nil)
			return err
		}
	}
	return nil
}

// Stop stops answering: requests in flight finish, new ones go to another
// instance or get no responders.
func (s *Service) Stop() error {
	if s == nil || s.svc == nil {
		return nil
	}
	s.cancel()
	err := s.svc.Stop()
	s.svc = nil
	return err
}

// Request sends body to subject on the log's connection and waits for the
// reply until ctx ends; a reply in parts (see StartService) is returned
// whole. Without a deadline in ctx it waits up to RequestTimeout (10
// seconds) for each
// message of the reply, counted from the request or the last part
// received: a large reply that keeps coming is not cut off (a find of
// 300,000 files, 126 parts, failed at 10 s in total). The service is told
// how long the asker waits for the first message (TimeoutHeader), and
// stops its work then. A service that answered with an error returns a
// *ServiceError; nobody listening on the subject, or a reply that did not
// arrive in time, returns ErrUnavailable.
func (l *Log) Request(ctx context.Context, subject string, body []byte) ([]byte, error) {
	if l.Conn == nil {
		return nil, fmt.Errorf("request %s: %w", subject, ErrClosed)
	}
	idle := l.RequestTimeout
	if idle <= 0 {
		idle = defaultRequestTimeout
	}
	wait := idle
	if d, ok := ctx.Deadline(); ok {
		idle, wait = 0, time.Until(d)
	}
	w := watchOf(l.Conn)
	gctx, cancel := w.guard(ctx)
	defer cancel()
	ctx = gctx
	ask := func() ([]byte, error) {
		lctx, lcancel := w.untilLost(ctx)
		defer lcancel()
		out, err := l.request(lctx, subject, body, idle, wait)
		if cause := context.Cause(lctx); ctx.Err() == nil && errors.Is(cause, errConnLost) {
			return nil, cause
		}
		return out, denied(ctx, err)
	}
	out, err := ask()
	giveUp := time.Now().Add(wait)
	// The connection is reconnecting and sent nothing (see Dial), or was
	// lost before the reply came: ask again once it is back, within ctx.
	for (errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, errConnLost) && !l.Conn.IsClosed()) &&
		ctx.Err() == nil && time.Now().Before(giveUp) {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		out, err = ask()
	}
	if err != nil {
		var se *ServiceError
		switch {
		case errors.Is(err, ErrPermission):
			return nil, fmt.Errorf("request %s: %w", subject, err)
		case errors.As(err, &se):
			return nil, se
		case errors.Is(err, nats.ErrNoResponders):
			return nil, fmt.Errorf("request %s: %w: no service answers on the subject", subject, ErrUnavailable)
		case errors.Is(err, ErrUnavailable):
			return nil, fmt.Errorf("request %s: %w", subject, err)
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("request %s: %w: %v", subject, ErrUnavailable, err)
		}
		return nil, fmt.Errorf("request %s: %w", subject, translate(err))
	}
	return out, nil
}

// maxReplyParts is how many parts of a reply Request buffers: 1,024 of
// the default max payload, about 1 GiB, arriving faster than it reads them.
const maxReplyParts = 1024

// request asks once. It reads the reply from an inbox of its own rather
// than through nats.go's Request, which keeps only a reply's first message.
// Each message of the reply may take up to idle (0: no bound but ctx); the
// service is told the asker waits wait for the first.
func (l *Log) request(ctx context.Context, subject string, body []byte, idle, wait time.Duration) ([]byte, error) {
	inbox := l.Conn.NewInbox()
	// A channel of its own: a sync subscription's is nats.go's default of
	// 65,536 messages, half a megabyte to allocate per request.
	ch := make(chan *nats.Msg, maxReplyParts)
	sub, err := l.Conn.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	req := &nats.Msg{Subject: subject, Reply: inbox, Data: body, Header: nats.Header{}}
	req.Header.Set(TimeoutHeader, strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
	if err := l.Conn.PublishMsg(req); err != nil {
		return nil, err
	}
	var timer *time.Timer
	var expired <-chan time.Time
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		expired = timer.C
	}
	receive := func() (*nats.Msg, error) {
		select {
		case msg := <-ch:
			if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
				return nil, nats.ErrNoResponders
			}
			if timer != nil {
				timer.Reset(idle)
			}
			return msg, nil
		case <-expired:
			return nil, fmt.Errorf("%w: nothing for %s", context.DeadlineExceeded, idle)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	msg, err := receive()
	if err != nil {
		return nil, err
	}
	if err := replyError(msg); err != nil {
		return nil, err
	}
	if msg.Header.Get(PartHeader) == "" {
		return msg.Data, nil
	}
	part, total, err := parsePart(msg)
	if err != nil {
		return nil, err
	}
	if part != 1 {
		return nil, fmt.Errorf("reply starts with part %d of %d, want part 1", part, total)
	}
	out := append([]byte(nil), msg.Data...)
	for next := 2; next <= total; next++ {
		msg, err := receive()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: reply incomplete: %d of %d parts (%d bytes) arrived before the deadline", ErrUnavailable, next-1, total, len(out))
			}
			return nil, fmt.Errorf("reply incomplete, %d of %d parts arrived: %w", next-1, total, err)
		}
		if err := replyError(msg); err != nil {
			return nil, err
		}
		part, n, err := parsePart(msg)
		if err != nil {
			return nil, err
		}
		if part != next || n != total {
			return nil, fmt.Errorf("reply part %d/%d after part %d/%d: parts out of order", part, n, next-1, total)
		}
		out = append(out, msg.Data...)
	}
	return out, nil
}

// replyError returns the *ServiceError that msg carries in micro's error
// headers, or nil.
func replyError(msg *nats.Msg) error {
	desc := msg.Header.Get(micro.ErrorHeader)
	if desc == "" {
		return nil
	}
	code, _ := strconv.Atoi(msg.Header.Get(micro.ErrorCodeHeader))
	if code == 0 {
		code = 500
	}
	return &ServiceError{Code: code, Message: desc}
}

// parsePart reads msg's PartHeader: its part number and the total.
func parsePart(msg *nats.Msg) (part, total int, err error) {
	v := msg.Header.Get(PartHeader)
	a, b, ok := strings.Cut(v, "/")
	part, err1 := strconv.Atoi(a)
	total, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || part < 1 || part > total {
		return 0, 0, fmt.Errorf("reply part header %s: %q, want part/total", PartHeader, v)
	}
	return part, total, nil
}

// defaultRequestTimeout bounds, for a Request whose context has no
// deadline, the wait for each message of the reply.
const defaultRequestTimeout = 10 * time.Second
