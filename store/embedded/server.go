package embedded

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/store"
)

// DefaultSyncInterval is how often the embedded server fsyncs its store.
// nats-server's default is two minutes, which can lose acknowledged events on
// power loss; ten seconds bounds that loss while keeping appends fast. A
// projector that finds the log shorter than its checkpoint rebuilds.
const DefaultSyncInterval = 10 * time.Second

// Server is the embedded NATS server with JetStream, storing its data under a
// data directory. Set the fields, then Open; Close shuts it down.
//
// It never installs signal handlers and never calls os.Exit: a fatal server
// error is logged and returned by Open, or shows up as a closed connection.
type Server struct {
	// DataDir is the data directory; the store lives in DataDir/jetstream and
	// the client URL is written to DataDir/server.url while serving.
	DataDir string
	// Host and Port to listen on. Port 0 picks a free port. Host defaults to
	// 127.0.0.1: the server is reachable only from this machine unless asked.
	Host string
	Port int
	// InProcess serves only in-process connections: nothing listens and no
	// URL is written. For tests and one-shot commands.
	InProcess bool
	// SyncInterval is the fsync interval; 0 means DefaultSyncInterval and a
	// negative value means fsync after every write (slow, safest).
	SyncInterval time.Duration
	// Keyring, when set, makes the server accept only its credentials
	// (nkeys: the server holds public keys only; see Role for what each
	// may do) and Connect use its admin credential. A change to its users
	// file (Keyring.Add, Revoke) takes effect within a second, without a
	// restart: the connections of a revoked credential are closed. Without
	// a Keyring the server accepts anyone (tests).
	Keyring *store.Keyring
	// TLSCert and TLSKey, PEM files, make the listener require TLS. In
	// this process, Connect trusts exactly that certificate.
	TLSCert, TLSKey string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Domain is the server's JetStream domain; Hub sets it to the
	// credential's machine. LeafListen (host:port, port 0 for a free one)
	// accepts laptops' servers as leaf nodes, with TLS when TLSCert is
	// set. Hub connects this server to a hub as a leaf node. See leaf.go.
	Domain     string
	LeafListen string
	Hub        *store.Hub

	ns       *server.Server
	admin    *store.Credential
	tlsLeaf  []byte // the DER of the served certificate, pinned by Connect
	stopAuth chan struct{}
	authDone chan struct{}
}

// Open starts the server and waits until it accepts connections.
func (s *Server) Open(ctx context.Context) error {
	host := s.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := s.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	sync, always := s.SyncInterval, false
	switch {
	case sync == 0:
		sync = DefaultSyncInterval
	case sync < 0:
		sync, always = DefaultSyncInterval, true
	}
	opts, err := s.options(host, port, sync, always)
	if err != nil {
		return err
	}
	if !s.InProcess && port != server.RANDOM_PORT {
		if err := probeListen(host, port); err != nil {
			return err
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}
	if s.Logger != nil {
		ns.SetLoggerV2(&slogAdapter{s.Logger.With("component", "nats-server")}, false, false, false)
	}
	go ns.Start()
	deadline := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if err := waitReady(ctx, ns, deadline); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return fmt.Errorf("embedded server on %s: %w", store.Dir(s.DataDir).JetStreamPath(), err)
	}
	s.ns = ns
	if s.Keyring != nil {
		s.stopAuth, s.authDone = make(chan struct{}), make(chan struct{})
		go s.watchUsers(func() (*server.Options, error) { return s.options(host, port, sync, always) })
	}
	if !s.InProcess && s.tlsLeaf != nil {
		cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.tlsLeaf})
		if err := store.WriteFileAtomic(store.Dir(s.DataDir).ServerCertPath(), cert); err != nil {
			s.Close()
			return fmt.Errorf("write server certificate: %w", err)
		}
	}
	if !s.InProcess {
		if err := store.WriteFileAtomic(store.Dir(s.DataDir).ServerURLPath(), []byte(ns.ClientURL()+"\n")); err != nil {
			s.Close()
			return fmt.Errorf("write server url: %w", err)
		}
	}
	return nil
}

// options returns the embedded server's options, with the keyring's users
// as they are now.
func (s *Server) options(host string, port int, sync time.Duration, always bool) (*server.Options, error) {
	opts := &server.Options{
		ServerName:   "indexer",
		Host:         host,
		Port:         port,
		DontListen:   s.InProcess,
		NoSigs:       true,
		NoLog:        s.Logger == nil,
		JetStream:    true,
		StoreDir:     store.Dir(s.DataDir).JetStreamPath(),
		SyncInterval: sync,
		SyncAlways:   always,
		// One event is a few hundred bytes; a large max payload only
		// invites mistakes.
		MaxPayload: 1 << 20,
	}
	if err := s.authOptions(opts); err != nil {
		return nil, err
	}
	if err := s.tlsOptions(opts); err != nil {
		return nil, err
	}
	if err := s.leafOptions(opts); err != nil {
		return nil, err
	}
	return opts, nil
}

// probeListen binds host:port and lets it go, so a taken port is an error
// at once (store.ErrAddrInUse) rather than a server that never gets ready:
// nats-server only logs its failure to listen.
func probeListen(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("embedded server: listen %s: %w (port %d)", addr, store.ErrAddrInUse, port)
	}
	if err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}
	return ln.Close()
}

// waitReady waits until ns accepts connections, for at most d or until ctx
// ends, whichever is first.
func waitReady(ctx context.Context, ns *server.Server, d time.Duration) error {
	end := time.Now().Add(d)
	for !ns.ReadyForConnections(50 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("not ready: %w", err)
		}
		if time.Now().After(end) {
			return fmt.Errorf("not ready after %s (see the log)", d)
		}
	}
	return nil
}

// ClientURL returns the URL clients connect to ("" when InProcess).
func (s *Server) ClientURL() string {
	if s.ns == nil || s.InProcess {
		return ""
	}
	return s.ns.ClientURL()
}

// Connect returns a client connection to the server: over the loopback
// socket when the server listens, in-process (without a socket) when it does
// not. The socket is the faster of the two: the in-process connection is an
// unbuffered net.Pipe, so the server waits on the client for every write
// (replaying a million events measured 290,000/s over the socket against
// 208,000/s in-process). Either way the connection dies with the server: it
// does not reconnect.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	if s.ns == nil {
		return nil, store.ErrClosed
	}
	auth := store.ClientAuth{Credential: s.admin, PinnedCert: s.tlsLeaf}
	if s.InProcess {
		return store.ConnectLocal("", name, auth, nats.InProcessServer(s.ns))
	}
	// The server lives and dies with this process: no reconnecting.
	return store.ConnectLocal(s.ns.ClientURL(), name, auth, nats.NoReconnect())
}

// Close shuts the server down and waits for it, flushing its store.
func (s *Server) Close() error {
	if s.ns == nil {
		return nil
	}
	if !s.InProcess {
		os.Remove(store.Dir(s.DataDir).ServerURLPath())
		os.Remove(store.Dir(s.DataDir).ServerCertPath())
	}
	if s.stopAuth != nil {
		close(s.stopAuth)
		<-s.authDone
		s.stopAuth = nil
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.ns = nil
	return nil
}

// slogAdapter sends nats-server's log to slog. Fatalf logs at error level
// and does not exit: the server shuts itself down, and we report that.
type slogAdapter struct{ l *slog.Logger }

func (a *slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Fatalf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...), "fatal", true) }
func (a *slogAdapter) Errorf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Debugf(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Tracef(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...)) }
