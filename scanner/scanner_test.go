package scanner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/scanstate"
	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// harness scans trees through the real parts: the embedded log, and the
// machine's scan state projected from it.
type harness struct {
	t     *testing.T
	log   *store.Log
	state *scanstate.State
	opts  func(*scanner.Scanner)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	l := storetest.MustOpenLog(t, storetest.MustOpenServer(t, dir, true))
	st, err := scanstate.Open(filepath.Join(dir, "state.db"), "m1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &harness{t: t, log: l, state: st}
}

// scan runs one scan of root and returns its result and the events it
// stored, read back from the log.
func (h *harness) scan(ctx context.Context, root string) (scanner.Result, []events.Event, error) {
	h.t.Helper()
	if _, err := h.state.CatchUp(ctx, h.log, nil); err != nil {
		h.t.Fatal(err)
	}
	info, err := h.log.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	s := &scanner.Scanner{Machine: "m1", State: h.state, Sink: h.log.NewAppender()}
	if h.opts != nil {
		h.opts(s)
	}
	res, scanErr := s.Scan(ctx, root)
	var evs []events.Event
	if _, err := h.log.Replay(context.Background(), info.LastSeq+1, "", func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return err
		}
		evs = append(evs, e)
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return res, evs, scanErr
}

func (h *harness) mustScan(root string) (scanner.Result, []events.Event) {
	h.t.Helper()
	res, evs, err := h.scan(context.Background(), root)
	if err != nil {
		h.t.Fatalf("scan %s: %v", root, err)
	}
	if len(evs) < 2 || evs[0].Type != events.TypeScanStarted || evs[len(evs)-1].Type != events.TypeScanCompleted {
		h.t.Fatalf("scan is not framed by ScanStarted and ScanCompleted: %v", types(evs))
	}
	if !evs[len(evs)-1].Data.(*events.ScanCompleted).Complete {
		h.t.Fatalf("ScanCompleted says incomplete")
	}
	return res, evs[1 : len(evs)-1]
}

func types(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type))
	}
	return out
}

// summary renders file events as sorted "Type path" lines (paths relative
// to root), a compact form for table tests.
func summary(root string, evs []events.Event) []string {
	var out []string
	rel := func(p events.Path) string { return strings.TrimPrefix(string(p), root+"/") }
	for _, e := range evs {
		switch d := e.Data.(type) {
		case *events.FileScanned:
			out = append(out, "FileScanned "+rel(d.Path))
		case *events.FileChanged:
			out = append(out, fmt.Sprintf("FileChanged %s %s", rel(d.Path), d.Reason))
		case *events.FileMoved:
			out = append(out, fmt.Sprintf("FileMoved %s -> %s", rel(d.From), rel(d.Path)))
		case *events.FileDeleted:
			out = append(out, "FileDeleted "+rel(d.Path))
		case *events.FileUnreadable:
			out = append(out, "FileUnreadable "+rel(d.Path))
		}
	}
	sort.Strings(out)
	return out
}

// writeTree creates files from a map of relative path to content.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanTable(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"a.txt":         "alpha",
		"dir/b.txt":     "bravo",
		"dir/sub/c.txt": "charlie",
		"dir/sub/d.txt": "delta",
		"gone/e.txt":    "echo",
		"gone/f/g.txt":  "golf",
		"keep.txt":      "keep",
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, root string)
		want   []string
		read   int64 // files the rescan reads
	}{
		{"unchanged", func(*testing.T, string) {}, nil, 0},
		{"content", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"a.txt": "alpha, longer now"})
		}, []string{"FileChanged a.txt content"}, 1},
		{"touch only", func(t *testing.T, root string) {
			future := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(root, "a.txt"), future, future)
		}, []string{"FileChanged a.txt metadata"}, 1},
		{"chmod", func(t *testing.T, root string) {
			os.Chmod(filepath.Join(root, "a.txt"), 0o600)
		}, []string{"FileChanged a.txt metadata"}, 1},
		{"added", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"dir/new.txt": "new", "newdir/x/y.txt": "y"})
		}, []string{"FileScanned dir/new.txt", "FileScanned newdir/x/y.txt"}, 2},
		{"deleted file", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "dir/b.txt"))
		}, []string{"FileDeleted dir/b.txt"}, 0},
		{"deleted tree", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "gone"))
		}, []string{"FileDeleted gone/e.txt", "FileDeleted gone/f/g.txt"}, 0},
		{"renamed in dir", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "a.txt"), filepath.Join(root, "a2.txt"))
		}, []string{"FileMoved a.txt -> a2.txt"}, 0},
		{"moved across dirs", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "dir/sub/c.txt"), filepath.Join(root, "c.txt"))
		}, []string{"FileMoved dir/sub/c.txt -> c.txt"}, 0},
		{"moved dir", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "dir/sub"), filepath.Join(root, "sub2"))
		}, []string{"FileMoved dir/sub/c.txt -> sub2/c.txt", "FileMoved dir/sub/d.txt -> sub2/d.txt"}, 0},
		{"file became dir", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "keep.txt"))
			writeTree(t, root, map[string]string{"keep.txt/inner": "i"})
		}, []string{"FileDeleted keep.txt", "FileScanned keep.txt/inner"}, 1},
		{"file became fifo", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "keep.txt"))
			syscall.Mkfifo(filepath.Join(root, "keep.txt"), 0o644)
		}, []string{"FileDeleted keep.txt"}, 0},
		{"excluded dir leaves the view", func(t *testing.T, root string) {
			// (An unreadable directory keeps its files: that runs as
			// another user in cmd/indexer-scan, TestUnreadableAsAnotherUser.)
			writeTree(t, root, map[string]string{scanner.IgnoreFile: "gone/\n"})
		}, []string{"FileDeleted gone/e.txt", "FileDeleted gone/f/g.txt", "FileScanned " + scanner.IgnoreFile}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			root := t.TempDir()
			writeTree(t, root, base)
			_, evs := h.mustScan(root)
			if got := len(evs); got != len(base) {
				t.Fatalf("first scan: %d events, want %d: %v", got, len(base), summary(root, evs))
			}
			tc.change(t, root)
			res, evs := h.mustScan(root)
			if got := summary(root, evs); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("rescan events:\n got %q\nwant %q", got, tc.want)
			}
			if res.Counts.Read != tc.read {
				t.Fatalf("rescan read %d files, want %d", res.Counts.Read, tc.read)
			}
			// And once more: the state now matches the tree.
			if _, evs := h.mustScan(root); len(evs) != 0 {
				t.Fatalf("third scan: %v", summary(root, evs))
			}
		})
	}
}

func TestDeletedFileCarriesLastHash(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"x": "content of x"})
	h.mustScan(root)
	os.Remove(filepath.Join(root, "x"))
	_, evs := h.mustScan(root)
	sum := sha256.Sum256([]byte("content of x"))
	if d, ok := evs[0].Data.(*events.FileDeleted); !ok || d.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %#v", evs[0].Data)
	}
	_ = errors.New
}
