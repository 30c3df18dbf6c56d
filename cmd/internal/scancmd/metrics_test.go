package scancmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/promtest"
)

// TestScanMetrics scrapes `indexer-scan --metrics` at the end of a known
// scan: three files of 1, 10 and 100 bytes and a FIFO, then a rescan of
// the same tree that reads nothing.
func TestScanMetrics(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	for name, size := range map[string]int{"a": 1, "b": 10, "sub/c": 100} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	scan := func() promtest.Families {
		t.Helper()
		var url string
		var fams promtest.Families
		var out, errb bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "testhost", nil },
			OnMetrics:  func(u string) { url = u },
			BeforeExit: func() { fams = promtest.Scrape(t, url) }}
		err := m.Run(context.Background(), []string{"--data", data, "--quiet", "--metrics", ":0", root})
		if app.ExitCode(err) != 0 || fams == nil {
			t.Fatalf("scan: %v\n%s", err, errb.String())
		}
		return fams
	}
	for _, c := range []struct {
		name string
		want map[string]float64
	}{
		{"first scan", map[string]float64{
			"indexer_scan_files_seen_total": 3, "indexer_scan_files_read_total": 3, "indexer_scan_files_to_read_total": 3,
			"indexer_scan_bytes_read_total": 111, "indexer_scan_bytes_to_read_total": 111, "indexer_scan_files_skipped_total": 1,
			"indexer_scan_directories_total": 2, "indexer_scan_in_progress": 0, "indexer_scan_read_bytes_per_second": 0,
		}},
		{"rescan", map[string]float64{
			"indexer_scan_files_seen_total": 3, "indexer_scan_files_read_total": 0, "indexer_scan_bytes_read_total": 0,
			"indexer_scan_files_skipped_total": 1, "indexer_scan_in_progress": 0,
		}},
	} {
		fams := scan()
		for name, want := range c.want {
			if got, ok := fams.Value(name, "machine", "testhost"); !ok || got != want {
				t.Errorf("%s: %s = %v (found %v), want %v", c.name, name, got, ok, want)
			}
		}
		if _, ok := fams.Value("indexer_last_scan_completed_timestamp_seconds", "machine", "testhost"); !ok {
			t.Errorf("%s: no indexer_last_scan_completed_timestamp_seconds", c.name)
		}
		if got, _ := fams.Value("indexer_scan_events_total", "type", "ScanCompleted"); got != 1 {
			t.Errorf("%s: ScanCompleted events = %v, want 1", c.name, got)
		}
		if c.name == "first scan" {
			// Every scanner metric the Grafana dashboard asks for is exposed.
			for _, name := range promtest.DashboardMetrics(t, "../../../docs/grafana/indexer.json") {
				if (strings.HasPrefix(name, "indexer_scan_") || strings.HasPrefix(name, "indexer_last_scan_")) && !fams.Has(name) {
					t.Errorf("the dashboard asks for %s, which indexer-scan does not expose", name)
				}
			}
			if got, _ := fams.Value("indexer_scan_events_total", "type", "FileScanned"); got != 3 {
				t.Errorf("FileScanned events = %v, want 3", got)
			}
		}
	}
}

func TestErrorKind(t *testing.T) {
	for text, want := range map[string]string{
		"open: permission denied":          "permission",
		"lstat: no such file or directory": "vanished",
		"file changed while being read":    "changed_while_read",
		"read: input/output error":         "io",
		"something else":                   "other",
	} {
		if got := errorKind(text); got != want {
			t.Errorf("errorKind(%q) = %s, want %s", text, got, want)
		}
	}
}

// TestJSONLogs: with --log-format json every line of the log is a JSON
// object, one line sums up the scan and one the projector's batches.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, context.Background(), "--data", data, "--quiet", "--log-level", "info", "--log-format", "json", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	seen := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if msg, _ := rec["msg"].(string); msg != "" {
			seen[msg] = rec
		}
	}
	if s := seen["scan finished"]; s == nil || s["seen"] != float64(1) || s["read"] != float64(1) || s["bytes_read"] != float64(3) || s["machine"] != "testhost" {
		t.Fatalf("scan line: %v", s)
	}
	if p := seen["projected"]; p == nil || p["events"] != float64(3) {
		t.Fatalf("projector line: %v", p)
	}
	if code, _, stderr := run(t, context.Background(), "--data", data, "--log-format", "yaml", root); code != 2 || !strings.Contains(stderr, "--log-format") {
		t.Fatalf("--log-format yaml: exit %d %s", code, stderr)
	}
}
