package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
}

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
// bad request, 404 not found, 500 internal) and a message. Request returns
// one when the service answered with an error.
type ServiceError struct {
	Code    int
	Message string
}

// Error returns the service's message.
func (e *ServiceError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) true for a 404 and errors.Is(err,
// ErrUnavailable) for a 503.
func (e *ServiceError) Is(target error) bool {
	return e.Code == 404 && target == ErrNotFound || e.Code == 503 && target == ErrUnavailable
}

// Service is a running request/reply service. Stop it when done.
type Service struct {
	svc    micro.Service
	cancel context.CancelFunc
}

// StartService registers cfg on the log's connection and starts answering.
// Handlers receive a context that Stop cancels.
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
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{svc: svc, cancel: cancel}
	for _, ep := range cfg.Endpoints {
		h := ep.Handler
		handler := micro.HandlerFunc(func(req micro.Request) {
			out, err := h(ctx, req.Data())
			if err == nil {
				req.Respond(out)
				return
			}
			code := 500
			var se *ServiceError
			if errors.As(err, &se) {
				code = se.Code
			}
			req.Error(strconv.Itoa(code), err.Error(), nil)
		})
		if err := svc.AddEndpoint(ep.Name, handler, micro.WithEndpointSubject(ep.Subject)); err != nil {
			s.Stop()
			return nil, fmt.Errorf("start service %s: endpoint %s: %w", cfg.Name, ep.Name, err)
		}
	}
	return s, nil
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
// reply until ctx ends (or 10 seconds without a deadline). A service that
// answered with an error returns a *ServiceError; nobody listening on the
// subject returns ErrUnavailable.
func (l *Log) Request(ctx context.Context, subject string, body []byte) ([]byte, error) {
	if l.Conn == nil {
		return nil, fmt.Errorf("request %s: %w", subject, ErrClosed)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultRequestTimeout)
		defer cancel()
	}
	msg, err := l.Conn.RequestWithContext(ctx, subject, body)
	for errors.Is(err, nats.ErrReconnectBufExceeded) && ctx.Err() == nil {
		// The connection is reconnecting and sent nothing (see Dial): ask
		// again once it is back, within ctx.
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		msg, err = l.Conn.RequestWithContext(ctx, subject, body)
	}
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("request %s: %w: no service answers on the subject", subject, ErrUnavailable)
		}
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("request %s: %w: %v", subject, ErrUnavailable, err)
		}
		return nil, fmt.Errorf("request %s: %w", subject, translate(err))
	}
	if desc := msg.Header.Get(micro.ErrorHeader); desc != "" {
		code, _ := strconv.Atoi(msg.Header.Get(micro.ErrorCodeHeader))
		if code == 0 {
			code = 500
		}
		return nil, &ServiceError{Code: code, Message: desc}
	}
	return msg.Data, nil
}

// defaultRequestTimeout bounds a Request whose context has no deadline.
const defaultRequestTimeout = 10 * time.Second
