package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// MustOpenServer and MustOpenLog are storetest's, named for the tests.
var (
	MustOpenServer = storetest.MustOpenServer
	MustOpenLog    = storetest.MustOpenLog
)

func testEvents(n int, machine string) []events.Event {
	scan := events.NewID()
	out := make([]events.Event, n)
	for i := range out {
		out[i] = events.New(machine, scan, time.Now(), &events.FileScanned{File: events.File{
			Path: events.Path(fmt.Sprintf("/data/dir%03d/file%06d.txt", i/100, i)), Size: int64(i),
			Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", i)},
		}})
	}
	return out
}

func TestAppendReplayInOrderStopsAtTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	evs := testEvents(2500, "nas1")
	a := l.NewAppender()
	a.MaxInFlight = 64 // exercise back-pressure
	for _, e := range evs {
		if err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := a.Stored, int64(len(evs)); got != want {
		t.Fatalf("Stored = %d, want %d", got, want)
	}
	var got []events.Event
	last, err := l.Replay(ctx, 1, "", func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return err
		}
		if want := events.Subject("nas1", events.TypeFileScanned); r.Subject != want {
			return fmt.Errorf("subject %q, want %q", r.Subject, want) // fn may run on another goroutine: no t.Fatal
		}
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != uint64(len(evs)) || len(got) != len(evs) {
		t.Fatalf("replay: last %d, %d events; want %d", last, len(got), len(evs))
	}
	for i := range evs {
		if got[i].ID != evs[i].ID {
			t.Fatalf("event %d: id %s, want %s (out of order)", i, got[i].ID, evs[i].ID)
		}
	}
	// From the middle, with a filter that matches nothing, and on an empty
	// range: each returns at the tail instead of waiting.
	n := 0
	if _, err := l.Replay(ctx, 2001, "", func(store.Record) error { n++; return nil }); err != nil || n != 500 {
		t.Fatalf("replay from 2001: %d events, err %v; want 500", n, err)
	}
	n = 0
	if _, err := l.Replay(ctx, 1, events.MachineSubjects("other"), func(store.Record) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("replay of other machine: %d events, err %v; want 0", n, err)
	}
	if _, err := l.Replay(ctx, 2501, "", func(store.Record) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("replay past the tail: %d events, err %v; want 0", n, err)
	}
}

func TestRetriedAppendStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	evs := testEvents(10, "nas1")
	if err := l.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	// A retry resends the same events with the same ids: as after a lost ack.
	a := l.NewAppender()
	for _, e := range evs {
		if err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Duplicates != 10 || a.Stored != 0 {
		t.Fatalf("retry: stored %d, duplicates %d; want 0, 10", a.Stored, a.Duplicates)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Msgs != 10 {
		t.Fatalf("stream holds %d events, want 10", info.Msgs)
	}
}

func TestStreamConfigIsIdempotentAndAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := MustOpenServer(t, "", true)
	l := MustOpenLog(t, srv)
	if err := l.Append(ctx, testEvents(3, "m")...); err != nil {
		t.Fatal(err)
	}
	again := MustOpenLog(t, srv) // provisioning again changes nothing
	info, err := again.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Msgs != 3 {
		t.Fatalf("after reprovisioning: %d events, want 3", info.Msgs)
	}
	nc, err := srv.Connect("stranger")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Purge and delete are refused by the stream itself.
	for _, subj := range []string{"$JS.API.STREAM.PURGE.INDEXER", "$JS.API.STREAM.MSG.DELETE.INDEXER"} {
		body := "{}"
		if strings.Contains(subj, "DELETE") {
			body = `{"seq":1}`
		}
		m, err := nc.Request(subj, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Data), `"error"`) {
			t.Fatalf("%s was allowed: %s", subj, m.Data)
		}
	}
	if info, _ := l.Info(ctx); info.Msgs != 3 {
		t.Fatalf("after purge and delete attempts: %d events, want 3", info.Msgs)
	}
}

func TestGarbageIsUndecodableNotACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := MustOpenServer(t, "", true)
	l := MustOpenLog(t, srv)
	nc, err := srv.Connect("stranger")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, g := range []string{"hello", "", `{"v":1}`, "\xff\xfe", `{"v":99,"type":"FileScanned"}`} {
		if _, err := nc.Request("idx.nas1.file.scanned", []byte(g), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(ctx, testEvents(1, "nas1")...); err != nil {
		t.Fatal(err)
	}
	var bad, good int
	if _, err := l.Replay(ctx, 1, "", func(r store.Record) error {
		if _, err := events.Decode(r.Data); err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrNewerSchema) {
				t.Errorf("seq %d: unexpected error kind %v", r.Seq, err)
			}
			bad++
		} else {
			good++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if bad != 5 || good != 1 {
		t.Fatalf("bad %d good %d, want 5 and 1", bad, good)
	}
}

func TestLogSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	srv := &embedded.Server{DataDir: dir}
	if err := srv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	nc, _ := srv.Connect("t")
	l := &store.Log{Conn: nc}
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	evs := testEvents(100, "m")
	if err := l.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	before, _ := l.Info(ctx)
	nc.Close()
	srv.Close()
	if store.ReadServerURL(dir) != "" {
		t.Fatal("server.url left behind after Close")
	}

	MustOpenServer(t, dir, false) // the same store, now listening
	if u := store.ReadServerURL(dir); !strings.HasPrefix(u, "nats://127.0.0.1:") {
		t.Fatalf("server.url = %q", u)
	}
	nc2, err := store.Dial(ctx, store.ReadServerURL(dir), "t2")
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	l2 := &store.Log{Conn: nc2}
	if err := l2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := l2.Info(ctx)
	if after.Msgs != 100 || !after.Created.Equal(before.Created) {
		t.Fatalf("after restart: %d events created %v; before %d created %v", after.Msgs, after.Created, before.Msgs, before.Created)
	}
	var i int
	if _, err := l2.Replay(ctx, 1, "", func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil || e.ID != evs[i].ID {
			return fmt.Errorf("seq %d: %v %v", r.Seq, e.ID, err)
		}
		i++
		return nil
	}); err != nil || i != 100 {
		t.Fatalf("replay after restart: %d events, %v", i, err)
	}
}

func TestFollowSeesNewEvents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	got := make(chan uint64, 10)
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(fctx, 1, "", func(r store.Record) error { got <- r.Seq; return nil })
	}()
	for i, e := range testEvents(3, "m") {
		if err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		select {
		case seq := <-got:
			if seq != uint64(i+1) {
				t.Fatalf("followed seq %d, want %d", seq, i+1)
			}
		case <-ctx.Done():
			t.Fatal("follow saw nothing")
		}
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v, want context.Canceled", err)
	}
}

func TestAppendWaitsForServerToComeBack(t *testing.T) {
	t.Parallel()
	t.Run("within the window", func(t *testing.T) { t.Parallel(); appendAcrossOutage(t, 0, 500*time.Millisecond) })
	// The server forgets the ids before the events are resent: the
	// Appender searches the log for them first.
	t.Run("past the window", func(t *testing.T) { t.Parallel(); appendAcrossOutage(t, 300*time.Millisecond, 1500*time.Millisecond) })
}

// appendAcrossOutage appends 2,000 events, stopping the server halfway for
// outage, and checks each is stored exactly once.
func appendAcrossOutage(t *testing.T, window, outage time.Duration) {
	ctx := context.Background()
	srv := openRestartable(t)
	l := &store.Log{Conn: srv.dial("t"), Duplicates: window}
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	evs := testEvents(2000, "m")
	a := l.NewAppender()
	a.MaxInFlight = 100
	for _, e := range evs[:1000] {
		if err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	restarted := srv.stopFor(outage) // the server goes away with events in flight
	for _, e := range evs[1000:] {
		if err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustHoldEachOnce(t, l)
	if info.Msgs != 2000 {
		t.Fatalf("after outage: %d events stored, want exactly 2000", info.Msgs)
	}
}

// TestRequestWaitsOutAReconnect: a connection from Dial refuses to buffer
// while it reconnects (for the Appender), so Request asks again once the
// connection is back instead of failing.
func TestRequestWaitsOutAReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := openRestartable(t)
	responder := srv.dial("responder")
	if _, err := responder.Subscribe("test.echo", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	responder.Flush()
	nc := srv.dial("client")
	l := &store.Log{Conn: nc}

	restarted := srv.stopFor(300 * time.Millisecond)
	for deadline := time.Now().Add(5 * time.Second); !nc.IsReconnecting(); {
		if time.Now().After(deadline) {
			t.Fatal("the client did not notice the server going away")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := nc.Publish("test.x", nil); !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Fatalf("publish while reconnecting: %v; want it refused, not buffered", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		out, err := l.Request(rctx, "test.echo", []byte("hello"))
		if err != nil && strings.Contains(err.Error(), "no service answers") && rctx.Err() == nil {
			// Back before the responder's own connection: ask again.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil || string(out) != "hello" {
			t.Fatalf("request across the reconnect: %q, %v", out, err)
		}
		break
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
}

func TestAppendGivesUpWithUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	srv := &embedded.Server{DataDir: dir}
	if err := srv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	nc, err := store.Dial(ctx, srv.ClientURL(), "t")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	l := &store.Log{Conn: nc}
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	a := l.NewAppender()
	a.RetryFor = 300 * time.Millisecond
	err = a.Append(ctx, testEvents(1, "m")[0])
	if err == nil {
		err = a.Flush(ctx)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("append to a dead server: %v, want ErrUnavailable", err)
	}
}

func TestInvalidMachineIsRefused(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	e := testEvents(1, "ok")[0]
	e.Machine = "bad.name"
	err := l.Append(context.Background(), e)
	if err == nil || !strings.Contains(err.Error(), "bad.name") {
		t.Fatalf("append with machine bad.name: %v", err)
	}
}

// TestDataDirOwnedByOneProcess runs a second process that tries to take the
// directory this one holds.
func TestDataDirOwnedByOneProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, err := store.LockDir(dir, "store.test")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockDir$")
	cmd.Env = append(os.Environ(), "INDEXER_TEST_LOCKDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("in use by PID %d (store.test)", os.Getpid()); !strings.Contains(string(out), want) {
		t.Fatalf("second process said %q, want it to contain %q", out, want)
	}
	lock.Close()
	// Once released, another process gets it.
	cmd = exec.Command(os.Args[0], "-test.run=^TestHelperLockDir$")
	cmd.Env = append(os.Environ(), "INDEXER_TEST_LOCKDIR="+dir)
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "LOCKED OK") {
		t.Fatalf("after release the second process said %q", out)
	}
}

func TestHelperLockDir(t *testing.T) {
	dir := os.Getenv("INDEXER_TEST_LOCKDIR")
	if dir == "" {
		return // only runs as the child of TestDataDirOwnedByOneProcess
	}
	l, err := store.LockDir(dir, "child")
	if err != nil {
		fmt.Println("ERR", err, errors.Is(err, store.ErrLocked))
		return
	}
	fmt.Println("LOCKED OK")
	l.Close()
}

func TestDBCheckpointAndLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "index.db")
	db := &store.DB{Path: path}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := db.Update(func(tx *store.Tx) error {
		if c := tx.Checkpoint(); c.Seq != 0 {
			t.Fatalf("new file checkpoint %d", c.Seq)
		}
		if err := tx.Bucket([]byte("files")).Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return tx.SetCheckpoint(store.Checkpoint{Seq: 42, StreamCreated: created, ModelVersion: 3})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) error {
		tx.Bucket([]byte("files")).Put([]byte("k2"), []byte("v2"))
		tx.SetCheckpoint(store.Checkpoint{Seq: 43})
		return errors.New("abort") // rolled back: neither the model nor the checkpoint moves
	}); err == nil {
		t.Fatal("Update returned nil for a failing fn")
	}
	db.View(func(tx *store.Tx) error {
		c := tx.Checkpoint()
		if c.Seq != 42 || !c.StreamCreated.Equal(created) || c.ModelVersion != 3 {
			t.Fatalf("checkpoint %+v", c)
		}
		if tx.Bucket([]byte("files")).Get([]byte("k2")) != nil {
			t.Fatal("rolled-back put is visible")
		}
		if tx.Bucket([]byte("missing")).Len() != 0 {
			t.Fatal("missing bucket not empty")
		}
		return nil
	})
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	// The same file is locked against a second writer in another process;
	// within one process bbolt's flock conflicts too, on a separate open.
	other := &store.DB{Path: path, LockTimeout: 50 * time.Millisecond}
	if err := other.Open(); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	db.Close()
}

// restartable is an embedded server on a fixed port that a test stops and
// opens again on the same data directory, as a restart does.
type restartable struct {
	t    *testing.T
	dir  string
	port int
	srv  *embedded.Server
}

func openRestartable(t *testing.T) *restartable {
	t.Helper()
	r := &restartable{t: t, dir: t.TempDir(), port: freePort(t)}
	r.srv = &embedded.Server{DataDir: r.dir, Port: r.port}
	if err := r.srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.srv.Close() })
	return r
}

// dial connects to the server with store.Dial, reconnecting as a client on
// another machine does.
func (r *restartable) dial(name string) *nats.Conn {
	r.t.Helper()
	nc, err := store.Dial(context.Background(), r.srv.ClientURL(), name)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(nc.Close)
	return nc
}

// stopFor closes the server and, in the background, opens it again after
// outage; the channel gets the error of that Open.
func (r *restartable) stopFor(outage time.Duration) <-chan error {
	r.srv.Close()
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(outage) // the outage, not a wait for a condition
		srv := &embedded.Server{DataDir: r.dir, Port: r.port}
		err := srv.Open(context.Background())
		r.t.Cleanup(func() { srv.Close() })
		restarted <- err
	}()
	return restarted
}

func freePort(t *testing.T) int {
	t.Helper()
	srv := &embedded.Server{DataDir: t.TempDir()}
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := srv.ClientURL()
	srv.Close()
	var port int
	fmt.Sscanf(u[strings.LastIndex(u, ":")+1:], "%d", &port)
	return port
}

// TestCountKeptAndMigrated checks the bucket counts that status reads every
// second: kept by AddCount in the transaction that changes the bucket,
// counted once for a file written before counts were kept, and dropped
// with the bucket.
func TestCountKeptAndMigrated(t *testing.T) {
	t.Parallel()
	db := &store.DB{Path: filepath.Join(t.TempDir(), "index.db")}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := []byte("dead")
	update := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		db.View(func(tx *store.Tx) error { n = tx.Count(name); return nil })
		return n
	}
	// A file from before counts: three keys and no count.
	update(func(tx *store.Tx) error {
		b := tx.Bucket(name)
		for _, k := range []string{"a", "b", "c"} {
			if err := b.Put([]byte(k), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if got := count(); got != 3 {
		t.Fatalf("count of an uncounted bucket = %d, want 3", got)
	}
	// The first write counts it, before its change, and stores the count.
	update(func(tx *store.Tx) error {
		if err := tx.AddCount(name, 1); err != nil {
			return err
		}
		return tx.Bucket(name).Put([]byte("d"), []byte("v"))
	})
	if got := count(); got != 4 {
		t.Fatalf("count after an add = %d, want 4", got)
	}
	// From then on the count is read, not counted: a key put without
	// AddCount is not seen.
	update(func(tx *store.Tx) error { return tx.Bucket(name).Put([]byte("e"), []byte("v")) })
	if got := count(); got != 4 {
		t.Fatalf("count = %d, want the stored 4", got)
	}
	// A rolled-back change leaves the count as it was.
	db.Update(func(tx *store.Tx) error {
		tx.AddCount(name, -1)
		tx.Bucket(name).Delete([]byte("a"))
		return errors.New("abort")
	})
	if got := count(); got != 4 {
		t.Fatalf("count after a rollback = %d, want 4", got)
	}
	// Deleting the bucket drops its count; in a read-write transaction an
	// uncounted bucket is counted with the transaction's own changes.
	update(func(tx *store.Tx) error {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if err := tx.Bucket(name).Put([]byte("x"), []byte("v")); err != nil {
			return err
		}
		if n := tx.Count(name); n != 1 {
			t.Errorf("count in the transaction that refilled the bucket = %d, want 1", n)
		}
		return nil
	})
	if got := count(); got != 1 {
		t.Fatalf("count after the bucket was deleted and refilled = %d, want 1", got)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// The one staleness rule for a file built from the log: a new file goes
// on; another layout, another incarnation of the stream or a log shorter
// than the file does not.
func TestCheckpointStale(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := store.StreamInfo{Created: created, LastSeq: 10}
	for _, tc := range []struct {
		cp   store.Checkpoint
		want string
	}{
		{store.Checkpoint{}, ""},
		{store.Checkpoint{Seq: 10, StreamCreated: created, ModelVersion: 3}, ""},
		{store.Checkpoint{Seq: 4, StreamCreated: created, ModelVersion: 3}, ""},
		{store.Checkpoint{Seq: 4, StreamCreated: created, ModelVersion: 2}, "layout version 2"},
		{store.Checkpoint{Seq: 4, StreamCreated: created.Add(time.Second), ModelVersion: 3}, "the stream was recreated"},
		{store.Checkpoint{Seq: 11, StreamCreated: created, ModelVersion: 3}, "the log was truncated"},
	} {
		got := tc.cp.Stale(info, 3)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v.Stale = %q, want %q", tc.cp, got, tc.want)
		}
	}
	for seq, want := range map[uint64]uint64{0: 10, 4: 6, 10: 0, 12: 0} {
		if got := info.Lag(seq); got != want {
			t.Errorf("Lag(%d) = %d, want %d", seq, got, want)
		}
	}
}

// TestOpenErrorNamesPathOnce: bbolt's error already holds the path; the
// message says it once.
func TestOpenErrorNamesPathOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "x.db")
	err := (&store.DB{Path: path}).Open()
	if err == nil || strings.Count(err.Error(), path) != 1 || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open in a missing directory: %v; want the path once, and ErrNotExist", err)
	}
}
