package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectLocal connects to the embedded server of this process, or of a
// process that serves this process's data directory for it, at url: a
// connection that dies with its server (no reconnecting). auth is the
// data directory's admin credential and the certificate the server serves
// (PinnedCert). extra adds options: nats.InProcessServer with url "" for a
// connection without a socket.
func ConnectLocal(url, name string, auth ClientAuth, extra ...nats.Option) (*nats.Conn, error) {
	w := newPermWatch("")
	opts := append([]nats.Option{nats.Name(name)}, w.options()...)
	authOpts, err := auth.options()
	if err != nil {
		return nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	opts = append(append(opts, authOpts...), extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	watches.Store(nc, w)
	return nc, nil
}

// Dial connects to an external NATS server or cluster. urls is a
// comma-separated list. The connection reconnects forever; appends bound
// their own waiting (Appender.RetryFor).
//
// While it reconnects, a publish fails at once instead of waiting in
// nats.go's buffer: a buffered resend would reach the server only after the
// outage, when its deduplication window may have passed (see Appender).
//
// The client pings its server every PingInterval and gives the server up
// after MaxPingsOutstanding unanswered pings: a server that froze (a
// stopped process, a machine gone without closing its sockets) is left for
// another URL within about three intervals (6 s in
// TestAppendThroughAFrozenLeader). nats.go's default, a ping every two
// minutes, kept a client on a frozen cluster node for the whole of a 200 s
// test. The server side's pings are the server's: see the README, Many
// machines.
//
// A permissions violation the server reports on the connection fails the
// append or request that caused it at once with a *PermissionError.
func Dial(ctx context.Context, urls, name string, extra ...nats.Option) (*nats.Conn, error) {
	return DialAs(ctx, urls, name, ClientAuth{}, extra...)
}

// PingInterval and MaxPingsOutstanding are how Dial's connections notice
// a frozen server (see Dial).
const (
	PingInterval        = 2 * time.Second
	MaxPingsOutstanding = 2
)

// DialAs is Dial with a credential and the certificate authorities to
// trust. A server that refuses the credential is ErrPermission.
func DialAs(ctx context.Context, urls, name string, auth ClientAuth, extra ...nats.Option) (*nats.Conn, error) {
	allowed := ""
	if auth.Credential != nil {
		allowed = auth.Credential.Allowed()
	}
	w := newPermWatch(allowed)
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(false),
		nats.Timeout(5 * time.Second),
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(MaxPingsOutstanding),
	}, w.options()...)
	authOpts, err := auth.options()
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", urls, err)
	}
	opts = append(append(opts, authOpts...), extra...)
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		if isAuthError(err) {
			return nil, fmt.Errorf("connect %s: %w: %v (%s)", urls, ErrPermission, err, auth.describe())
		}
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			return nil, fmt.Errorf("connect %s: %w: %v (the server's certificate is not trusted: give its certificate authority)", urls, ErrUnavailable, err)
		}
		return nil, fmt.Errorf("connect %s: %w: %v", urls, ErrUnavailable, err)
	}
	watches.Store(nc, w)
	return nc, nil
}
