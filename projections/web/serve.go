package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DefaultAddr is where indexer-project serves HTTP unless told otherwise:
// loopback only. Beyond loopback it needs TLS and a token (see Protect).
const DefaultAddr = "127.0.0.1:8080"

// shutdownWait is how long Serve waits for requests in flight once its
// context ended: their contexts ended too, so queries stop within
// milliseconds; a stop takes under 2 s whatever runs.
const shutdownWait = time.Second

// Server serves a Handler on a TCP address until its context ends. Set the
// fields, then Listen and Serve (or ListenAndServe).
type Server struct {
	// Addr is host:port; DefaultAddr when empty, port 0 picks a free one.
	Addr    string
	Handler http.Handler
	Logger  *slog.Logger
	// TLSCert and TLSKey, PEM files, make it serve HTTPS.
	TLSCert, TLSKey string

	ln  net.Listener
	srv *http.Server
}

// Listen binds the address, so a bad --http fails before anything runs.
func (s *Server) Listen() error {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	var cfg *tls.Config
	if s.TLSCert != "" || s.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return fmt.Errorf("listen https %s: %w", addr, err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", addr, err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s.ln = ln
	return nil
}

// URL returns the server's base URL once it listens.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	if s.TLSCert != "" {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Serve answers requests until ctx ends, then shuts down. Each request's
// context is a child of ctx, so the queries in flight stop when ctx ends;
// those still running after shutdownWait are cut off. It returns nil after
// a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.srv = &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.ln) }()
	logger.Info("serving http", "url", s.URL())
	select {
	case err := <-done:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close() // a handler that ignores its context: cut it off
	}
	if e := <-done; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	return nil
}
