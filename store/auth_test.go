package store_test

import (
	"context"
	"errors"
	"os/exec"

	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// authWorld is an embedded server with a keyring, its admin's log, and
// credentials issued for scanners of machines A and B and a reader.
type authWorld struct {
	dir       string
	srv       *embedded.Server
	admin     *store.Log
	keyring   *store.Keyring
	scanA     *store.Credential
	scanAFile string
	readFile  string
	reader    *store.Credential
}

func newAuthWorld(t *testing.T) *authWorld {
	t.Helper()
	w := &authWorld{dir: t.TempDir()}
	k, err := store.OpenKeyring(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	w.keyring = k
	w.scanAFile, w.scanA = storetest.Issue(t, k, store.RoleScanner, "A")
	storetest.Issue(t, k, store.RoleScanner, "B")
	w.readFile, w.reader = storetest.Issue(t, k, store.RoleReader, "viewer")
	w.srv = &embedded.Server{DataDir: w.dir, Keyring: k}
	if err := w.srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.srv.Close() })
	w.admin = storetest.MustOpenLog(t, w.srv)
	// B has events and a lease: what A must not touch.
	if err := w.admin.Append(context.Background(), testEvents(5, "B")...); err != nil {
		t.Fatal(err)
	}
	return w
}

// dial opens a log as cred (nil: anonymous).
func (w *authWorld) dial(t *testing.T, cred *store.Credential) (*store.Log, error) {
	t.Helper()
	nc, err := store.DialAs(context.Background(), w.srv.ClientURL(), "t", store.ClientAuth{Credential: cred})
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	l := &store.Log{Conn: nc}
	if err := l.Open(context.Background()); err != nil {
		return nil, err
	}
	return l, nil
}

func (w *authWorld) msgs(t *testing.T) uint64 {
	t.Helper()
	info, err := w.admin.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.Msgs
}

func TestAnonymousIsRefused(t *testing.T) {
	t.Parallel()
	w := newAuthWorld(t)
	if _, err := w.dial(t, nil); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("anonymous dial: %v, want ErrPermission", err)
	}
	// A key the server does not know is refused too.
	stranger, _ := store.NewCredential(store.RoleAdmin, "admin")
	if _, err := w.dial(t, stranger); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("unknown key: %v, want ErrPermission", err)
	}
	out, err := exec.Command(storetest.NATSCLI(t), "--server", w.srv.ClientURL(), "stream", "ls").CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "authorization violation") {
		t.Fatalf("nats stream ls without a credential: %v\n%s", err, out)
	}
}

// TestScannerWritesOnlyItsMachine: a scanner of A appends A's events,
// holds A's lease and reads A's events back; anything of B, and any
// change to the stream, fails at once with ErrPermission.
func TestScannerWritesOnlyItsMachine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newAuthWorld(t)
	l, err := w.dial(t, w.scanA)
	if err != nil {
		t.Fatal(err)
	}
	// A's lease held by another scan of A: the scanner reads who holds it.
	other, err := w.admin.AcquireLease(ctx, "A", "the other scan of A", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AcquireLease(ctx, "A", "test", 30*time.Second, nil); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "the other scan of A") {
		t.Fatalf("A's lease while held: %v, want a conflict naming its holder", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lease, err := l.AcquireLease(ctx, "A", "test", 30*time.Second, nil)
	if err != nil {
		t.Fatalf("A's own lease: %v", err)
	}
	a := l.NewAppender()
	a.RetryFor = time.Minute // a denial must not wait for the retries to run out
	for _, e := range testEvents(20, "A") {
		if err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("A's events: %v", err)
	}
	n := 0
	if _, err := l.Replay(ctx, 1, events.MachineSubjects("A"), func(store.Record) error { n++; return nil }); err != nil || n != 20 {
		t.Fatalf("reading A's events back: %d, %v", n, err)
	}
	before := w.msgs(t)

	start := time.Now()
	err = l.Append(ctx, testEvents(1, "B")...)
	var pe *store.PermissionError
	if !errors.As(err, &pe) || pe.Subject != "idx.B.file.scanned" || !strings.Contains(err.Error(), "may publish only idx.A.>") {
		t.Fatalf("appending B's event as A: %v, want a permission error naming idx.B.file.scanned and idx.A.>", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the denial took %s: it waited for acknowledgements", d)
	}
	// Not even A's own files may A forget: that is the owner's.
	if err := l.Append(ctx, events.New("A", ulid.ULID{}, time.Now(), &events.FilesForgotten{})); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("forgetting A's files as A: %v, want ErrPermission", err)
	}
	if _, err := l.AcquireLease(ctx, "B", "forged", 30*time.Second, nil); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("taking B's lease as A: %v, want ErrPermission", err)
	}
	if _, err := l.Replay(ctx, 1, "", func(store.Record) error { return nil }); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("reading every machine's events as A: %v, want ErrPermission", err)
	}
	if after := w.msgs(t); after != before {
		t.Fatalf("the log went from %d to %d events", before, after)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatalf("releasing A's own lease: %v", err)
	}
}

// TestNATSCLIRefusesScanner tries, with the real NATS CLI and A's issued
// file, what an attacker holding it would.
func TestNATSCLIRefusesScanner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newAuthWorld(t)
	bl, err := w.admin.AcquireLease(ctx, "B", "B's scan", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Release(ctx)
	before := w.msgs(t)
	cli := storetest.NATSCLI(t)
	nats := func(args ...string) (string, error) {
		base := []string{"--server", w.srv.ClientURL(), "--nkey", w.scanAFile, "--inbox-prefix", w.scanA.InboxPrefix(), "--timeout", "3s"}
		out, err := exec.Command(cli, append(base, args...)...).CombinedOutput()
		return string(out), err
	}
	// Allowed: its own subjects, read back through the CLI.
	if out, err := nats("stream", "info", "INDEXER"); err != nil {
		t.Fatalf("stream info as A: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"stream", "rm", "INDEXER", "-f"},
		{"stream", "purge", "INDEXER", "-f"},
		{"stream", "edit", "INDEXER", "--description", "owned", "-f"},
		{"kv", "put", "INDEXER_LEASES", "B", "indexer-scan pid 1 on vm"},
		{"req", "indexer.admin.x.rebuild", ""},
	} {
		// nats req reports the violation but exits 0 once it gave up.
		out, err := nats(args...)
		if err == nil && !strings.Contains(out, "Permissions Violation") {
			t.Errorf("nats %s as A succeeded:\n%s", strings.Join(args, " "), out)
		} else if !strings.Contains(strings.ToLower(out), "permission") {
			t.Errorf("nats %s as A: %v, without a permission error:\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A core publish is fire and forget: the CLI cannot tell, the log must.
	nats("pub", "idx.B.file.scanned", `{"forged":true}`)
	if after := w.msgs(t); after != before {
		t.Fatalf("the log went from %d to %d events", before, after)
	}
	info, err := w.admin.Info(ctx)
	if err != nil || info.Name != "INDEXER" {
		t.Fatalf("stream after the attempts: %+v %v", info, err)
	}
	if err := bl.Err(); err != nil {
		t.Fatalf("B's lease: %v", err)
	}
}

// TestReaderReadsOnly: a reader reads the log and asks queries; it
// appends nothing and cannot ask the owner's admin subjects.
func TestReaderReadsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newAuthWorld(t)
	svc, err := w.admin.StartService(store.ServiceConfig{Name: "indexer", Version: "1.0.0", Endpoints: []store.ServiceEndpoint{
		{Name: "stats", Subject: "indexer.stats", Handler: func(context.Context, []byte) ([]byte, error) { return []byte("ok"), nil }},
		{Name: "rebuild", Subject: "indexer.admin.x.rebuild", Handler: func(context.Context, []byte) ([]byte, error) { return []byte("rebuilt"), nil }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	l, err := w.dial(t, w.reader)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := l.Replay(ctx, 1, "", func(store.Record) error { n++; return nil }); err != nil || n != 5 {
		t.Fatalf("reader replay: %d events, %v", n, err)
	}
	if out, err := l.Request(ctx, "indexer.stats", nil); err != nil || string(out) != "ok" {
		t.Fatalf("reader query: %q %v", out, err)
	}
	if _, err := l.Request(ctx, "indexer.admin.x.rebuild", nil); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("reader asking for a rebuild: %v, want ErrPermission", err)
	}
	if err := l.Append(ctx, testEvents(1, "B")...); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("reader appending: %v, want ErrPermission", err)
	}
	out, err := exec.Command(storetest.NATSCLI(t), "--server", w.srv.ClientURL(), "--nkey", w.readFile,
		"--inbox-prefix", w.reader.InboxPrefix(), "--timeout", "3s", "stream", "get", "INDEXER", "1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "idx.B.file.scanned") {
		t.Fatalf("nats stream get as a reader: %v\n%s", err, out)
	}
}

// TestRevokeWithoutRestart: a revoked credential's connection is closed
// and it cannot connect again, while the server runs on.
func TestRevokeWithoutRestart(t *testing.T) {
	t.Parallel()
	w := newAuthWorld(t)
	nc, err := store.DialAs(context.Background(), w.srv.ClientURL(), "t", store.ClientAuth{Credential: w.scanA})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	closed := make(chan struct{})
	nc.SetDisconnectErrHandler(func(*nats.Conn, error) {
		select {
		case <-closed:
		default:
			close(closed)
		}
	})
	if _, err := w.keyring.Revoke("A"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the revoked credential's connection is still up")
	}
	if _, err := w.dial(t, w.scanA); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("dial with a revoked credential: %v, want ErrPermission", err)
	}
	if _, err := w.dial(t, w.reader); err != nil {
		t.Fatalf("the other credentials still work: %v", err)
	}
	users, _ := w.keyring.Users()
	for _, u := range users {
		if u.Name == "A" {
			t.Fatalf("A still listed: %+v", users)
		}
	}
}
