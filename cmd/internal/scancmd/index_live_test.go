package scancmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// indexerBinary builds the indexer query command once.
var indexerBinary = buildOnce("indexer", "../../indexer")

// TestQueriesDuringAStandaloneScan: a standalone scan holds index.db while
// it indexes what it stores, so a query cannot open the file; it asks the
// scan's query service instead, and gets the index as far as the scan got
// (here, the files of the scan before), not an error. Once the scan ends
// the file is free and the query reads it again.
func TestQueriesDuringAStandaloneScan(t *testing.T) {
	t.Parallel()
	indexer, err := indexerBinary()
	if err != nil {
		t.Fatal(err)
	}
	root, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "report.txt"), []byte("first\n"), 0o644)
	ctx := context.Background()
	if code, _, errs := run(t, ctx, "--data", data, "--quiet", root); code != 0 {
		t.Fatalf("first scan: exit %d\n%s", code, errs)
	}
	os.WriteFile(filepath.Join(root, "later.txt"), []byte("second\n"), 0o644)

	find := func(name string) (string, error) {
		out, err := exec.Command(indexer, "find", "--data", data, name).CombinedOutput()
		return string(out), err
	}
	var during string
	var duringErr error
	m := &Main{Stdout: new(strings.Builder), Stderr: new(strings.Builder), Hostname: func() (string, error) { return "testhost", nil }}
	m.OnScanStart = func() { during, duringErr = find("report") }
	if err := m.Run(ctx, []string{"--data", data, "--quiet", root}); err != nil {
		t.Fatalf("second scan: %v\n%s", err, m.Stderr)
	}
	if duringErr != nil || !strings.Contains(during, filepath.Join(root, "report.txt")) {
		t.Fatalf("find during the scan: %v\n%s", duringErr, during)
	}
	out, err := find("later")
	if err != nil || !strings.Contains(out, filepath.Join(root, "later.txt")) {
		t.Fatalf("find after the scan: %v\n%s", err, out)
	}
}
