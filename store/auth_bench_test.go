package store_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// BenchmarkLogSecure appends the events of BenchmarkLog to two fresh
// logs side by side: over plain loopback to a server without
// authentication, as before credentials existed, and over TLS with a
// scanner's credential, as a scanner on another machine appends. Both
// clients connect with Dial over the loopback socket, so only the
// authentication and TLS differ. They take turns, 50,000 events at a time,
// each going first every other turn, so a busy machine slows both alike. It reports both rates and their
// ratio (goal >= 0.9), and the CPU time per event of each:
//
//	go test ./store -run '^$' -bench LogSecure -benchtime 1x -count 3
func BenchmarkLogSecure(b *testing.B) {
	n := benchEvents()
	const turn = 50_000
	for b.Loop() {
		plain, secure := openAppendLog(b, false), openAppendLog(b, true)
		ctx := context.Background()
		scan, now := events.NewID(), time.Now()
		var took, cpu [2]time.Duration
		for from := 0; from < n; from += turn {
			order := []int{0, 1}
			if from/turn%2 == 1 {
				order = []int{1, 0} // neither always goes first
			}
			for _, i := range order {
				l := []*store.Log{plain, secure}[i]
				a := l.NewAppender()
				start, cpu0 := time.Now(), cpuTime()
				for j := from; j < min(from+turn, n); j++ {
					if err := a.Append(ctx, realisticEvent(scan, now, j)); err != nil {
						b.Fatal(err)
					}
				}
				if err := a.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				took[i] += time.Since(start)
				cpu[i] += cpuTime() - cpu0
			}
		}
		plainRate, secureRate := float64(n)/took[0].Seconds(), float64(n)/took[1].Seconds()
		b.ReportMetric(plainRate, "plain-append-events/s")
		b.ReportMetric(secureRate, "tls-scanner-append-events/s")
		b.ReportMetric(secureRate/plainRate, "ratio")
		// CPU time (client and server, both in this process) is steadier
		// than wall time on a busy machine.
		b.ReportMetric(float64(cpu[0].Microseconds())/float64(n), "plain-cpu-us/event")
		b.ReportMetric(float64(cpu[1].Microseconds())/float64(n), "tls-scanner-cpu-us/event")
	}
}

// openAppendLog opens a fresh embedded log and returns it opened by a
// client of its own: a scanner of machine nas1 over TLS when secure,
// anonymous over plain loopback otherwise.
func openAppendLog(b *testing.B, secure bool) *store.Log {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	srv := &embedded.Server{DataDir: dir}
	auth := store.ClientAuth{}
	if secure {
		k, err := store.OpenKeyring(dir)
		if err != nil {
			b.Fatal(err)
		}
		_, cred := storetest.Issue(b, k, store.RoleScanner, "nas1")
		ca, cert, key := storetest.TLSFiles(b)
		srv.Keyring, srv.TLSCert, srv.TLSKey = k, cert, key
		auth = store.ClientAuth{Credential: cred, CAFile: ca}
	}
	if err := srv.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	storetest.MustOpenLog(b, srv) // the owner provisions the stream
	nc, err := store.DialAs(ctx, srv.ClientURL(), "bench", auth)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	l := &store.Log{Conn: nc}
	if err := l.Open(ctx); err != nil {
		b.Fatal(err)
	}
	return l
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
