package embedded

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// The laptop's and the hub's side of offline machines (see store's
// leaf.go for the design): the leaf listener, the remote to the hub, the
// leaf connection's permissions, and LeafHub, which keeps the hub's
// sources.

// leafPermissions are the permissions of a laptop's leaf connection for
// machine m, as nats-server reads them for a leaf: Publish is what the
// laptop may send to the hub, Subscribe what the hub may send to it.
func leafPermissions(m string) *server.Permissions {
	api := "$JS." + m + ".API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			store.LeafDeliverPrefix + "." + m + ".>", // events, heartbeats, flow control requests
			// Replies to the hub's requests of its source consumer on m's
			// domain (the hub's server uses nats-server's scoped reply
			// subjects, js_api_reply_v2: $JSC.R.<domain>.<account>...).
			"$JSC.R." + m + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			api + "INFO",
			api + "STREAM.INFO." + store.DefaultStream,
			api + "CONSUMER.CREATE." + store.DefaultStream, // several filters: none in the subject
			api + "CONSUMER.CREATE." + store.DefaultStream + ".>",
			api + "CONSUMER.DELETE." + store.DefaultStream + ".>",
			api + "CONSUMER.INFO." + store.DefaultStream + ".>",
			"$JS.FC." + m + ".>", // the hub's answers to flow control
		}},
	}
}

// leafOptions sets the JetStream domain, the leaf listener and the remote
// to the hub into opts.
func (s *Server) leafOptions(opts *server.Options) error {
	if s.Hub != nil {
		c := s.Hub.Credential
		if c == nil || c.Role != store.RoleLeaf {
			return fmt.Errorf("embedded server: hub %s: %w (issue one on the hub: indexer-project credentials add MACHINE --leaf)", s.Hub.URL, store.ErrNotLeaf)
		}
		if s.Domain == "" {
			s.Domain = c.Name
		}
		remote, err := remote(s.Hub)
		if err != nil {
			return fmt.Errorf("embedded server: hub: %w", err)
		}
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{remote}
		opts.LeafNode.ReconnectInterval = time.Second
		// The hub answers the flow control of its source consumer here on
		// the subject the consumer names: with js_ack_fc_v2 that subject
		// holds this server's domain ($JS.FC.<domain>.<account>...), so
		// the hub may allow each laptop only its own (leafPermissions).
		// Without it, it names only the stream and the consumer, and the
		// replies were denied: the source stalled after 3,529 events.
		setFeature(opts, "js_ack_fc_v2")
	}
	if s.Domain != "" {
		if err := events.ValidateMachine(s.Domain); err != nil {
			return fmt.Errorf("embedded server: JetStream domain: %w", err)
		}
		opts.JetStreamDomain = s.Domain
		opts.ServerName = "indexer-" + s.Domain
	}
	if s.LeafListen != "" {
		host, p, err := net.SplitHostPort(s.LeafListen)
		if err != nil {
			return fmt.Errorf("embedded server: leaf listener %q: %w", s.LeafListen, err)
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("embedded server: leaf listener %q: bad port", s.LeafListen)
		}
		switch {
		case s.ns != nil:
			// A reload of the running server (its users changed): the
			// listener stays where it is.
			if v, err := s.ns.Varz(nil); err == nil {
				port = v.LeafNode.Port
			}
		case port == 0:
			port = server.RANDOM_PORT
		default:
			if err := probeListen(host, port); err != nil {
				return err
			}
		}
		opts.LeafNode.Host, opts.LeafNode.Port = host, port
		// Replies to the JetStream requests this server makes of a
		// laptop name the laptop's domain, so each laptop may be allowed
		// only its own (leafPermissions).
		setFeature(opts, "js_api_reply_v2")
		opts.LeafNode.TLSConfig = opts.TLSConfig
		opts.LeafNode.TLSTimeout = opts.TLSTimeout
	}
	return nil
}

// setFeature turns nats-server's feature flag name on in opts.
func setFeature(opts *server.Options, name string) {
	if opts.FeatureFlags == nil {
		opts.FeatureFlags = map[string]bool{}
	}
	opts.FeatureFlags[name] = true
}

// remote returns the leaf remote options for h: its credential signs the
// hub's challenge, and idx.> is denied both ways (see store.RoleLeaf).
func remote(h *store.Hub) (*server.RemoteLeafOpts, error) {
	u, err := url.Parse(h.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("hub url %q: want nats-leaf://HOST:PORT or tls://HOST:PORT", h.URL)
	}
	r := &server.RemoteLeafOpts{
		URLs: []*url.URL{u},
		// The seed, which signs the hub's challenge; the hub holds the
		// public key only.
		Nkey:        string(h.Credential.Seed()),
		DenyExports: []string{events.SubjectPrefix + ".>"},
		DenyImports: []string{events.SubjectPrefix + ".>"},
	}
	if u.Scheme == "tls" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		if h.CAFile != "" {
			pem, err := os.ReadFile(h.CAFile)
			if err != nil {
				return nil, fmt.Errorf("tls ca: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls ca %s: no certificate in it", h.CAFile)
			}
			cfg.RootCAs = pool
		}
		r.TLS, r.TLSConfig, r.TLSTimeout = true, cfg, 5
	}
	return r, nil
}

// LeafURL returns the URL laptops connect to as leaf nodes ("" when the
// server accepts none).
func (s *Server) LeafURL() string {
	if s.ns == nil || s.LeafListen == "" {
		return ""
	}
	v, err := s.ns.Varz(nil)
	if err != nil {
		return ""
	}
	scheme := "nats-leaf"
	if s.tlsLeaf != nil {
		scheme = "tls"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(v.LeafNode.Host, strconv.Itoa(v.LeafNode.Port)))
}

// Leaves returns the machines whose leaf nodes are connected to this
// server now (from their server names; see Server.Domain).
func (s *Server) Leaves() []string {
	var ms []string
	for m := range s.leafConns() {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return ms
}

// leafConns returns the connection id of each machine whose leaf node is
// connected now: a new id is a new connection, however quickly it came.
func (s *Server) leafConns() map[string]uint64 {
	if s.ns == nil {
		return nil
	}
	lz, err := s.ns.Leafz(nil)
	if err != nil {
		return nil
	}
	conns := map[string]uint64{}
	for _, l := range lz.Leafs {
		if m, ok := strings.CutPrefix(l.Name, "indexer-"); ok {
			conns[m] = l.ID
		}
	}
	return conns
}

// HubConnected reports whether this server's leaf connection to its Hub
// is up.
func (s *Server) HubConnected() bool {
	if s.ns == nil || s.Hub == nil {
		return false
	}
	lz, err := s.ns.Leafz(nil)
	return err == nil && len(lz.Leafs) > 0
}

// LeafHub keeps the hub's stream sourcing its laptops. Set the fields and
// Run it beside the projector on the process that owns the hub's log.
//
// JetStream retries a source that failed (the laptop was away) with a
// back-off of 10, 20, 40 seconds and up to two minutes, and the retry it
// makes itself when a leaf node connects often comes before the laptop's
// interest has crossed the link, so it fails too: left alone, a laptop
// that comes back is caught up 40 s to 2 min later. LeafHub looks every
// second at which laptops are connected and how their sources fare, and
// restarts the source of a laptop that has been connected for Settle but
// has not been heard from on this connection (once per connection, told
// apart by the leaf connection's id, so a laptop back within seconds
// counts), or whose source never came up since the hub started or has
// been silent for StaleAfter (at most once per StaleAfter each).
//
// Restarts are kept rare: a test on a machine at a load of 25 stalled at
// 139 of 6,000 events when restarts came every 3 s. The cause is not
// settled (nats-server 2.15.2 names a recreated source consumer afresh, so
// it should not resume after deliveries lost in flight). Hence the wide
// margins: JetStream itself gives a silent source up after 10 s.
type LeafHub struct {
	Server *Server    // the embedded server with the leaf listener
	Log    *store.Log // the hub's log, with a credential that may update the stream
	// Machines returns the laptops to source (the keyring's leaf
	// credentials); it is read every round, so a credential added or
	// revoked takes effect within a second.
	Machines func() ([]string, error)
	// Every is how often it looks (default one second). Settle is how
	// long a laptop is connected before its source, never up, is
	// restarted (default 3 s); StaleAfter how long an established source
	// may be silent before a restart, and the least time between two
	// restarts of one laptop (default 30 s).
	Every, Settle, StaleAfter time.Duration
	Logger                    *slog.Logger

	restarted map[string]time.Time
	since     map[string]time.Time // when each laptop connected
	conn      map[string]uint64    // and on which connection
}

// Run keeps the sources until ctx ends. An error of one round is logged
// and the next round tries again.
func (h *LeafHub) Run(ctx context.Context) {
	every := h.Every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := h.Sync(ctx); err != nil && ctx.Err() == nil && h.Logger != nil {
			h.Logger.Warn("laptop sources", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync makes one round: the sources match Machines, and the source of a
// connected laptop that never came up or went silent is restarted.
func (h *LeafHub) Sync(ctx context.Context) error {
	stale, settle := h.StaleAfter, h.Settle
	if stale <= 0 {
		stale = 30 * time.Second
	}
	if settle <= 0 {
		settle = 3 * time.Second
	}
	if h.restarted == nil {
		h.restarted, h.since, h.conn = map[string]time.Time{}, map[string]time.Time{}, map[string]uint64{}
	}
	ms, err := h.Machines()
	if err != nil {
		return err
	}
	if err := h.Log.SetSources(ctx, ms); err != nil {
		return err
	}
	connected := h.Server.leafConns()
	for m := range h.since {
		if _, ok := connected[m]; !ok {
			delete(h.since, m)
			delete(h.conn, m)
		}
	}
	for m, id := range connected {
		if _, ok := h.since[m]; !ok || h.conn[m] != id {
			h.since[m], h.conn[m] = time.Now(), id
		}
	}
	if len(connected) == 0 {
		return nil
	}
	states, err := h.Log.Sources(ctx)
	if err != nil {
		return err
	}
	for _, st := range states {
		since, ok := h.since[st.Machine]
		if !ok {
			continue
		}
		up := time.Since(since)
		// Not heard from since the laptop connected, Settle ago: its
		// source consumer is not delivering (heartbeats come every
		// second), so a restart meets nothing in flight. Once per
		// connection, else a laptop back within StaleAfter would wait
		// out JetStream's back-off (10-20 s and more).
		unheard := up >= settle && (st.Active < 0 || st.Active > up) && h.restarted[st.Machine].Before(since)
		// Never up, or silent for StaleAfter: at most once per StaleAfter.
		stuck := ((st.Active < 0 && up >= settle) || st.Active > stale) && time.Since(h.restarted[st.Machine]) >= stale
		if !unheard && !stuck {
			continue
		}
		h.restarted[st.Machine] = time.Now()
		if h.Logger != nil {
			h.Logger.Info("laptop connected; restarting its source", "machine", st.Machine, "silent", st.Active, "err", st.Error)
		}
		if err := h.Log.RestartSource(ctx, st.Machine); err != nil {
			return err
		}
	}
	return nil
}

// HubPending returns how many of this laptop's events the hub's source
// consumer has yet to deliver; ok is false while the hub has no source
// consumer here (not connected, or not set up yet). The hub's source
// consumers are direct consumers, which the JetStream API does not list:
// it asks the server's monitoring.
func (s *Server) HubPending() (pending uint64, ok bool) {
	if s.ns == nil {
		return 0, false
	}
	jsz, err := s.ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true, DirectConsumer: true, Config: true})
	if err != nil {
		return 0, false
	}
	for _, acc := range jsz.AccountDetails {
		for _, st := range acc.Streams {
			if st.Name != store.DefaultStream {
				continue
			}
			for _, ci := range st.DirectConsumer {
				if ci.Config != nil && strings.HasPrefix(ci.Config.DeliverSubject, store.LeafDeliverPrefix+".") {
					pending, ok = max(pending, ci.NumPending), true
				}
			}
		}
	}
	return pending, ok
}
