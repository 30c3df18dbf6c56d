package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// freeLeafPort returns a loopback port nothing listens on now, for a hub
// that comes up later on a port its laptops already know.
func freeLeafPort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// hub is a hub's data directory: its keyring (with the laptops' leaf
// credentials), and while up its server, log and LeafHub.
type hub struct {
	tb      testing.TB
	dir     string
	listen  string
	keyring *store.Keyring

	srv    *embedded.Server
	log    *store.Log
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func newHub(tb testing.TB) *hub {
	tb.Helper()
	dir := tb.TempDir()
	k, err := store.OpenKeyring(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return &hub{tb: tb, dir: dir, keyring: k, listen: "127.0.0.1:" + strconv.Itoa(freeLeafPort(tb))}
}

func (h *hub) url() string { return "nats-leaf://" + h.listen }

// up starts the hub's server, log and LeafHub.
func (h *hub) up() {
	h.tb.Helper()
	h.srv = &embedded.Server{DataDir: h.dir, Keyring: h.keyring, LeafListen: h.listen, Logger: dbgLogger("hub")}
	if err := h.srv.Open(context.Background()); err != nil {
		h.tb.Fatal(err)
	}
	h.log = MustOpenLog(h.tb, h.srv)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	lh := &embedded.LeafHub{Server: h.srv, Log: h.log, Machines: h.machines}
	h.done.Add(1)
	go func() { defer h.done.Done(); lh.Run(ctx) }()
	h.tb.Cleanup(h.down)
}

// machines are the laptops with a leaf credential.
func (h *hub) machines() ([]string, error) {
	us, err := h.keyring.Users()
	var ms []string
	for _, u := range us {
		if u.Role == store.RoleLeaf {
			ms = append(ms, u.Name)
		}
	}
	return ms, err
}

// down stops the hub (again is a no-op).
func (h *hub) down() {
	if h.srv == nil {
		return
	}
	h.cancel()
	h.done.Wait()
	h.log.Conn.Close()
	h.srv.Close()
	h.srv = nil
}

// waitFor waits until the hub's stream holds n events, and returns how
// long that took.
func (h *hub) waitFor(n uint64) time.Duration {
	h.tb.Helper()
	start := time.Now()
	var last store.StreamInfo
	for time.Since(start) < 60*time.Second {
		info, err := h.log.Info(context.Background())
		if err == nil && info.Msgs >= n {
			return time.Since(start)
		}
		last = info
		time.Sleep(20 * time.Millisecond)
	}
	srcs, _ := h.log.Sources(context.Background())
	h.tb.Fatalf("hub holds %d events after 60s, want %d; sources %+v", last.Msgs, n, srcs)
	return 0
}

// openLaptop opens machine m's laptop data directory dir as a leaf of h,
// with the leaf credential cred.
func openLaptop(tb testing.TB, dir string, h *hub, cred *store.Credential) (*embedded.Server, *store.Log) {
	tb.Helper()
	k, err := store.OpenKeyring(dir)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &embedded.Server{DataDir: dir, Keyring: k, Hub: &store.Hub{URL: h.url(), Credential: cred}, Logger: dbgLogger("laptop")}
	if err := srv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv, MustOpenLog(tb, srv)
}

func appendAll(tb testing.TB, l *store.Log, evs []events.Event) {
	tb.Helper()
	if err := l.Append(context.Background(), evs...); err != nil {
		tb.Fatal(err)
	}
}

// ids returns the event ids of l's machine m in log order.
func ids(tb testing.TB, l *store.Log, m string) []string {
	tb.Helper()
	var out []string
	if _, err := l.Replay(context.Background(), 1, events.MachineSubjects(m), func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return err
		}
		out = append(out, e.ID.String())
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return out
}

func mustSameOrder(tb testing.TB, hubLog, laptopLog *store.Log, m string) {
	tb.Helper()
	got, want := ids(tb, hubLog, m), ids(tb, laptopLog, m)
	if len(got) != len(want) {
		tb.Fatalf("hub holds %d events of %s, the laptop %d", len(got), m, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			tb.Fatalf("event %d of %s: hub %s, laptop %s (order)", i, m, got[i], want[i])
		}
	}
}

// A laptop appends while its hub is down, while connected, and while the
// hub restarts: the hub's log holds each event once, in the laptop's
// order, and catches up within seconds of every reconnect.
func TestLeafLaptopReachesHubOnce(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	_, cred := storetest.Issue(t, h.keyring, store.RoleLeaf, "laptop")
	_, lap := openLaptop(t, t.TempDir(), h, cred)

	// Offline: nowhere to go. Enough bytes (2 MB) that the source's flow
	// control must work: its replies stalled the source after 1.2 MB.
	scan, now := events.NewID(), time.Now()
	backlog := make([]events.Event, 6000)
	for i := range backlog {
		backlog[i] = realisticEvent(scan, now, i)
		backlog[i].Machine = "laptop"
	}
	appendAll(t, lap, backlog)
	h.up()
	t.Logf("offline backlog of 6000 on the hub %v after it came up", h.waitFor(6000))

	appendAll(t, lap, testEvents(300, "laptop")) // online
	t.Logf("300 appended while connected on the hub after %v", h.waitFor(6300))

	h.down()
	appendAll(t, lap, testEvents(200, "laptop"))
	h.up()
	t.Logf("200 appended while the hub was down on the hub %v after it came back", h.waitFor(6500))
	// A source restarted without need, and a reconnect, add nothing.
	h.down()
	h.up()
	h.waitFor(6500)
	if err := h.log.Append(context.Background(), testEvents(1, "desktop")...); err != nil {
		t.Fatal(err)
	}
	if n := storetest.MustHoldEachOnce(t, h.log); n != 6501 {
		t.Fatalf("hub holds %d events, want 6501", n)
	}
	mustSameOrder(t, h.log, lap, "laptop")
	// The hub's events do not flow to the laptop.
	if n := storetest.MustHoldEachOnce(t, lap); n != 6500 {
		t.Fatalf("laptop holds %d events, want its own 6500", n)
	}
}

// The laptop's own server never passes another machine's subjects to the
// hub, nor its own forgetting of files (the hub's owner decides that), and
// the hub's stream keeps its sources when its log is opened again.
func TestLeafLaptopOtherMachineStaysLocal(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	_, cred := storetest.Issue(t, h.keyring, store.RoleLeaf, "laptop")
	h.up()
	_, lap := openLaptop(t, t.TempDir(), h, cred)
	appendAll(t, lap, testEvents(10, "desktop")) // stored locally, not sourced
	appendAll(t, lap, []events.Event{events.New("laptop", events.NewID(), time.Now(), &events.FilesForgotten{Root: "/home"})})
	appendAll(t, lap, testEvents(10, "laptop"))
	h.waitFor(10)
	l2 := MustOpenLog(t, h.srv)
	srcs, err := l2.Sources(context.Background())
	if err != nil || len(srcs) != 1 || srcs[0].Machine != "laptop" {
		t.Fatalf("sources %+v, %v; want laptop's", srcs, err)
	}
	if n := storetest.MustHoldEachOnce(t, h.log); n != 10 {
		t.Fatalf("hub holds %d events, want laptop's 10", n)
	}
	if _, err := h.log.Replay(context.Background(), 1, "", func(r store.Record) error {
		if r.Subject != events.Subject("laptop", events.TypeFileScanned) {
			return fmt.Errorf("the hub holds %s from the laptop", r.Subject)
		}
		if err := store.CheckSource(r); r.Source == "" || err != nil {
			return fmt.Errorf("the laptop's own event, source %q: %v", r.Source, err)
		}
		if g, err := h.log.Get(context.Background(), r.Seq); err != nil || g.Source != r.Source {
			return fmt.Errorf("get %d: source %q (%v), read %q", r.Seq, g.Source, err, r.Source)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A leaf credential is refused as a client, and a scanner's as a leaf.
func TestLeafCredentialRoles(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	_, leafCred := storetest.Issue(t, h.keyring, store.RoleLeaf, "laptop")
	_, scanCred := storetest.Issue(t, h.keyring, store.RoleScanner, "desk")
	h.up()
	_, err := store.DialAs(context.Background(), h.srv.ClientURL(), "t", store.ClientAuth{Credential: leafCred})
	if !errors.Is(err, store.ErrPermission) {
		t.Fatalf("leaf credential as a client: %v, want ErrPermission", err)
	}
	srv := &embedded.Server{DataDir: t.TempDir(), Hub: &store.Hub{URL: h.url(), Credential: scanCred}}
	if err := srv.Open(context.Background()); !errors.Is(err, store.ErrNotLeaf) {
		srv.Close()
		t.Fatalf("scanner credential as a hub credential: %v, want ErrNotLeaf", err)
	}
}

func dbgLogger(name string) *slog.Logger {
	if os.Getenv("LEAFDEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("srv", name)
}

// A laptop's server that drops its own denials (a modified binary) still
// gets nothing through its leaf credential but its own source's traffic:
// it cannot append any machine's events, use the hub's JetStream API, or
// read the hub's events or queries.
func TestLeafCredentialLimitsRogueLaptop(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	file, _ := storetest.Issue(t, h.keyring, store.RoleLeaf, "laptop")
	h.up()
	before, err := h.log.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rogue := storetest.RogueLeaf(t, h.url(), file, "laptop", false)
	for rogue.NumLeafNodes() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	nc, err := nats.Connect(rogue.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan *nats.Msg, 100)
	for _, subj := range []string{"idx.>", "indexer.>", "$JS.API.>", "_INBOX.>"} {
		if _, err := nc.ChanSubscribe(subj, got); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()
	for _, subj := range []string{"idx.desktop.file.scanned", "idx.laptop.file.scanned",
		"$JS.API.STREAM.DELETE.INDEXER", "$JS.API.STREAM.PURGE.INDEXER", "$KV.INDEXER_LEASES.desktop"} {
		if err := nc.Publish(subj, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nc.Request("$JS.API.STREAM.UPDATE.INDEXER", []byte(`{"name":"INDEXER","subjects":["idx.>"]}`), 500*time.Millisecond); err == nil {
		t.Fatal("the hub's JetStream API answered a laptop's leaf")
	}
	nc.Flush()
	appendAll(t, h.log, testEvents(5, "desktop"))
	after, err := h.log.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.Msgs != before.Msgs+5 || !after.Created.Equal(before.Created) {
		t.Fatalf("hub stream %+v after the rogue leaf, want %d events of the same stream", after, before.Msgs+5)
	}
	deadline := time.After(300 * time.Millisecond) // nothing may come; a wait is the only way to see that
	for {
		select {
		case m := <-got:
			if string(m.Data) != `{}` && !strings.HasPrefix(m.Subject, "$JS.API.STREAM.UPDATE") { // not its own
				t.Fatalf("the rogue leaf read %s from the hub: %.100s", m.Subject, m.Data)
			}
		case <-deadline:
			return
		}
	}
}

// A leaf credential issued while the hub runs is accepted within a second,
// and its laptop is sourced, without a restart; one revoked loses its
// source.
func TestLeafCredentialAddedWhileHubRuns(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.up()
	_, cred := storetest.Issue(t, h.keyring, store.RoleLeaf, "laptop")
	_, lap := openLaptop(t, t.TempDir(), h, cred)
	appendAll(t, lap, testEvents(20, "laptop"))
	t.Logf("a laptop issued a credential while the hub ran is on the hub %v later", h.waitFor(20))
	if _, err := h.keyring.Revoke("laptop"); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		srcs, err := h.log.Sources(context.Background())
		if err == nil && len(srcs) == 0 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("sources %+v (%v) 10s after the revoke, want none", srcs, err)
		}
	}
}

// CheckSource takes an event from a laptop's source only when the source
// takes its subject, reading the header nats-server writes
// ("STREAM[:HASH] SEQ FILTERS DESTINATIONS SUBJECT [IDENT]").
func TestCheckSource(t *testing.T) {
	t.Parallel()
	own := "idx.a.file.scanned\fidx.a.file.deleted"
	cases := []struct {
		subject, source string
		ok              bool
	}{
		{"idx.b.file.scanned", "", true}, // appended directly
		{"idx.a.file.scanned", "INDEXER:Xy12AbCd 7 " + own + " " + own + " idx.a.file.scanned", true},
		{"idx.a.file.deleted", "INDEXER:Xy12AbCd 8 " + own + " " + own + " idx.a.file.deleted abc", true},
		{"idx.b.file.scanned", "INDEXER:Xy12AbCd 9 " + own + " " + own + " idx.b.file.scanned", false},
		{"idx.a.files.forgotten", "INDEXER:Xy12AbCd 9 " + own + " " + own + " idx.a.files.forgotten", false},
		{"idx.a.file.scanned", "INDEXER:Xy12AbCd 1 > > idx.a.file.scanned", false},                   // not a laptop's
		{"idx.a.file.scanned", "OTHER:Xy12AbCd 1 " + own + " " + own + " idx.a.file.scanned", false}, // another stream
		{"idx.a.file.scanned", "INDEXER:Xy12AbCd 1 idx.a.file.scanned\fidx.b.file.scanned idx.a.file.scanned\fidx.b.file.scanned idx.a.file.scanned", false},
		{"idx.a.file.scanned", "INDEXER:Xy12AbCd 1 idx.a.file.scanned idx.b.file.scanned idx.a.file.scanned", false}, // transformed
		{"idx.a.file.scanned", "INDEXER:Xy12AbCd 1 idx.a.* idx.a.* idx.a.file.scanned", false},
		{"idx.a.file.scanned", "$JS.ACK.INDEXER.c.1.2.3.4.5", false}, // a pre-2.10 header
	}
	for _, c := range cases {
		err := store.CheckSource(store.Record{Subject: c.subject, Source: c.source})
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, store.ErrSourceSubject)) {
			t.Errorf("%s from %q: %v, want ok %v", c.subject, c.source, err, c.ok)
		}
	}
}
