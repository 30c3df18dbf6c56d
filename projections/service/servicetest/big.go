package servicetest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// words make the synthetic names, so substring searches have realistic
// hit counts: each word is in about 1/len(words) of the names.
var words = []string{
	"report", "invoice", "holiday", "photo", "budget", "draft", "scan", "letter",
	"contract", "notes", "backup", "summary", "meeting", "design", "receipt", "thesis",
	"album", "track", "video", "slides", "export", "config", "readme", "archive",
}

var exts = []string{"pdf", "jpg", "txt", "mp3", "docx", "png", "mkv", "csv", "go", "md"}

// GenFile returns the i-th file of the synthetic scan of machine: paths in
// walk order (100 files a directory, 100 directories a parent), varied
// names, sizes from 1 KiB to about 64 MiB, and every 20th file a copy of an
// earlier file's content (about 5% duplicates).
func GenFile(machine string, i int) events.File {
	d1, d2 := i/10000, i/100%100
	w := words[(i*7)%len(words)]
	w2 := words[(i*13+5)%len(words)]
	name := fmt.Sprintf("%s-%s-%07d.%s", w, w2, i, exts[i%len(exts)])
	content := i
	if i%20 == 19 {
		content = (i * 7919) % (i + 1) / 2 // an earlier file
	}
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(content))
	h := Hashes(machine + hex.EncodeToString(seed[:]))
	size := int64(1024 + (content*2654435761)%(64<<20))
	return events.File{
		Path: events.Path(fmt.Sprintf("/data/%s/set-%03d/dir-%02d/%s", machine, d1, d2, name)),
		Size: size, Mode: 0o644, MTime: 1_700_000_000_000_000_000 + int64(i), CTime: 1_700_000_000_000_000_000,
		Inode: uint64(i + 1), Device: 2049, Nlink: 1, UID: 1000, GID: 1000, Hashes: h,
	}
}

// Generate calls fn with the events of a scan of n files on machine:
// ScanStarted, n FileScanned, ScanCompleted.
func Generate(machine string, n int, fn func(events.Event) error) error {
	t := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	scan := events.NewID()
	if err := fn(events.New(machine, scan, t, &events.ScanStarted{Root: "/data/" + events.Path(machine)})); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		f := GenFile(machine, i)
		if err := fn(events.New(machine, scan, t.Add(time.Duration(i)*time.Microsecond), &events.FileScanned{File: f})); err != nil {
			return err
		}
	}
	return fn(events.New(machine, scan, t.Add(time.Hour), &events.ScanCompleted{
		Root: "/data/" + events.Path(machine), Complete: true, Counts: events.ScanCounts{Seen: int64(n), Read: int64(n), Added: int64(n)},
	}))
}

// Big is the machine name of Build's synthetic files.
const Big = "big"

// Build returns a data directory whose log holds a scan of n synthetic
// files (Generate, machine Big) and whose index.db is built from it. The
// directory is kept in the system's temp dir and reused by later runs, since
// a million files take about a minute to publish and project. Treat it as
// read-only: copy it to change it.
func Build(tb testing.TB, n int) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("indexer-servicetest-%d-m%d", n, projections.ModelVersion))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	ctx := context.Background()
	start := time.Now()
	srv := &embedded.Server{DataDir: dir, InProcess: true}
	if err := srv.Open(ctx); err != nil {
		tb.Fatal(err)
	}
	defer srv.Close()
	nc, err := srv.Connect("servicetest-build")
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc}
	if err := log.Open(ctx); err != nil {
		tb.Fatal(err)
	}
	a := log.NewAppender()
	err = Generate(Big, n, func(e events.Event) error { return a.Append(ctx, e) })
	if err == nil {
		err = a.Flush(ctx)
	}
	if err != nil {
		tb.Fatalf("publish %d events: %v", n, err)
	}
	published := time.Since(start)
	if _, err := projections.Build(ctx, log, store.Dir(dir).IndexPath(), projections.BuildOptions{}); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("built %s: %d files, published in %s, indexed in %s", dir, n, published.Round(time.Millisecond), (time.Since(start) - published).Round(time.Millisecond))
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// OpenIndex opens dir's index.db read-only, closed at cleanup.
func OpenIndex(tb testing.TB, dir string) *projections.Index {
	tb.Helper()
	db := &store.DB{Path: store.Dir(dir).IndexPath(), ReadOnly: true}
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return projections.NewIndex(db)
}
