package storetest

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// LeafHub starts a hub: an embedded server with a leaf listener on
// loopback, its log, and a embedded.LeafHub sourcing the one laptop machine,
// whose leaf credential file it returns. All stop at cleanup.
func LeafHub(tb testing.TB, machine string) (srv *embedded.Server, log *store.Log, credFile string) {
	tb.Helper()
	dir := tb.TempDir()
	k, err := store.OpenKeyring(dir)
	if err != nil {
		tb.Fatal(err)
	}
	credFile, _ = Issue(tb, k, store.RoleLeaf, machine)
	srv = &embedded.Server{DataDir: dir, Keyring: k, LeafListen: "127.0.0.1:0"}
	if err := srv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	log = MustOpenLog(tb, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lh := &embedded.LeafHub{Server: srv, Log: log, Settle: 200 * time.Millisecond,
		Machines: func() ([]string, error) { return []string{machine}, nil }}
	go func() { defer close(done); lh.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return srv, log, credFile
}

// RogueLaptop connects a modified laptop server to hub with machine's
// leaf credential (credFile) and has it deliver evs, whatever their
// machines and kinds, through its source on the hub. It is a plain
// nats-server whose JetStream (in another domain) holds evs; a client on
// it answers the hub's requests to the laptop's domain, each subject the
// leaf credential lets through, by passing them to that JetStream, and
// makes the source consumer without its filters. It stops at cleanup.
func RogueLaptop(tb testing.TB, hub *embedded.Server, credFile, machine string, evs ...events.Event) {
	tb.Helper()
	ctx := context.Background()
	rogue := RogueLeaf(tb, hub.LeafURL(), credFile, machine, true)
	nc, err := nats.Connect(rogue.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: store.DefaultStream, Subjects: []string{events.SubjectPrefix + ".>"}}); err != nil {
		tb.Fatal(err)
	}
	for _, e := range evs {
		data, err := events.Encode(e)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := js.Publish(ctx, events.Subject(e.Machine, e.Type), data); err != nil {
			tb.Fatal(err)
		}
	}
	api := "$JS." + machine + ".API."
	for _, subj := range []string{"INFO", "STREAM.INFO.INDEXER", "CONSUMER.CREATE.INDEXER", "CONSUMER.CREATE.INDEXER.>",
		"CONSUMER.DELETE.INDEXER.>", "CONSUMER.INFO.INDEXER.>"} {
		if _, err := nc.Subscribe(api+subj, func(m *nats.Msg) {
			rest, data := strings.TrimPrefix(m.Subject, api), m.Data
			if strings.HasPrefix(rest, "CONSUMER.CREATE.") {
				var req map[string]any
				if json.Unmarshal(data, &req) == nil {
					if cfg, ok := req["config"].(map[string]any); ok {
						delete(cfg, "filter_subject")
						delete(cfg, "filter_subjects")
					}
					data, _ = json.Marshal(req)
				}
				rest = "CONSUMER.CREATE." + store.DefaultStream
			}
			if resp, err := nc.Request("$JS.API."+rest, data, 2*time.Second); err == nil {
				m.Respond(resp.Data)
			}
		}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// WaitForMsgs waits until log holds n events and returns its last
// sequence; a minute without is a failure.
func WaitForMsgs(tb testing.TB, log *store.Log, n uint64) uint64 {
	tb.Helper()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		info, err := log.Info(context.Background())
		if err == nil && info.Msgs >= n {
			return info.LastSeq
		}
		if time.Since(start) > time.Minute {
			srcs, _ := log.Sources(context.Background())
			tb.Fatalf("the log holds %+v (%v) after a minute, want %d events; sources %+v", info, err, n, srcs)
		}
	}
}

// RogueLeaf starts a plain nats-server on loopback, a leaf node of the hub
// at leafURL with the leaf credential in credFile, as a modified laptop
// server of machine would be: none of the laptop's own denials, and with
// jetStream a JetStream of its own in the domain "rogue". It stops at
// cleanup.
func RogueLeaf(tb testing.TB, leafURL, credFile, machine string, jetStream bool) *server.Server {
	tb.Helper()
	b, err := os.ReadFile(credFile)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	seed, _ := kp.Seed()
	u, err := url.Parse(leafURL)
	if err != nil {
		tb.Fatal(err)
	}
	opts := &server.Options{
		ServerName: "indexer-" + machine, Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}, Nkey: string(seed)}}},
	}
	if jetStream {
		opts.JetStream, opts.JetStreamDomain, opts.StoreDir = true, "rogue", tb.TempDir()
	}
	rogue, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	go rogue.Start()
	tb.Cleanup(rogue.Shutdown)
	if !rogue.ReadyForConnections(5 * time.Second) {
		tb.Fatal("rogue laptop server not ready")
	}
	return rogue
}
