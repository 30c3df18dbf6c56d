package app

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/store"
)

// Embedded is the embedded NATS server that Open runs when no process owns
// the data directory (Standalone), on the directory Open locked.
type Embedded interface {
	// Connect returns a connection to the server as the data directory's
	// own credential, named name. It does not reconnect: it dies with the
	// server.
	Connect(name string) (*nats.Conn, error)
	// ClientURL is the URL the server serves (written into server.url
	// while it runs), "" when it serves only this process.
	ClientURL() string
	// Close stops the server, after waiting at most HubWait for a hub
	// (Config.Hub) to take this machine's events.
	Close() error
}

// ServeFunc starts the embedded server on cfg.DataDir, which lock holds
// for this process, as cfg and opts ask (Config.ServerOptions).
type ServeFunc func(ctx context.Context, cfg Config, opts OpenOptions, lock *store.DirLock, logger *slog.Logger) (Embedded, error)

// Serve is how Open runs the embedded server. By default it asks the
// sibling program indexer-project to run it (Sibling), so that a program
// that only reads the index, the indexer command, does not link
// nats-server (see the package doc, "The embedded server"). indexer-scan
// and indexer-project link package cmd/internal/inproc, which sets Serve
// to run it in their own process.
var Serve ServeFunc = Sibling

// ServerOptions are what the embedded server is to be, worked out from a
// Config and OpenOptions: the one place that does, for the server run in
// this process or in the sibling.
type ServerOptions struct {
	DataDir      string
	SyncInterval time.Duration
	Hub          *store.Hub // nil: no hub
	// Host and Port to listen on: 127.0.0.1 and a free port unless
	// OpenOptions.Listen says.
	Host string
	Port int
	// LeafListen accepts laptops' servers (host:port), "" for none.
	LeafListen      string
	TLSCert, TLSKey string
}

// ServerOptions returns the options of the embedded server Open runs for
// opts, or a usage error.
func (c Config) ServerOptions(opts OpenOptions) (ServerOptions, error) {
	so := ServerOptions{DataDir: c.DataDir, SyncInterval: c.SyncInterval, TLSCert: opts.TLSCert, TLSKey: opts.TLSKey}
	var err error
	if so.Hub, err = c.hub(); err != nil {
		return so, err
	}
	if opts.LeafListen != "" {
		host, port, err := listenAddr("--leaf-listen", opts.LeafListen, opts.TLSCert != "")
		if err != nil {
			return so, err
		}
		so.LeafListen = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if opts.Listen != "" {
		if so.Host, so.Port, err = listenAddr("--listen", opts.Listen, opts.TLSCert != ""); err != nil {
			return so, err
		}
	}
	return so, nil
}
