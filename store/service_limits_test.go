package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/store"
)

// TestServiceHandlerPanicIsAnError: a handler that panics (as one reading
// a damaged index did) answers 500 and the process serves on; without the
// recover the panic killed the process and the NATS server in it.
func TestServiceHandlerPanicIsAnError(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	mustStartService(t, l, nil, "panic", func(_ context.Context, body []byte) ([]byte, error) {
		if string(body) == "ok" {
			return []byte("fine"), nil
		}
		var names []string
		return []byte(names[len(body)]), nil // out of range: a runtime panic
	})
	_, err := l.Request(context.Background(), "test.panic", nil)
	var se *store.ServiceError
	if !errors.As(err, &se) || se.Code != 500 || !strings.Contains(se.Message, "panic") {
		t.Fatalf("request to a panicking handler = %v, want a 500 naming the panic", err)
	}
	out, err := l.Request(context.Background(), "test.panic", []byte("ok"))
	if err != nil || string(out) != "fine" {
		t.Fatalf("request after the panic = %q, %v", out, err)
	}
}

// TestRequestPartsNotBoundByATotal: a reply whose parts keep coming is
// received whole however long it takes in all; only a gap longer than the
// timeout between two parts ends it. A find of 300,000 files through a
// running projector failed at 10 s with "45 of 126 parts arrived".
func TestRequestPartsNotBoundByATotal(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	l.RequestTimeout = 2 * time.Second
	const parts = 12
	// Parts 250 ms apart: 3 s in all, more than the timeout; a gap of 2 s
	// takes a very loaded machine.
	sub, err := l.Conn.Subscribe("test.slow", func(req *nats.Msg) {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 1; i <= parts; i++ {
			<-tick.C
			req.RespondMsg(part(fmt.Sprintf("%d/%d", i, parts), strconv.Itoa(i)))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	l.Conn.Flush()
	out, err := l.Request(context.Background(), "test.slow", nil)
	if err != nil || string(out) != "123456789101112" {
		t.Fatalf("slow reply in parts = %q, %v; want all %d parts", out, err, parts)
	}
	// A gap longer than the timeout ends it.
	l.RequestTimeout = 200 * time.Millisecond
	gap, err := l.Conn.Subscribe("test.gap", func(req *nats.Msg) {
		req.RespondMsg(part("1/2", "a"))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gap.Unsubscribe()
	l.Conn.Flush()
	if _, err := l.Request(context.Background(), "test.gap", nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a reply whose second part never comes = %v, want ErrUnavailable", err)
	}
}

// TestServiceHandlerGetsTheAskersDeadline: the handler's context ends when
// the asker stops waiting, so the work nobody waits for stops.
func TestServiceHandlerGetsTheAskersDeadline(t *testing.T) {
	t.Parallel()
	l := MustOpenLog(t, MustOpenServer(t, "", true))
	got := make(chan time.Duration, 1)
	mustStartService(t, l, nil, "deadline", func(ctx context.Context, _ []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		if !ok {
			got <- -1
		} else {
			got <- time.Until(d)
		}
		return []byte("ok"), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := l.Request(ctx, "test.deadline", nil); err != nil {
		t.Fatal(err)
	}
	if d := <-got; d <= 0 || d > 3*time.Second {
		t.Fatalf("handler's deadline in %s, want within the asker's 3 s", d)
	}
}
