package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// Seed appends evs to the log of data directory dir, through an in-process
// embedded server that is stopped again, so no process owns dir afterwards.
// It returns the stream's last sequence.
func Seed(tb testing.TB, dir string, evs ...events.Event) uint64 {
	tb.Helper()
	var last uint64
	withLog(tb, dir, func(l *store.Log) {
		if err := l.Append(context.Background(), evs...); err != nil {
			tb.Fatal(err)
		}
		info, err := l.Info(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		last = info.LastSeq
	})
	return last
}

// SeedRaw publishes data as is on subject (store.Log.AppendRaw) into the
// log of data directory dir, as a stranger or a newer scanner would, the
// way Seed does; it returns the sequence it was stored at.
func SeedRaw(tb testing.TB, dir, subject string, data []byte) uint64 {
	tb.Helper()
	var seq uint64
	withLog(tb, dir, func(l *store.Log) {
		var err error
		if seq, err = l.AppendRaw(context.Background(), subject, data); err != nil {
			tb.Fatal(err)
		}
	})
	return seq
}

// ReadAll returns every event in the log of data directory dir, which no
// process may own. A record that does not decode fails the test.
func ReadAll(tb testing.TB, dir string) []events.Event {
	tb.Helper()
	var out []events.Event
	withLog(tb, dir, func(l *store.Log) {
		if _, err := l.Replay(context.Background(), 1, "", func(r store.Record) error {
			e, err := events.Decode(r.Data)
			if err != nil {
				return fmt.Errorf("seq %d: %w", r.Seq, err)
			}
			out = append(out, e)
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
	})
	return out
}

// withLog runs fn on the log of dir through a short-lived in-process server.
func withLog(tb testing.TB, dir string, fn func(*store.Log)) {
	tb.Helper()
	srv := &embedded.Server{DataDir: dir, InProcess: true}
	if err := srv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	defer srv.Close()
	nc, err := srv.Connect("storetest")
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	l := &store.Log{Conn: nc}
	if err := l.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	fn(l)
}
