package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// MustOpenServer starts an in-process embedded server in a temp dir.
func MustOpenServer(tb testing.TB) *embedded.Server { return storetest.MustOpenServer(tb, "", true) }

// MustOpenLog opens the log on srv through a new connection.
var MustOpenLog = storetest.MustOpenLog

// MustOpenProjector opens a projector on log writing a new index in a temp
// dir; at cleanup it is closed and the file's consistency checked.
func MustOpenProjector(tb testing.TB, log *store.Log, path string) *Projector {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "index.db")
	}
	p := &Projector{Log: log, Path: path, Logger: testLogger(tb)}
	if err := p.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.mu.RLock()
		if p.db != nil {
			if err := p.db.Check(); err != nil {
				tb.Errorf("index check: %v", err)
			}
		}
		p.mu.RUnlock()
		p.Close()
	})
	return p
}

// MustOpenDB opens an index file read-write, checked and closed at cleanup.
func MustOpenDB(tb testing.TB, path string) *store.DB {
	tb.Helper()
	db := &store.DB{Path: path}
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Check(); err != nil {
			tb.Errorf("index check: %v", err)
		}
		db.Close()
	})
	return db
}

// logBuffer collects log lines of a test's projector.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ tb testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// gen makes events with deterministic ids and times, so golden dumps are
// stable.
type gen struct {
	machine string
	scan    ulid.ULID
	n       uint64
	scanNo  uint64
	t0      time.Time
}

func newGen(machine string, scanNo uint64) *gen {
	g := &gen{machine: machine, scanNo: scanNo, t0: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(scanNo) * time.Hour)}
	g.scan = detID(1000*scanNo, machine)
	return g
}

func detID(n uint64, salt string) ulid.ULID {
	var id ulid.ULID
	_ = id.SetTime(uint64(1767322800000) + n)
	copy(id[6:], salt)
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

func (g *gen) ev(data events.Payload) events.Event {
	g.n++
	e := events.New(g.machine, g.scan, g.t0.Add(time.Duration(g.n)*time.Second), data)
	e.ID = detID(g.n+1_000_000*g.scanNo, g.machine)
	return e
}

func file(path string, size int64, sha byte, ino uint64) events.File {
	f := events.File{
		Path: events.Path(path), Size: size, Mode: 0o644, MTime: 1_700_000_000_000_000_000 + size, CTime: 1_700_000_000_000_000_000,
		Inode: ino, Device: 2049, Nlink: 1, UID: 1000, GID: 1000,
	}
	if sha != 0 {
		f.Hashes = events.Hashes{
			MD5:    fmt.Sprintf("%032x", sha),
			SHA1:   fmt.Sprintf("%040x", sha),
			SHA256: fmt.Sprintf("%064x", sha),
		}
	}
	return f
}

// appendAll stores evs and returns the log's last sequence.
func appendAll(tb testing.TB, log *store.Log, evs ...events.Event) uint64 {
	tb.Helper()
	ctx := context.Background()
	if err := log.Append(ctx, evs...); err != nil {
		tb.Fatal(err)
	}
	info, err := log.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return info.LastSeq
}

func appendRaw(tb testing.TB, log *store.Log, subject, data string) uint64 {
	tb.Helper()
	seq, err := log.AppendRaw(context.Background(), subject, []byte(data))
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// runProjector runs p in the background until the test ends; the returned
// function waits for Run to return and gives its error.
func runProjector(tb testing.TB, p *Projector) func() error {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	var err error
	go func() {
		err = p.Run(ctx)
		close(finished)
	}()
	tb.Cleanup(func() {
		cancel()
		<-finished
	})
	return func() error {
		<-finished
		return err
	}
}

// waitFor waits until p has applied seq. It fails when p makes no progress
// for a minute (a hang), not when a loaded machine makes it slow: the race
// detector's runs at a load of 40 took over a minute for 10,000 events.
func waitFor(tb testing.TB, p *Projector, seq uint64) {
	tb.Helper()
	for {
		at := p.Checkpoint()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := p.WaitFor(ctx, seq)
		cancel()
		if err == nil {
			return
		}
		if p.Checkpoint() == at {
			tb.Fatalf("%v (no progress from seq %d in a minute)", err, at)
		}
	}
}

func dump(tb testing.TB, ix *Index) string {
	tb.Helper()
	var b bytes.Buffer
	if err := ix.Dump(&b); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// builtIndex builds an index of log in a temp dir and opens it, closed at
// cleanup.
func builtIndex(t *testing.T, log *store.Log) *Index {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	if _, err := Build(context.Background(), log, path, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewIndex(db)
}
