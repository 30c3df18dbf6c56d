package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// BenchmarkLogSecure appends the events of BenchmarkLog twice in each
// run, side by side: over plain loopback to a server without
// authentication, as before credentials existed, and over TLS with a
// scanner's credential, as a scanner on another machine appends. Both
// clients connect with Dial over the loopback socket, so only the
// authentication and TLS differ. It reports both rates and their ratio
// (goal >= 0.9):
//
//	go test ./store -run '^$' -bench LogSecure -benchtime 1x -count 3
func BenchmarkLogSecure(b *testing.B) {
	n := benchEvents()
	for b.Loop() {
		plain := secureAppendRate(b, n, false)
		secure := secureAppendRate(b, n, true)
		b.ReportMetric(plain, "plain-append-events/s")
		b.ReportMetric(secure, "tls-scanner-append-events/s")
		b.ReportMetric(secure/plain, "ratio")
	}
}

// secureAppendRate appends n events to a fresh embedded log, as a scanner
// of machine nas1 with TLS when secure, and returns events/s.
func secureAppendRate(b *testing.B, n int, secure bool) float64 {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	srv := &store.Server{DataDir: dir}
	auth := store.ClientAuth{}
	if secure {
		k, err := store.OpenKeyring(dir)
		if err != nil {
			b.Fatal(err)
		}
		cred, err := k.Add(store.RoleScanner, "nas1")
		if err != nil {
			b.Fatal(err)
		}
		ca, cert, key := storetest.TLSFiles(b)
		srv.Keyring, srv.TLSCert, srv.TLSKey = k, cert, key
		auth = store.ClientAuth{Credential: cred, CAFile: ca}
	}
	if err := srv.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	storetest.MustOpenLog(b, srv) // the owner provisions the stream
	nc, err := store.DialAs(ctx, srv.ClientURL(), "bench", auth)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	l := &store.Log{Conn: nc}
	if err := l.Open(ctx); err != nil {
		b.Fatal(err)
	}
	scan, now := events.NewID(), time.Now()
	a := l.NewAppender()
	start := time.Now()
	for i := range n {
		if err := a.Append(ctx, realisticEvent(scan, now, i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}
