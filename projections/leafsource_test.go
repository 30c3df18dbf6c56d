package projections

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
	"github.com/indexer/indexer/store/storetest"
)

// A modified laptop server delivers, through its own source on the hub,
// another machine's event and its own FilesForgotten (neither of which its
// source takes): nats-server stores them, as it does not check a sourced
// event's subject against the source's filters, but the hub's index does
// not apply them: each is a dead letter with the reason. The laptop's own
// events are applied.
//
// The rogue laptop is a plain nats-server, leaf of the hub with the
// laptop's leaf credential, whose JetStream (in another domain) holds the
// events; a client on it answers the hub's JetStream requests to the
// laptop's domain by passing them on to that JetStream without the source
// consumer's filters.
func TestRogueLaptopCannotWriteOtherMachines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// The hub: leaf listener, log, laptop sources and projector.
	dir := t.TempDir()
	k, err := store.OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	credFile, _ := storetest.Issue(t, k, store.RoleLeaf, "laptop")
	hub := &store.Server{DataDir: dir, Keyring: k, LeafListen: "127.0.0.1:0"}
	if err := hub.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	log := MustOpenLog(t, hub)
	hctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	lh := &store.LeafHub{Server: hub, Log: log, Settle: 200 * time.Millisecond,
		Machines: func() ([]string, error) { return []string{"laptop"}, nil }}
	go lh.Run(hctx)
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)

	// The rogue laptop.
	b, err := os.ReadFile(credFile)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	u, err := url.Parse(hub.LeafURL())
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := server.NewServer(&server.Options{
		ServerName: "indexer-laptop", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, JetStreamDomain: "rogue", StoreDir: t.TempDir(),
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}, Nkey: string(seed)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go rogue.Start()
	t.Cleanup(rogue.Shutdown)
	if !rogue.ReadyForConnections(5 * time.Second) {
		t.Fatal("rogue server not ready")
	}
	nc, err := nats.Connect(rogue.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: store.DefaultStream, Subjects: []string{"idx.>"}}); err != nil {
		t.Fatal(err)
	}
	lap, desk := newGen("laptop", 1), newGen("desktop", 1)
	evs := []events.Event{
		lap.ev(&events.FileScanned{File: file("/home/ok", 1, 1, 1)}),
		desk.ev(&events.FileScanned{File: file("/etc/planted", 1, 2, 2)}),
		desk.ev(&events.FileDeleted{Path: "/srv/desktop-file"}),
		lap.ev(&events.FilesForgotten{Root: "/home"}),
		lap.ev(&events.FileScanned{File: file("/home/ok2", 1, 3, 3)}),
	}
	for _, e := range evs {
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, events.Subject(e.Machine, e.Type), data); err != nil {
			t.Fatal(err)
		}
	}
	// The hub's requests to the laptop's domain, each subject its leaf
	// credential lets through, go to the rogue JetStream; a source
	// consumer is made without its filters.
	api := "$JS.laptop.API."
	for _, subj := range []string{"INFO", "STREAM.INFO.INDEXER", "CONSUMER.CREATE.INDEXER", "CONSUMER.CREATE.INDEXER.>",
		"CONSUMER.DELETE.INDEXER.>", "CONSUMER.INFO.INDEXER.>"} {
		if _, err := nc.Subscribe(api+subj, func(m *nats.Msg) {
			rest := strings.TrimPrefix(m.Subject, api)
			data := m.Data
			if strings.HasPrefix(rest, "CONSUMER.CREATE.") {
				var req map[string]any
				if json.Unmarshal(data, &req) == nil {
					if cfg, ok := req["config"].(map[string]any); ok {
						delete(cfg, "filter_subject")
						delete(cfg, "filter_subjects")
					}
					data, _ = json.Marshal(req)
				}
				rest = "CONSUMER.CREATE.INDEXER"
			}
			resp, err := nc.Request("$JS.API."+rest, data, 2*time.Second)
			if err == nil {
				m.Respond(resp.Data)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()

	// Every event reaches the hub's log: nats-server does not refuse them.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		info, err := log.Info(ctx)
		if err == nil && info.Msgs >= uint64(len(evs)) {
			waitFor(t, p, info.LastSeq)
			break
		}
		if time.Since(start) > 60*time.Second {
			srcs, _ := log.Sources(ctx)
			t.Fatalf("the hub holds %+v (%v) after 60s, want %d events; sources %+v", info, err, len(evs), srcs)
		}
	}
	ix := p.Index()
	if _, err := ix.Lookup("desktop", "/etc/planted"); err == nil {
		t.Fatal("the laptop wrote a file of the desktop into the hub's index")
	}
	for _, f := range []events.Path{"/home/ok", "/home/ok2"} {
		if _, err := ix.Lookup("laptop", f); err != nil {
			t.Fatalf("the laptop's own %s: %v (its FilesForgotten applied?)", f, err)
		}
	}
	dl, err := ix.DeadLetters(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"idx.desktop.file.scanned", "idx.desktop.file.deleted", "idx.laptop.files.forgotten"}
	if len(dl) != len(want) {
		t.Fatalf("dead letters %+v, want %v", dl, want)
	}
	for i, d := range dl {
		if d.Subject != want[i] || !strings.Contains(d.Reason, "came through laptop laptop's source") {
			t.Errorf("dead letter %+v, want %s through laptop's source", d, want[i])
		}
	}
	t.Logf("dead letter: %s", dl[0].Reason)
}
