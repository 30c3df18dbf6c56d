package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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
	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/events"
)

// Offline machines. A laptop keeps its own data directory, embedded server
// and log, as any standalone machine does, so it scans and answers queries
// with no network. Its server is also a NATS leaf node of the hub (the
// machine running indexer-project with a leaf listener), in a JetStream
// domain named after the machine. The hub's stream sources each laptop's
// stream through that domain, filtered on the laptop's own subjects.
// JetStream's sourcing remembers the last source sequence it stored, so
// every event reaches the hub once, in the laptop's order, however often
// the link comes and goes; the events' ids are kept (Nats-Msg-Id).
//
// The leaf connection carries no events directly: idx.> is denied both
// ways on the laptop's side (else an event published while connected would
// also be captured by the hub's stream on idx.>, and stored twice once
// sourcing lagged past the deduplication window), and the hub allows the
// laptop's credential only the traffic of its own source (RoleLeaf).

// RoleLeaf is the credential of a laptop's embedded server connecting to
// the hub as a leaf node. Over that connection it may only answer the hub's
// source consumer for its own machine: deliver idx.<machine>.> events of
// its own stream to the hub's stream, and the replies and flow control that
// go with it. It may not publish any subject the hub stores, call the
// hub's JetStream API (delete, purge, update a stream), read the hub's
// events, or ask the query service. It is refused as a client connection,
// and a scanner's or reader's credential is refused as a leaf.
const RoleLeaf Role = "leaf"

// LeafDeliverPrefix starts the subjects on which a laptop delivers its
// events to the hub: LeafDeliverPrefix.<machine>. One prefix per machine
// lets the hub allow each laptop to deliver only for its own source.
const LeafDeliverPrefix = "_IDX.leaf"

// leafPermissions are the permissions of a laptop's leaf connection for
// machine m, as nats-server reads them for a leaf: Publish is what the
// laptop may send to the hub, Subscribe what the hub may send to it.
func leafPermissions(m string) *server.Permissions {
	api := "$JS." + m + ".API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			LeafDeliverPrefix + "." + m + ".>", // events, heartbeats, flow control requests
			// Replies to the hub's requests of its source consumer on m's
			// domain (the hub's server uses nats-server's scoped reply
			// subjects, js_api_reply_v2: $JSC.R.<domain>.<account>...).
			"$JSC.R." + m + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			api + "INFO",
			api + "STREAM.INFO." + DefaultStream,
			api + "CONSUMER.CREATE." + DefaultStream, // several filters: none in the subject
			api + "CONSUMER.CREATE." + DefaultStream + ".>",
			api + "CONSUMER.DELETE." + DefaultStream + ".>",
			api + "CONSUMER.INFO." + DefaultStream + ".>",
			"$JS.FC." + m + ".>", // the hub's answers to flow control
		}},
	}
}

// LeafSource is how the hub's stream sources the stream of machine m:
// the stream DefaultStream in m's JetStream domain, m's subjects only,
// each kind of event but FilesForgotten. Forgetting files is the hub's
// owner's decision (indexer-project forget): a laptop that forgets its
// files in its own index does not take them out of the hub's. The kinds
// are listed one by one (a source takes no "all but" filter), in
// events.Types order, which names the source: never reorder it.
func LeafSource(m string) jetstream.StreamSource {
	var trs []jetstream.SubjectTransformConfig
	for _, t := range events.Types {
		if t == events.TypeFilesForgotten {
			continue
		}
		subj := events.Subject(m, t)
		trs = append(trs, jetstream.SubjectTransformConfig{Source: subj, Destination: subj})
	}
	return jetstream.StreamSource{
		Name:              DefaultStream,
		SubjectTransforms: trs,
		External: &jetstream.ExternalStream{
			APIPrefix:     "$JS." + m + ".API",
			DeliverPrefix: LeafDeliverPrefix + "." + m,
		},
	}
}

// SourceHeader is the header nats-server puts on every event a stream
// stores from one of its sources, naming the source (Record.Source). It is
// the server's word, not the laptop's: a direct publish carrying it is
// refused, and the hub's server replaces whatever header a source
// delivers with its own.
const SourceHeader = "Nats-Stream-Source"

// CheckSource returns why an event the hub's stream stored from a source
// must not be applied, or nil: a laptop's source may store only its own
// machine's events, of the kinds it takes. nats-server does not check a
// sourced event's subject against the source's filters (the laptop's
// server applies them, and a modified one need not), so a laptop could
// otherwise deliver another machine's events, or its own FilesForgotten,
// through its source. An event not stored from a source (r.Source "")
// passes; one from a source that is not a laptop's does not.
//
// nats-server (stream.go, genSourceHeader, 2.10 on) writes the header as
// "STREAM[:HASH] SEQ FILTERS DESTINATIONS SUBJECT [IDENT]": FILTERS and
// DESTINATIONS are the source's subject transforms, joined by form feeds,
// from the hub's own stream configuration (LeafSource: idx.M.TYPE to
// itself, for each kind but FilesForgotten). CheckSource takes the
// machine from FILTERS, so a source made before an event type was added
// still checks against what it takes.
func CheckSource(r Record) error {
	if r.Source == "" {
		return nil
	}
	m, subjects, ok := leafSourceSubjects(r.Source)
	switch {
	case !ok:
		return fmt.Errorf("%w: stored from source %q, which is not a laptop's", ErrSourceSubject, clipSource(r.Source))
	case !slices.Contains(subjects, r.Subject):
		return fmt.Errorf("%w: %s came through laptop %s's source, which takes only that laptop's own events (%s, but FilesForgotten)",
			ErrSourceSubject, r.Subject, m, events.MachineSubjects(m))
	}
	return nil
}

// ErrSourceSubject is CheckSource's error: a source of the hub's stream
// stored an event it does not take.
var ErrSourceSubject = errors.New("event from a source that does not take it")

// leafSourceSubjects reads a laptop's source header: its machine and the
// subjects it takes. ok is false for a header of any other source.
func leafSourceSubjects(hdr string) (m string, subjects []string, ok bool) {
	f := strings.Split(hdr, " ")
	if len(f) < 5 {
		return "", nil, false
	}
	if name, _, _ := strings.Cut(f[0], ":"); name != DefaultStream {
		return "", nil, false
	}
	subjects = strings.Split(f[2], "\f")
	if f[3] != f[2] { // the transforms keep each subject as it is
		return "", nil, false
	}
	for _, s := range subjects {
		rest, ok := strings.CutPrefix(s, events.SubjectPrefix+".")
		if !ok {
			return "", nil, false
		}
		sm, kind, ok := strings.Cut(rest, ".")
		if !ok || kind == "" || strings.ContainsAny(kind, "*>") || (m != "" && sm != m) || events.ValidateMachine(sm) != nil {
			return "", nil, false
		}
		m = sm
	}
	return m, subjects, true
}

// clipSource shortens a source header for a reason.
func clipSource(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// leafMachine returns the machine a source of the hub's stream belongs to,
// or "" for a source that is not a laptop's.
func leafMachine(src *jetstream.StreamSource) string {
	if src == nil || src.External == nil || src.Name != DefaultStream {
		return ""
	}
	m, ok := strings.CutPrefix(src.External.DeliverPrefix, LeafDeliverPrefix+".")
	if !ok || events.ValidateMachine(m) != nil {
		return ""
	}
	return m
}

// Hub is where a laptop's embedded server connects as a leaf node.
type Hub struct {
	// URL is the hub's leaf listener: nats-leaf://HOST:PORT, or
	// tls://HOST:PORT when it serves TLS (indexer-project run
	// --leaf-listen).
	URL string
	// Credential is the laptop's leaf credential (RoleLeaf), issued by
	// the hub: indexer-project credentials add MACHINE --leaf. Its name
	// is the machine, which is also the server's JetStream domain.
	Credential *Credential
	// CAFile is a PEM file of the certificate authorities to trust for a
	// tls:// URL, besides the system's.
	CAFile string
}

// ErrNotLeaf is returned by Server.Open when Hub's credential is not a
// leaf credential (RoleLeaf): issue one on the hub with 'indexer-project
// credentials add MACHINE --leaf'.
var ErrNotLeaf = errors.New("not a leaf credential")

// leafOptions sets the JetStream domain, the leaf listener and the remote
// to the hub into opts.
func (s *Server) leafOptions(opts *server.Options) error {
	if s.Hub != nil {
		c := s.Hub.Credential
		if c == nil || c.Role != RoleLeaf {
			return fmt.Errorf("embedded server: hub %s: %w (issue one on the hub: indexer-project credentials add MACHINE --leaf)", s.Hub.URL, ErrNotLeaf)
		}
		if s.Domain == "" {
			s.Domain = c.Name
		}
		remote, err := s.Hub.remote()
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
// hub's challenge, and idx.> is denied both ways (see RoleLeaf).
func (h *Hub) remote() (*server.RemoteLeafOpts, error) {
	u, err := url.Parse(h.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("hub url %q: want nats-leaf://HOST:PORT or tls://HOST:PORT", h.URL)
	}
	r := &server.RemoteLeafOpts{
		URLs: []*url.URL{u},
		// The seed, which signs the hub's challenge; the hub holds the
		// public key only.
		Nkey:        string(h.Credential.seed),
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

// SourceState is how far the hub's stream has sourced a laptop.
type SourceState struct {
	Machine string
	// Lag is how many of the laptop's events the hub has not stored yet,
	// as the source consumer last reported it.
	Lag uint64
	// Active is the time since the hub last heard from the laptop's
	// stream (heartbeats come every second while connected); -1 if never.
	Active time.Duration
	// Error is the source's last error, "" when none.
	Error string
}

// Sources returns the state of the stream's laptop sources.
func (l *Log) Sources(ctx context.Context) ([]SourceState, error) {
	var info *jetstream.StreamInfo
	err := l.call(ctx, func(ctx context.Context) error {
		s, err := l.js.Stream(ctx, l.Stream)
		if err != nil {
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stream sources: %w", translate(err))
	}
	var out []SourceState
	for _, si := range info.Sources {
		src := jetstream.StreamSource{Name: si.Name, External: si.External}
		m := leafMachine(&src)
		if m == "" {
			continue
		}
		st := SourceState{Machine: m, Lag: si.Lag, Active: si.Active}
		if si.Error != nil {
			st.Error = si.Error.Error()
		}
		out = append(out, st)
	}
	return out, nil
}

// SetSources makes the stream source exactly the laptops of machines
// (LeafSource), keeping any other source it has. A source already there
// is left alone; a new one starts where the stream's record of that
// source ends (nowhere: from the laptop's first event).
func (l *Log) SetSources(ctx context.Context, machines []string) error {
	return l.updateSources(ctx, func(cur []*jetstream.StreamSource) []*jetstream.StreamSource {
		var out []*jetstream.StreamSource
		have := map[string]bool{}
		for _, src := range cur {
			m := leafMachine(src)
			if m != "" && !slices.Contains(machines, m) {
				continue
			}
			have[m] = true
			out = append(out, src)
		}
		for _, m := range machines {
			if !have[m] {
				src := LeafSource(m)
				out = append(out, &src)
			}
		}
		return out
	})
}

// updateSources applies fn to the stream's sources, and updates the
// stream when they changed.
func (l *Log) updateSources(ctx context.Context, fn func([]*jetstream.StreamSource) []*jetstream.StreamSource) error {
	err := l.call(ctx, func(ctx context.Context) error {
		s, err := l.js.Stream(ctx, l.Stream)
		if err != nil {
			return err
		}
		cfg := s.CachedInfo().Config
		next := fn(cfg.Sources)
		if sameSources(cfg.Sources, next) {
			return nil
		}
		cfg.Sources = next
		_, err = l.js.UpdateStream(ctx, cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("update stream sources: %w", translate(err))
	}
	return nil
}

func sameSources(a, b []*jetstream.StreamSource) bool {
	return slices.EqualFunc(a, b, func(x, y *jetstream.StreamSource) bool {
		return x.Name == y.Name && x.FilterSubject == y.FilterSubject && slices.Equal(x.SubjectTransforms, y.SubjectTransforms) &&
			(x.External == nil) == (y.External == nil) &&
			(x.External == nil || *x.External == *y.External)
	})
}

// restartSource removes machine m's source and adds it back: the server
// sets the source up at once, resuming from the last source sequence the
// stream stored (it keeps that per source, and finds it again in the
// stored events' Nats-Stream-Source headers), instead of waiting out its
// retry back-off.
func (l *Log) restartSource(ctx context.Context, m string) error {
	var at int
	err := l.updateSources(ctx, func(cur []*jetstream.StreamSource) []*jetstream.StreamSource {
		at = slices.IndexFunc(cur, func(s *jetstream.StreamSource) bool { return leafMachine(s) == m })
		if at < 0 {
			return cur
		}
		return slices.Delete(slices.Clone(cur), at, at+1)
	})
	if err != nil || at < 0 {
		return err
	}
	return l.updateSources(ctx, func(cur []*jetstream.StreamSource) []*jetstream.StreamSource {
		if slices.ContainsFunc(cur, func(s *jetstream.StreamSource) bool { return leafMachine(s) == m }) {
			return cur
		}
		src := LeafSource(m)
		return slices.Insert(slices.Clone(cur), min(at, len(cur)), &src)
	})
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
	Server *Server // the embedded server with the leaf listener
	Log    *Log    // the hub's log, with a credential that may update the stream
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
		if err := h.Log.restartSource(ctx, st.Machine); err != nil {
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
			if st.Name != DefaultStream {
				continue
			}
			for _, ci := range st.DirectConsumer {
				if ci.Config != nil && strings.HasPrefix(ci.Config.DeliverSubject, LeafDeliverPrefix+".") {
					pending, ok = max(pending, ci.NumPending), true
				}
			}
		}
	}
	return pending, ok
}
