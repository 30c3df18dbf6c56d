package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// TestCredentialsAddListRevoke: an issued credential is a 0600 file that
// only its holder has; list shows names, roles and public keys, no secret.
func TestCredentialsAddListRevoke(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	file := filepath.Join(out, "laptop.creds")
	if _, err := runMain(t, "credentials", "add", "laptop", "--data", dir, "--out", file); err != nil {
		t.Fatal(err)
	}
	if _, err := runMain(t, "credentials", "add", "--reader", "dash", "--data", dir, "--out", filepath.Join(out, "dash.creds")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v, want mode 0600", fi, err)
	}
	cred, err := store.ReadCredential(file)
	if err != nil || cred.Role != store.RoleScanner || cred.Name != "laptop" {
		t.Fatalf("credential read back: %+v %v", cred, err)
	}
	if _, err := runMain(t, "credentials", "add", "laptop", "--data", dir, "--out", filepath.Join(out, "again")); app.ExitCode(err) != app.ExitLocked {
		t.Fatalf("adding laptop twice: %v, want a conflict", err)
	}
	// The flags may come first, before the command or its subcommand.
	if _, err := runMain(t, "credentials", "--data", dir, "add", "--reader", "board", "--out", filepath.Join(out, "board.creds")); err != nil {
		t.Fatalf("credentials --data DIR add: %v", err)
	}
	list, err := runMain(t, "--data", dir, "credentials", "list")
	if err != nil || !strings.Contains(list, "laptop") || !strings.Contains(list, "dash") || !strings.Contains(list, "board") || !strings.Contains(list, cred.PublicKey) {
		t.Fatalf("--data DIR credentials list: %v\n%s", err, list)
	}
	seed, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(seed)), "\n")
	if secret := lines[len(lines)-1]; !strings.HasPrefix(secret, "SU") || strings.Contains(list, secret) {
		t.Fatalf("list shows the secret, or the file has none:\n%s", list)
	}
	for _, f := range []string{store.UsersFile, store.AdminFile} {
		if fi, err := os.Stat(filepath.Join(store.Dir(dir).CredentialsPath(), f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want 0600", f, fi, err)
		}
	}
	if _, err := runMain(t, "credentials", "revoke", "laptop", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if list, _ := runMain(t, "credentials", "list", "--data", dir); strings.Contains(list, "laptop") {
		t.Fatalf("laptop listed after revoke:\n%s", list)
	}
}

// TestRefusesNetworkWithoutTLS: serving NATS or HTTP beyond loopback
// without a certificate is a usage error that says how to make one.
func TestRefusesNetworkWithoutTLS(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:0", "--http", "off"},
		{"--listen", "127.0.0.1:0", "--http", "0.0.0.0:0"},
	} {
		_, err := runMain(t, append([]string{"run", "--data", t.TempDir()}, args...)...)
		if app.ExitCode(err) != app.ExitUsage || !strings.Contains(err.Error(), "--tls-cert FILE --tls-key FILE") {
			t.Fatalf("run %v: %v, want a usage error naming --tls-cert", args, err)
		}
	}
}

// TestHTTPBeyondLoopbackNeedsToken: over HTTPS on every interface, the API
// answers 401 without the data directory's token and 200 with it; the
// health check needs none. On loopback, a foreign Host header is refused.
func TestHTTPBeyondLoopbackNeedsToken(t *testing.T) {
	t.Parallel()
	ca, cert, key := storetest.TLSFiles(t)
	dir := t.TempDir()
	c := startChildArgs(t, "run", "--data", dir, "--listen", "127.0.0.1:0", "--http", "0.0.0.0:0",
		"--tls-cert", cert, "--tls-key", key, "--log-level", "info")
	defer func() { c.cmd.Process.Signal(os.Interrupt); c.cmd.Wait() }()
	base := ""
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(c.logText(), "web UI and API https://"); ok {
			hostport, _, _ := strings.Cut(rest, ",")
			base = "https://127.0.0.1:" + hostport[strings.LastIndex(hostport, ":")+1:]
		}
	}
	if base == "" {
		t.Fatalf("no HTTPS address in the log:\n%s", c.logText())
	}
	pem, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	token, err := os.ReadFile(filepath.Join(store.Dir(dir).CredentialsPath(), store.HTTPTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, auth string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	bearer := "Bearer " + strings.TrimSpace(string(token))
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/api/stats", "", 401},
		{"/api/stats", "Bearer wrong", 401},
		{"/", "", 401},
		{"/metrics", "", 401},
		{"/api/stats", bearer, 200},
		{"/metrics", bearer, 200},
		{"/health", "", 200},
	} {
		if got := get(tc.path, tc.auth); got != tc.want {
			t.Errorf("GET %s with %q: %d, want %d", tc.path, tc.auth, got, tc.want)
		}
	}

	// Loopback: no token, but the Host must be this machine's.
	lc := startChild(t, t.TempDir(), "127.0.0.1:0")
	defer func() { lc.cmd.Process.Signal(os.Interrupt); lc.cmd.Wait() }()
	url := childURL(t, lc)
	for host, want := range map[string]int{"": 200, "localhost": 200, "rebind.attacker.example": http.StatusMisdirectedRequest} {
		req, _ := http.NewRequest("GET", url+"/api/stats", nil)
		if host != "" {
			req.Host = host + url[strings.LastIndex(url, ":"):]
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET /api/stats on loopback with Host %q: %d, want %d", req.Host, res.StatusCode, want)
		}
	}
}
