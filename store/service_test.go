package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/store"
)

// varied returns n bytes that repeat nowhere, so a part lost, doubled or
// out of place changes the result.
func varied(n int, seed uint64) []byte {
	var s [32]byte
	s[0] = byte(seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// mustStartService starts a service with one endpoint, test.<name>, stopped
// at cleanup.
func mustStartService(t *testing.T, l *store.Log, logger *slog.Logger, name string, h func(context.Context, []byte) ([]byte, error)) {
	t.Helper()
	svc, err := l.StartService(store.ServiceConfig{
		Name: "test", Version: "1.0.0", Logger: logger,
		Endpoints: []store.ServiceEndpoint{{Name: name, Subject: "test." + name, Handler: h}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
}

// firstMessage asks subject with nats.go's own Request, which keeps only
// the first message of a reply: what a client that knows nothing of parts
// (the NATS CLI) receives.
func firstMessage(t *testing.T, nc *nats.Conn, subject string, body []byte) *nats.Msg {
	t.Helper()
	m, err := nc.Request(subject, body, 10*time.Second)
	if err != nil {
		t.Fatalf("nats.go request %s: %v", subject, err)
	}
	return m
}

// TestRequestLargeReplyInParts: a reply several times the max payload
// arrives whole and byte-identical, over the socket and in-process.
func TestRequestLargeReplyInParts(t *testing.T) {
	t.Parallel()
	for _, inProcess := range []bool{false, true} {
		t.Run(fmt.Sprintf("in-process=%v", inProcess), func(t *testing.T) {
			t.Parallel()
			l := MustOpenLog(t, MustOpenServer(t, "", inProcess))
			if got := l.Conn.MaxPayload(); got != 1<<20 {
				t.Fatalf("max payload %d, want 1 MiB (the test's sizes assume it)", got)
			}
			want := varied(3<<20+1<<19, 1) // 3.5 MiB
			mustStartService(t, l, nil, "big", func(context.Context, []byte) ([]byte, error) { return want, nil })
			got, err := l.Request(context.Background(), "test.big", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("reply of %d bytes differs from the %d bytes sent", len(got), len(want))
			}
			if m := firstMessage(t, l.Conn, "test.big", nil); m.Header.Get(store.PartHeader) != "1/4" {
				t.Fatalf("first message: %s %q, want 1/4", store.PartHeader, m.Header.Get(store.PartHeader))
			}
		})
	}
}

// TestRequestReplySizesAroundMaxPayload: one message up to the max payload,
// parts above it, and every size arrives as sent.
func TestRequestReplySizesAroundMaxPayload(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	limit := int(l.Conn.MaxPayload())
	mustStartService(t, l, nil, "sized", func(_ context.Context, body []byte) ([]byte, error) {
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, &store.ServiceError{Code: 400, Message: err.Error()}
		}
		return varied(n, uint64(n)), nil
	})
	for _, tc := range []struct {
		size  int
		parts string // PartHeader of the first message; "" for a single message
	}{
		{0, ""}, {1, ""}, {limit - 100, ""}, {limit - 1, ""}, {limit, ""},
		{limit + 1, "1/2"}, {limit + 100, "1/2"}, {2 * limit, "1/3"}, {3*limit + 7, "1/4"},
	} {
		body := []byte(strconv.Itoa(tc.size))
		got, err := l.Request(context.Background(), "test.sized", body)
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.size, err)
		}
		if want := varied(tc.size, uint64(tc.size)); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: got %d bytes that differ", tc.size, len(got))
		}
		m := firstMessage(t, l.Conn, "test.sized", body)
		if got := m.Header.Get(store.PartHeader); got != tc.parts {
			t.Fatalf("%d bytes: first message's %s %q, want %q", tc.size, store.PartHeader, got, tc.parts)
		}
		if tc.parts == "" && len(m.Header) != 0 {
			t.Fatalf("%d bytes: a single message has headers %v, want none", tc.size, m.Header)
		}
	}
}

// TestRequestErrors: service errors keep their code, whatever the size of
// the reply would have been; nobody listening is ErrUnavailable.
func TestRequestErrors(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	ctx := context.Background()
	mustStartService(t, l, nil, "fail", func(_ context.Context, body []byte) ([]byte, error) {
		switch string(body) {
		case "404":
			return varied(3<<20, 2), &store.ServiceError{Code: 404, Message: "no such file"}
		case "400":
			return nil, &store.ServiceError{Code: 400, Message: "bad request"}
		}
		return nil, errors.New("disk on fire")
	})
	for _, tc := range []struct {
		body    string
		code    int
		message string
	}{
		{"404", 404, "no such file"}, {"400", 400, "bad request"}, {"", 500, "disk on fire"},
	} {
		out, err := l.Request(ctx, "test.fail", []byte(tc.body))
		var se *store.ServiceError
		if !errors.As(err, &se) || se.Code != tc.code || se.Message != tc.message || out != nil {
			t.Fatalf("request %q: %q, %v; want service error %d %q", tc.body, out, err, tc.code, tc.message)
		}
	}
	if _, err := l.Request(ctx, "test.fail", []byte("404")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a 404 is %v, want ErrNotFound", err)
	}
	_, err := l.Request(ctx, "test.nobody", nil)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "no service answers") {
		t.Fatalf("request with no responders: %v, want ErrUnavailable", err)
	}
}

// respondWith answers every request on subject with msgs, as a service
// whose reply breaks off would.
func respondWith(t *testing.T, nc *nats.Conn, subject string, msgs ...*nats.Msg) {
	t.Helper()
	sub, err := nc.Subscribe(subject, func(req *nats.Msg) {
		for _, m := range msgs {
			req.RespondMsg(m)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
}

func part(p string, data string) *nats.Msg {
	return &nats.Msg{Header: nats.Header{store.PartHeader: []string{p}}, Data: []byte(data)}
}

// TestRequestBrokenReply: a reply whose parts do not all arrive, or arrive
// out of order, is an error that says so, never a short body.
func TestRequestBrokenReply(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	respondWith(t, l.Conn, "test.short", part("1/3", "a"), part("2/3", "b"))
	respondWith(t, l.Conn, "test.disorder", part("1/3", "a"), part("3/3", "c"), part("2/3", "b"))
	respondWith(t, l.Conn, "test.garbled", part("1/x", "a"))
	respondWith(t, l.Conn, "test.aborted", part("1/3", "a"),
		&nats.Msg{Header: nats.Header{"Nats-Service-Error": {"part 2 not sent"}, "Nats-Service-Error-Code": {"500"}}})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out, err := l.Request(ctx, "test.short", nil)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "2 of 3 parts") || out != nil {
		t.Fatalf("a reply missing its last part: %q, %v; want ErrUnavailable naming 2 of 3 parts", out, err)
	}
	out, err = l.Request(context.Background(), "test.disorder", nil)
	if err == nil || !strings.Contains(err.Error(), "out of order") || out != nil {
		t.Fatalf("parts out of order: %q, %v", out, err)
	}
	out, err = l.Request(context.Background(), "test.garbled", nil)
	if err == nil || !strings.Contains(err.Error(), store.PartHeader) || out != nil {
		t.Fatalf("a garbled part header: %q, %v", out, err)
	}
	out, err = l.Request(context.Background(), "test.aborted", nil)
	var se *store.ServiceError
	if !errors.As(err, &se) || se.Code != 500 || out != nil {
		t.Fatalf("a reply ended by an error: %q, %v; want a service error", out, err)
	}
}

// lineWriter hands each line a logger writes to a channel.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

// TestServiceLogsAReplyNotSent: a reply the service cannot send is logged,
// not dropped in silence.
func TestServiceLogsAReplyNotSent(t *testing.T) {
	t.Parallel()
	srv := MustOpenServer(t, "", true)
	l := MustOpenLog(t, srv)
	svcConn, err := srv.Connect("service")
	if err != nil {
		t.Fatal(err)
	}
	defer svcConn.Close()
	logged := make(lineWriter, 10)
	handled := make(chan struct{})
	mustStartService(t, &store.Log{Conn: svcConn}, slog.New(slog.NewTextHandler(logged, nil)), "gone",
		func(context.Context, []byte) ([]byte, error) {
			close(handled)
			svcConn.Close() // the connection breaks before the reply is sent
			return varied(2<<20, 3), nil
		})
	if err := svcConn.Flush(); err != nil { // the server knows the endpoint before the request
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := l.Request(ctx, "test.gone", nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("request to a service that lost its connection: %v, want ErrUnavailable", err)
	}
	select {
	case <-handled:
	default:
		t.Fatal("the request never reached the service")
	}
	select {
	case line := <-logged:
		for _, want := range []string{"reply not sent", "endpoint=gone", "bytes=2097152", "connection closed"} {
			if !strings.Contains(line, want) {
				t.Fatalf("the service logged %q, want it to hold %q", line, want)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the service logged nothing about the reply it could not send")
	}
}

// TestRequestEndsWhenItsAnswerCannotCome: a request whose service stops
// while it works gets a 503 (ErrUnavailable: ask whoever takes over), and
// one whose connection is lost before the reply (its server shut down)
// ends at once with ErrUnavailable, not after the 10 s the reply would be
// waited for: NATS keeps nothing for a subscriber that is away.
func TestRequestEndsWhenItsAnswerCannotCome(t *testing.T) {
	t.Parallel()
	srv := MustOpenServer(t, "", false)
	l := MustOpenLog(t, srv)
	working := make(chan struct{}, 1)
	svc, err := l.StartService(store.ServiceConfig{
		Name: "test", Version: "1.0.0",
		Endpoints: []store.ServiceEndpoint{{Name: "slow", Subject: "test.slow", Handler: func(ctx context.Context, _ []byte) ([]byte, error) {
			working <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-working; svc.Stop() }()
	if _, err := l.Request(context.Background(), "test.slow", nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("request to a service that stopped while working: %v, want ErrUnavailable", err)
	}

	// Another connection serves; the asker's server goes away.
	mustStartService(t, MustOpenLog(t, srv), nil, "hang", func(ctx context.Context, _ []byte) ([]byte, error) {
		working <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	nc, err := store.Dial(context.Background(), srv.ClientURL(), "asker", nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	asker := &store.Log{Conn: nc}
	closed := make(chan struct{})
	go func() { <-working; srv.Close(); close(closed) }()
	start := time.Now()
	_, err = asker.Request(context.Background(), "test.hang", nil)
	<-closed // before the cleanup closes it again
	if took := time.Since(start); !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrClosed) || took > 3*time.Second {
		t.Fatalf("request whose server went away: %v after %s, want ErrUnavailable at once", err, took.Round(time.Millisecond))
	}
}
