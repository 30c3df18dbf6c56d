package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// scanBinary builds indexer-scan once for the tests that run it as a
// process of its own.
var scanBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "indexer-scan-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "indexer-scan")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/indexer/indexer/cmd/indexer-scan").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build indexer-scan: %v\n%s", err, out)
	}
	return bin, nil
})

// ownerLog opens the log served at url with the admin credential of the
// data directory dir, as the NATS CLI would: a connection that
// reconnects, so it outlives a restart of the server.
func ownerLog(t *testing.T, dir, url string) *store.Log {
	t.Helper()
	k := store.FindKeyring(dir)
	if k == nil {
		t.Fatalf("no credentials in %s", dir)
	}
	cred, err := k.Admin()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := store.DialAs(context.Background(), url, "test", store.ClientAuth{Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &store.Log{Conn: nc}
	if err := l.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestClientScanSurvivesProjectorRestart: a scan on another machine
// (indexer-scan --server, a process of its own) goes on while the
// indexer-project whose embedded server it publishes to is killed and
// started again on the same port. The scan finishes, and every file is
// stored once. The scan used to die with "no acknowledgement for 15s (1
// tries)" in 3 of 4 runs: its retry budget ran from each event's first
// send, and the events waiting behind the outage spent it waiting in
// turn.
func TestClientScanSurvivesProjectorRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexer-scan and restarts indexer-project")
	}
	t.Parallel()
	bin, err := scanBinary()
	if err != nil {
		t.Fatal(err)
	}
	owner, scanData, root := t.TempDir(), t.TempDir(), t.TempDir()
	const files = 10_000
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("d%03d/f%05d", i%300, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keyring, err := store.OpenKeyring(owner)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := storetest.Issue(t, keyring, store.RoleScanner, "laptop")
	listen := freePort(t)
	url := "nats://" + listen
	args := []string{"run", "--data", owner, "--listen", listen, "--http", "off", "--log-level", "info"}
	c := startChildArgs(t, args...)
	l := ownerLog(t, owner, url)

	scan := exec.Command(bin, "--data", scanData, "--server", url, "--creds", creds, "--json", root)
	var out, errb bytes.Buffer
	scan.Stdout, scan.Stderr = &out, &errb
	if err := scan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if scan.ProcessState == nil {
			scan.Process.Kill()
			scan.Wait()
		}
	})
	// Kill the owner once the scan is well under way.
	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if info, err := l.Info(ctx); err == nil && info.LastSeq >= files/10 {
			t.Logf("killing indexer-project at seq %d", info.LastSeq)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scan stored nothing in a minute:\n%s", errb.String())
		}
	}
	c.cmd.Process.Kill()
	c.cmd.Wait()
	killed := time.Now()
	c2 := startChildArgs(t, args...)
	t.Logf("indexer-project serves again %s after the kill", time.Since(killed).Round(time.Millisecond))

	err = scan.Wait()
	t.Logf("the scan ended %s after the kill", time.Since(killed).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("the scan through a restart of indexer-project: %v\n%s", err, errb.String())
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := storetest.ScannedPaths(t, l)
	if len(seen) != files {
		t.Fatalf("%d files stored, want %d (log at %d)", len(seen), files, info.LastSeq)
	}
	for p, n := range seen {
		if n != 1 {
			t.Fatalf("%s stored %d times", p, n)
		}
	}
	storetest.MustHoldEachOnce(t, l)
	c2.cmd.Process.Signal(os.Interrupt)
	c2.cmd.Wait()
}
