package inproc

import (
	"context"
	"log/slog"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

func init() { app.Serve = Serve }

// Server is the embedded server run here: an *embedded.Server whose Close
// first waits for the hub (app.Embedded).
type Server struct {
	*embedded.Server
	logger *slog.Logger
}

// Serve starts the embedded server on cfg.DataDir, which lock holds, as
// cfg.ServerOptions(opts) says, with the data directory's keyring (made on
// first use). It is an app.ServeFunc.
func Serve(ctx context.Context, cfg app.Config, opts app.OpenOptions, lock *store.DirLock, logger *slog.Logger) (app.Embedded, error) {
	so, err := cfg.ServerOptions(opts)
	if err != nil {
		return nil, err
	}
	keyring, err := store.OpenKeyring(so.DataDir)
	if err != nil {
		return nil, err
	}
	srv := &embedded.Server{DataDir: so.DataDir, SyncInterval: so.SyncInterval, Logger: logger, Keyring: keyring,
		TLSCert: so.TLSCert, TLSKey: so.TLSKey, Hub: so.Hub, LeafListen: so.LeafListen, Host: so.Host, Port: so.Port}
	if err := srv.Open(ctx); err != nil {
		return nil, err
	}
	return &Server{Server: srv, logger: logger}, nil
}

// Of returns the embedded server env runs in this process, or nil.
func Of(env *app.Env) *embedded.Server {
	if s, ok := env.Server.(*Server); ok {
		return s.Server
	}
	return nil
}

// Close waits for the hub (waitHub), then stops the server.
func (s *Server) Close() error {
	if s.Hub != nil {
		waitHub(s.Server, s.logger)
	}
	return s.Server.Close()
}

// waitHub waits, at most app.HubWait, while the hub is connected and its
// source has not taken every event of this laptop's log.
func waitHub(srv *embedded.Server, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), app.HubWait)
	defer cancel()
	said := false
	for srv.HubConnected() {
		pending, ok := srv.HubPending()
		if ok && pending == 0 {
			return
		}
		if !said && logger != nil {
			logger.Info("waiting for the hub to take this machine's events", "pending", pending, "at_most", app.HubWait)
			said = true
		}
		select {
		case <-ctx.Done():
			if logger != nil {
				logger.Warn("the hub has not taken every event yet; the rest goes the next time this data directory's server runs", "pending", pending)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
