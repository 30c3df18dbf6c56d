package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
		var m map[string]int
		m["x"] = 1 // a nil map: a runtime panic
		return nil, nil
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
