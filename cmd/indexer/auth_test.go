package main

import (
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestQueryWithReaderCredential: through --server, a reader's credential
// asks the query service; no credential, or a scanner's, is refused with
// a permission error, at once.
func TestQueryWithReaderCredential(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyring, err := store.OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	reader, _ := storetest.Issue(t, keyring, store.RoleReader, "dash")
	scanner, _ := storetest.Issue(t, keyring, store.RoleScanner, "laptop")
	env := servicetest.MustOpen(t, servicetest.Options{Listen: true, Lock: true, Dir: dir, Keyring: keyring})
	env.Publish(t, servicetest.Fixture()...)
	svc, err := service.Serve(env.Log, &service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	url := env.Server.ClientURL()

	out := mustRun(t, "find", "report", "--json", "--server", url, "--creds", reader, "--data", t.TempDir())
	if n := len(lines(t, out)); n != 4 {
		t.Errorf("find as a reader: %d lines, want 4", n)
	}
	_, errOut, code := runMain(t, "find", "report", "--server", url, "--data", t.TempDir())
	if code != app.ExitError || !strings.Contains(errOut, "permission denied") {
		t.Errorf("find without a credential: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runMain(t, "find", "report", "--server", url, "--creds", scanner, "--data", t.TempDir())
	if code != app.ExitError || !strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, "scanner of machine laptop") {
		t.Errorf("find as a scanner: exit %d\n%s", code, errOut)
	}
}
