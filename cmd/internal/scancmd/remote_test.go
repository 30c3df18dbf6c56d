package scancmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestScanAnotherMachineOverTLS: a second machine (its own data
// directory) scans into the owner's log through --server, --creds and
// --tls-ca, against a TLS listener whose certificate a throw-away CA
// signed. The credential's machine is the scan's; without the CA the
// scan does not connect, and another machine is refused before it starts.
func TestScanAnotherMachineOverTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca, cert, key := storetest.TLSFiles(t)
	ownerDir, second, root := t.TempDir(), t.TempDir(), t.TempDir()
	// Issued before the owner starts: one issued while it runs is
	// accepted within a second (see TestRevokeWithoutRestart in store).
	keyring, err := store.OpenKeyring(ownerDir)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := storetest.Issue(t, keyring, store.RoleScanner, "laptop")
	owner, err := app.Open(ctx, app.Config{DataDir: ownerDir, Replicas: 1},
		app.OpenOptions{Owner: "indexer-project", Listen: "127.0.0.1:0", TLSCert: cert, TLSKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	url := owner.Server.ClientURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("server URL %s, want tls://", url)
	}
	const files = 30
	for i := range files {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("f%02d", i)), []byte(fmt.Sprint(i)), 0o644)
	}

	code, _, errs := run(t, ctx, "--data", second, "--server", url, "--creds", creds, root)
	if code == 0 || !strings.Contains(errs, "certificate") {
		t.Fatalf("without --tls-ca: exit %d, want a certificate error:\n%s", code, errs)
	}
	code, _, errs = run(t, ctx, "--data", second, "--server", url, "--creds", creds, "--tls-ca", ca, "--machine", "desktop", root)
	if code != app.ExitUsage || !strings.Contains(errs, "for machine laptop") {
		t.Fatalf("another machine's scan: exit %d, want %d:\n%s", code, app.ExitUsage, errs)
	}
	code, out, errs := run(t, ctx, "--data", second, "--server", url, "--creds", creds, "--tls-ca", ca, "--json", root)
	if code != 0 {
		t.Fatalf("scan over TLS: exit %d\n%s", code, errs)
	}
	var sum summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Machine != "laptop" || sum.Added != files || sum.Mode != "client" {
		t.Fatalf("summary %+v (%v): want machine laptop, %d added, client mode", sum, err, files)
	}
	// A command on the owner's own data directory trusts the owner's
	// certificate and uses the data directory's credential.
	code, out, errs = run(t, ctx, "--data", ownerDir, "--machine", "owner", "--json", root)
	if code != 0 || !strings.Contains(out, `"mode":"client"`) {
		t.Fatalf("scan beside the TLS owner: exit %d\n%s%s", code, out, errs)
	}
	n := 0
	if _, err := owner.Log.Replay(ctx, 1, events.MachineSubjects("laptop"), func(r store.Record) error {
		if e, err := events.Decode(r.Data); err == nil && e.Type == events.TypeFileScanned {
			n++
		}
		return nil
	}); err != nil || n != files {
		t.Fatalf("the owner's log holds %d of laptop's files (%v), want %d", n, err, files)
	}
}

// privateModes fails t unless dir is 0700 and nothing under it has group
// or other permissions.
func privateModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 || (p == dir && perm != 0o700) {
			t.Errorf("%s: mode %o, want no group or other permissions (the directory 0700)", p, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDataDirIsPrivateAndOldOnesUpgrade: a first scan makes a data
// directory only its owner can read, with its credentials; a data
// directory from before credentials (world-readable, no credentials) is
// upgraded by the next command without losing its log or index.
func TestDataDirIsPrivateAndOldOnesUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data, root1, root2 := filepath.Join(t.TempDir(), "data"), t.TempDir(), t.TempDir()
	for i := range 5 {
		os.WriteFile(filepath.Join(root1, fmt.Sprintf("a%d", i)), []byte(fmt.Sprint("a", i)), 0o644)
		os.WriteFile(filepath.Join(root2, fmt.Sprintf("b%d", i)), []byte(fmt.Sprint("b", i)), 0o644)
	}
	if code, _, errs := run(t, ctx, "--data", data, root1); code != 0 {
		t.Fatalf("first scan: exit %d\n%s", code, errs)
	}
	privateModes(t, data)
	d := store.Dir(data)
	for _, f := range []string{d.IndexPath(), filepath.Join(d.CredentialsPath(), store.AdminFile), filepath.Join(d.CredentialsPath(), store.UsersFile)} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("after the first scan: %v", err)
		}
	}

	// As an older indexer left it.
	if err := os.RemoveAll(d.CredentialsPath()); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if code, _, errs := run(t, ctx, "--data", data, root2); code != 0 {
		t.Fatalf("scan of the old data directory: exit %d\n%s", code, errs)
	}
	if st := indexStats(t, data); st.Files != 10 {
		t.Fatalf("index after the upgrade: %d files, want the 10 of both scans", st.Files)
	}
	if store.FindKeyring(data) == nil {
		t.Fatal("no credentials after the upgrade")
	}
	for _, f := range []string{data, d.IndexPath(), d.JetStreamPath()} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s after the upgrade: %v %v, want no group or other permissions", f, fi, err)
		}
	}
}
