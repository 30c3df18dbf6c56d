package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store/storetest"
)

// usbEvents are a scan of machine usb: a start, n files, a completion.
func usbEvents(n int) []events.Event {
	scan, now := events.NewID(), time.Now()
	evs := []events.Event{events.New("usb", scan, now, &events.ScanStarted{Root: "/mnt/usb"})}
	for i := range n {
		evs = append(evs, events.New("usb", scan, now, &events.FileScanned{File: events.File{
			Path: events.Path(fmt.Sprintf("/mnt/usb/d%d/f%04d", i%5, i)), Size: int64(i),
			Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", i%50)},
		}}))
	}
	return append(evs, events.New("usb", scan, now, &events.ScanCompleted{Root: "/mnt/usb", Complete: true}))
}

// eachOnce returns how many events dir's log holds, failing t if one is
// stored twice.
func eachOnce(t *testing.T, dir string) map[string]int {
	t.Helper()
	seen, per := map[string]bool{}, map[string]int{}
	for _, e := range storetest.ReadAll(t, dir) {
		if seen[e.ID.String()] {
			t.Fatalf("event %s (%s) stored twice", e.ID, e.Type)
		}
		seen[e.ID.String()] = true
		per[e.Machine]++
	}
	return per
}

func importSum(t *testing.T, args ...string) importSummary {
	t.Helper()
	out := mustRun(t, append([]string{"import", "--json", "--quiet"}, args...)...)
	var s importSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("import --json: %v: %s", err, out)
	}
	return s
}

// TestExportImportOnce: an export carried to another data directory is
// stored there once, whether the import runs twice, is cut off and run
// again, or holds what the target already has; the target's index then
// holds the files.
func TestExportImportOnce(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	usb := usbEvents(300)
	storetest.Seed(t, src, usb...)
	storetest.Seed(t, src, usbEvents(2)[:1]...) // a scan start of another scan
	storetest.SeedRaw(t, src, "idx.usb.file.scanned", []byte("not an event"))
	storetest.Seed(t, dst, events.New("nas", events.NewID(), time.Now(), &events.ScanStarted{Root: "/srv"}))

	file := filepath.Join(t.TempDir(), "usb.jsonl")
	var es exportSummary
	out := mustRun(t, "export", "--data", src, "--machine", "usb", "--out", file, "--json", "--quiet")
	if err := json.Unmarshal([]byte(out), &es); err != nil || es.Events != 303 || es.Invalid != 1 || es.FirstSeq != 1 || es.LastSeq != 304 {
		t.Fatalf("export summary %+v (%v), want 303 events, 1 invalid, seq 1-304", es, err)
	}

	// Cut off after 100 lines: an import interrupted halfway.
	half := filepath.Join(t.TempDir(), "half.jsonl")
	b, _ := os.ReadFile(file)
	ls := strings.SplitAfter(string(b), "\n")
	os.WriteFile(half, []byte(strings.Join(ls[:100], "")), 0o600)
	if s := importSum(t, "--data", dst, half); s.Stored != 100 || s.Already != 0 {
		t.Fatalf("half import: %+v", s)
	}
	s := importSum(t, "--data", dst, file)
	if s.Stored != 203 || s.Already != 100 || s.Invalid != 1 || s.Deduplicated != 0 || !s.Indexed || strings.Join(s.Machines, ",") != "usb" {
		t.Fatalf("import after the half one: %+v, want 203 stored, 100 already there (found in the log, not deduplicated by the server), 1 invalid, indexed", s)
	}
	// Again, from standard input via a file: nothing is sent at all.
	s = importSum(t, "--data", dst, file)
	if s.Stored != 0 || s.Already != 303 || s.Deduplicated != 0 {
		t.Fatalf("second import: %+v, want everything already there", s)
	}
	if per := eachOnce(t, dst); per["usb"] != 303 || per["nas"] != 1 {
		t.Fatalf("target log holds %v, want usb 303, nas 1", per)
	}
	// The target's order is the file's.
	var want []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var l exportLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Event != nil {
			e, _ := events.Decode(l.Event)
			want = append(want, e.ID.String())
		}
	}
	var got []string
	for _, e := range storetest.ReadAll(t, dst) {
		if e.Machine == "usb" {
			got = append(got, e.ID.String())
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the target holds usb's events in another order")
	}
	if out := mustRun(t, "stats", "--data", dst, "--json"); !strings.Contains(out, `"files":300`) {
		t.Fatalf("the target's index after import: %s", out)
	}
}

func TestExportImportUsage(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	storetest.Seed(t, src, usbEvents(1)...)
	for _, args := range [][]string{
		{"import", "--data", src},
		{"import", "--data", src, filepath.Join(src, "missing.jsonl")},
		{"export", "--data", src, "--json"},
		{"export", "--data", src, "--machine", "a.b"},
		{"export", "--data", filepath.Join(src, "nothing")},
	} {
		if _, errs, code := runMain(t, args...); code != app.ExitUsage || !strings.Contains(errs, "--help") {
			t.Errorf("indexer %v: exit %d, want %d with a usage hint:\n%s", args, code, app.ExitUsage, errs)
		}
	}
	// To standard output, the lines 'indexer events' prints.
	if out, ev := mustRun(t, "export", "--data", src), mustRun(t, "events", "--data", src); out != ev {
		t.Fatalf("export to stdout differs from events:\n%s\n%s", out, ev)
	}
}
