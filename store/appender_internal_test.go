package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/events"
)

// openTestLog opens a Log with the deduplication window dup (0: the
// default) on an in-process NATS server of its own. (This package's own
// tests cannot use package embedded, which imports it: the server is
// started here as embedded.Server does, without credentials.)
func openTestLog(t *testing.T, dup time.Duration) *Log {
	t.Helper()
	ns, err := server.NewServer(&server.Options{ServerName: "test", DontListen: true, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: Dir(t.TempDir()).JetStreamPath()})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := ConnectLocal("", "test", ClientAuth{}, nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &Log{Conn: nc, Duplicates: dup}
	if err := l.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLateRetrySearchesTheLog covers what a lost acknowledgement leaves
// behind once the server has forgotten the id: the event is in the log, the
// Appender does not know it. The loss itself cannot be arranged through the
// real server, so the test stores the first copy directly and hands the
// Appender the in-flight entry it would hold, first sent long ago.
func TestLateRetrySearchesTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openTestLog(t, 500*time.Millisecond)
	scan := events.NewID()
	event := func(i int) (events.Event, *nats.Msg) {
		e := events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{
			Path: events.Path(fmt.Sprintf("/f%d", i)), Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", i)},
		}})
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		return e, &nats.Msg{
			Subject: events.Subject(e.Machine, e.Type),
			Header:  nats.Header{jetstream.MsgIDHeader: []string{e.ID.String()}},
			Data:    data,
		}
	}
	// Events 0-2 fill the log before the Appender's first send; event 3's
	// first copy lands, its ack "lost"; event 4 never landed.
	for i := range 3 {
		_, m := event(i)
		if _, err := l.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	lost, lostMsg := event(3)
	if _, err := l.js.PublishMsg(ctx, lostMsg); err != nil {
		t.Fatal(err)
	}
	never, neverMsg := event(4)

	// The premise: the server forgets the ids, and a blind resend is then
	// stored twice. A probe stored after event 3 is resent until that
	// happens; the server forgets in the order it stored.
	_, probeMsg := event(5)
	if _, err := l.js.PublishMsg(ctx, probeMsg); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(l.Duplicates / 2)
		pa, err := l.js.PublishMsg(ctx, probeMsg)
		if err != nil {
			t.Fatal(err)
		}
		if !pa.Duplicate {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a resend %s after the first is still a duplicate with a %s window", 10*time.Second, l.Duplicates)
		}
	}

	a := l.NewAppender()
	seqs := map[string]uint64{}
	a.OnStored = func(seq uint64, e events.Event) { seqs[e.ID.String()] = seq }
	long := time.Now().Add(-10 * time.Second) // within RetryFor, far past the window
	for _, f := range []*inflight{
		{ev: lost, msg: lostMsg, first: long, absent: long, floor: 4},
		{ev: never, msg: neverMsg, first: long, absent: long, floor: 4},
	} {
		f.tries, f.sent = 1, long
		// An ack future that fails, in place of the lost one.
		var err error
		if f.ack, err = l.js.PublishAsync("unanswered", nil); err != nil {
			t.Fatal(err)
		}
		a.pending = append(a.pending, f)
	}
	if err := a.retry(ctx, a.pending[0], jetstream.ErrAsyncPublishTimeout); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if seqs[lost.ID.String()] != 4 || a.Duplicates != 1 {
		t.Fatalf("the stored event: seq %d, duplicates %d; want found at 4, 1 duplicate", seqs[lost.ID.String()], a.Duplicates)
	}
	if seqs[never.ID.String()] != 7 || a.Stored != 1 {
		t.Fatalf("the absent event: seq %d, stored %d; want stored once at 7", seqs[never.ID.String()], a.Stored)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Msgs != 7 {
		t.Fatalf("log holds %d events, want 7 (4 before, the probe twice, the absent one)", info.Msgs)
	}
}

// TestInProcessIsRetriedLater: a clustered stream answers a publish whose
// id another publish is still storing with 409 / 10158 "duplicate message
// id is in process". That is neither stored nor failed: the Appender sends
// it again after a pause, and the resend learns which.
func TestInProcessIsRetriedLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openTestLog(t, 0)
	inProcess := &jetstream.APIError{Code: 409, ErrorCode: errCodeMsgIDInProcess, Description: "duplicate message id is in process"}
	a := l.NewAppender()
	f := &inflight{msg: &nats.Msg{Subject: "idx.m.file.scanned"}, first: time.Now(), tried: time.Now(), tries: 1}
	if err := a.backoff(ctx, f, inProcess); err != nil {
		t.Fatalf("backoff after %v = %v, want another try", inProcess, err)
	}
	if err := a.backoff(ctx, f, &jetstream.APIError{Code: 400, ErrorCode: 10003, Description: "bad request"}); err == nil {
		t.Fatal("backoff after a bad request = nil, want the error")
	}
}
