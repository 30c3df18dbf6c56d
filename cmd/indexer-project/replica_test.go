package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// TestReadReplicasAnswerAlike: an owner and two read replicas, each with
// its own data directory, follow one log; after a real scan into the
// owner's server, the replicas' (and the owner's) HTTP answers are the same
// bytes, and so are their index dumps. One replica is a process with a
// reader's credential, the other runs in this process with the owner's own
// credential and joins the NATS query service once caught up. Neither
// writes to the log.
func TestReadReplicasAnswerAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerDir, dir1, dir2, credDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	readerCreds, scanCreds := filepath.Join(credDir, "r1.creds"), filepath.Join(credDir, "m.creds")
	if _, err := runMain(t, "credentials", "add", "--reader", "r1", "--data", ownerDir, "--out", readerCreds); err != nil {
		t.Fatal(err)
	}
	if _, err := runMain(t, "credentials", "add", "m", "--data", ownerDir, "--out", scanCreds); err != nil {
		t.Fatal(err)
	}
	owner := startChild(t, ownerDir, "127.0.0.1:0")
	defer func() { owner.cmd.Process.Signal(os.Interrupt); owner.cmd.Wait() }()
	server := store.ReadServerURL(ownerDir)

	r1 := startChildArgs(t, "run", "--replica", "--data", dir1, "--server", server, "--creds", readerCreds, "--http", "127.0.0.1:0", "--log-level", "info")
	stopR1 := func() { r1.cmd.Process.Signal(os.Interrupt); r1.cmd.Wait() }
	defer stopR1()
	adminCreds := filepath.Join(store.Dir(ownerDir).CredentialsPath(), store.AdminFile)
	r2 := startReplica(t, dir2, "--server", server, "--creds", adminCreds)
	defer r2.stop()

	// A real scan of a real tree, with the scanner's credential.
	root := replicaTree(t)
	last := scanWith(t, server, scanCreds, "m", root)
	for _, d := range []string{ownerDir, dir1, dir2} {
		waitCheckpoint(t, d, last)
	}
	r2.waitLog(t, "serving the NATS query service")

	urls := map[string]string{"owner": childURL(t, owner), "replica 1": childURL(t, r1), "replica 2": r2.url}
	for _, path := range replicaQuestions(root) {
		want := httpBody(t, urls["owner"]+path)
		for _, name := range []string{"replica 1", "replica 2"} {
			if got := httpBody(t, urls[name]+path); got != want {
				t.Errorf("GET %s: %s answers\n%s\nthe owner\n%s", path, name, got, want)
			}
		}
	}
	var health struct {
		Status string `json:"status"`
	}
	for _, name := range []string{"replica 1", "replica 2"} {
		getJSON(t, urls[name]+"/health", http.StatusOK, &health)
		if health.Status != "healthy" {
			t.Errorf("%s /health: %q", name, health.Status)
		}
	}
	// status reads a replica's own data directory, which serves no log.
	out, err := runMain(t, "status", "--data", dir1)
	if err != nil || !strings.Contains(out, "a read replica of "+server) || !strings.Contains(out, "lag              0 (caught up)") {
		t.Errorf("status of replica 1: %v\n%s", err, out)
	}
	// The NATS query service answers from the owner and replica 2 alike.
	nc, err := store.DialAs(ctx, server, "test", store.ClientAuth{Credential: mustCredential(t, readerCreds)})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc, ReadOnly: true}
	if err := log.Open(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := (&service.Client{Log: log}).Stats(ctx)
	if err != nil || st.Checkpoint != last {
		t.Errorf("stats over NATS: %+v %v", st, err)
	}
	if info, err := log.Info(ctx); err != nil || info.LastSeq != last || info.Msgs != last {
		t.Errorf("the log after the replicas ran: %+v %v; want the scan's %d events only", info, err, last)
	}

	stopR1()
	r2.stop()
	owner.cmd.Process.Signal(os.Interrupt)
	owner.cmd.Wait()
	want := dumpFile(t, store.Dir(ownerDir).IndexPath())
	for name, d := range map[string]string{"replica 1": dir1, "replica 2": dir2} {
		if got := dumpFile(t, store.Dir(d).IndexPath()); got != want {
			t.Errorf("the dump of %s differs from the owner's:\n%s\nwant\n%s", name, got, want)
		}
	}
}

// TestReplicaWaitsForTheStreamAndLeavesItAlone: a replica started before
// the log's owner created the stream says what it waits for, follows the
// stream once it is there, and leaves the owner's configuration as it is
// (a replica that provisioned the stream created it with its own settings,
// and later brought the owner's byte limit back to none).
func TestReplicaWaitsForTheStreamAndLeavesItAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := storetest.MustOpenServer(t, "", false)
	r := startReplica(t, t.TempDir(), "--server", srv.ClientURL())
	defer r.stop()
	r.waitLog(t, "waiting for the log: the stream does not exist yet")

	owner := limitedOwnerLog(t, srv)
	if err := owner.Append(ctx, scanned(20)...); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, r.dir, 20)
	r.waitLog(t, "serving the NATS query service")
	if got := streamMaxBytes(t, srv); got != 1<<30 {
		t.Fatalf("the stream's byte limit after the replica followed it: %d, want the owner's %d", got, 1<<30)
	}
}

// streamMaxBytes asks srv for the log stream's byte limit.
func streamMaxBytes(t *testing.T, srv *embedded.Server) int64 {
	t.Helper()
	nc, err := srv.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.Request("$JS.API.STREAM.INFO."+store.DefaultStream, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Config struct {
			MaxBytes int64 `json:"max_bytes"`
		} `json:"config"`
	}
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatalf("stream info: %v: %s", err, m.Data)
	}
	return info.Config.MaxBytes
}

// TestReplicaStopsWhenItsLogIsReplaced: the log's checks hold for a
// replica as for the owner. A stream deleted and created again under a
// replica stops its projection, /health says why, and the operator's
// rebuild --accept-new-log, asked of the running replica, resumes it on the
// new log; asking it leaves the owner's stream configuration as it is.
func TestReplicaStopsWhenItsLogIsReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := storetest.MustOpenServer(t, "", false)
	owner := limitedOwnerLog(t, srv)
	if err := owner.Append(ctx, scanned(30)...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := startReplica(t, dir, "--server", srv.ClientURL())
	defer r.stop()
	waitCheckpoint(t, dir, 30)

	nc, err := srv.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if m, err := nc.Request("$JS.API.STREAM.DELETE."+store.DefaultStream, nil, 5*time.Second); err != nil || !strings.Contains(string(m.Data), `"success":true`) {
		t.Fatalf("delete the stream: %v %s", err, m.Data)
	}
	owner = limitedOwnerLog(t, srv)
	if err := owner.Append(ctx, scanned(5)...); err != nil {
		t.Fatal(err)
	}
	r.waitLog(t, "the log was replaced under the index")
	var health struct {
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
	}
	for deadline := time.Now().Add(30 * time.Second); health.Status != "unhealthy" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(r.url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
	}
	if health.Status != "unhealthy" || !strings.Contains(strings.Join(health.Reasons, " "), "accept-new-log") {
		t.Fatalf("/health of the replica whose log was replaced: %+v", health)
	}
	if out, err := runMain(t, "rebuild", "--accept-new-log", "--data", dir, "--server", srv.ClientURL()); err != nil {
		t.Fatalf("rebuild --accept-new-log: %v %s", err, out)
	}
	var st ownerStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err = readOwnerStatus(store.Dir(dir).StatusPath()); err == nil && st.Checkpoint == 5 && st.Error == "" {
			break
		}
	}
	if st.Checkpoint != 5 || st.Error != "" {
		t.Fatalf("status after the new log was accepted: %+v %v", st, err)
	}
	checkMaxBytes := func(after string) {
		t.Helper()
		if got := streamMaxBytes(t, srv); got != 1<<30 {
			t.Fatalf("the stream's byte limit after %s: %d, want the owner's %d", after, got, 1<<30)
		}
	}
	checkMaxBytes("rebuild asked the replica")
	// With the replica stopped, the commands work on its index themselves,
	// and leave the owner's stream alone too.
	r.stop()
	if out, err := runMain(t, "rebuild", "--data", dir, "--server", srv.ClientURL()); err != nil || !strings.Contains(out, "at seq 5") {
		t.Fatalf("rebuild of the stopped replica's index: %v %s", err, out)
	}
	checkMaxBytes("a rebuild of the replica's index")
}

// limitedOwnerLog opens the log on srv as its owner would, with a byte limit of
// 1 GiB (not a replica's default), creating the stream.
func limitedOwnerLog(t *testing.T, srv *embedded.Server) *store.Log {
	t.Helper()
	nc, err := srv.Connect("owner")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &store.Log{Conn: nc, MaxBytes: 1 << 30}
	if err := l.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// scanned returns a scan of n files /d/f0... of one content, as machine m.
func scanned(n int) []events.Event {
	scan := events.NewID()
	var evs []events.Event
	for i := range n {
		evs = append(evs, events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{
			Path: events.Path(fmt.Sprintf("/d/f%d", i)), Size: 1, Hashes: events.Hashes{SHA256: strings.Repeat("cd", 32)}}}))
	}
	return evs
}

// TestReplicaNeedsServer: --replica alone, or with a scanner's credential,
// is a usage error.
func TestReplicaNeedsServer(t *testing.T) {
	t.Parallel()
	if _, err := runMain(t, "run", "--replica", "--data", t.TempDir(), "--http", "off"); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Errorf("--replica without --server: %v", err)
	}
	owner, creds := t.TempDir(), filepath.Join(t.TempDir(), "m.creds")
	if _, err := runMain(t, "credentials", "add", "m", "--data", owner, "--out", creds); err != nil {
		t.Fatal(err)
	}
	_, err := runMain(t, "run", "--replica", "--data", t.TempDir(), "--http", "off", "--server", "nats://127.0.0.1:1", "--creds", creds)
	if err == nil || !strings.Contains(err.Error(), "credentials add --reader") {
		t.Errorf("--replica with a scanner's credential: %v", err)
	}
}

// replica is an indexer-project run --replica in this process.
type replica struct {
	dir, url string
	stderr   *syncBuffer
	cancel   context.CancelFunc
	done     chan error
	stopped  bool
}

// startReplica runs `indexer-project run --replica` on dir with args in
// this process and returns once it serves HTTP (or, while it waits for
// the stream, once it says so: url is then "").
func startReplica(t *testing.T, dir string, args ...string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{dir: dir, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- (&Main{Stdout: &syncBuffer{}, Stderr: r.stderr}).Run(ctx,
			append([]string{"run", "--replica", "--data", dir, "--http", "127.0.0.1:0", "--log-level", "info"}, args...))
	}()
	t.Cleanup(r.stop)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		text := r.stderr.String()
		if _, rest, ok := strings.Cut(text, "web UI and API "); ok {
			r.url, _, _ = strings.Cut(rest, ",")
			return r
		}
		if strings.Contains(text, "waiting for the log") {
			return r
		}
		select {
		case err := <-r.done:
			t.Fatalf("replica stopped: %v\n%s", err, r.stderr)
		default:
		}
	}
	t.Fatalf("replica did not start:\n%s", r.stderr)
	return nil
}

// stop stops the replica and waits for it; it may be called again.
func (r *replica) stop() {
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	<-r.done
}

// waitLog waits until the replica logged s.
func (r *replica) waitLog(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(r.stderr.String(), s) {
			return
		}
	}
	t.Fatalf("the replica did not log %q:\n%s", s, r.stderr)
}

// waitCheckpoint waits until the projector running on dir wrote in its
// status file that it applied seq.
func waitCheckpoint(t *testing.T, dir string, seq uint64) {
	t.Helper()
	var st ownerStatus
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err = readOwnerStatus(store.Dir(dir).StatusPath()); err == nil && st.Checkpoint >= seq {
			return
		}
	}
	t.Fatalf("%s: not at seq %d: %+v %v", dir, seq, st, err)
}

// replicaTree writes a tree of 400 files in 20 directories, every 7th
// file's content repeated, a name that is not UTF-8 and a symbolic link.
func replicaTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for i := range 400 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%20))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		content := fmt.Sprintf("file %d\n", i)
		if i%7 == 0 {
			content = fmt.Sprintf("shared %d\n", i%3)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "caf\xe9.txt"), []byte("latin-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d01/f001.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

// scanWith scans root as machine into the log at server with the
// credential in creds, and returns the log's last sequence.
func scanWith(t *testing.T, server, creds, machine, root string) uint64 {
	t.Helper()
	ctx := context.Background()
	nc, err := store.DialAs(ctx, server, "test-scan", store.ClientAuth{Credential: mustCredential(t, creds)})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log := &store.Log{Conn: nc}
	if err := log.Open(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := (&scanner.Scanner{Machine: machine, Sink: log.NewAppender()}).Scan(ctx, root)
	if err != nil || res.Counts.Added < 400 {
		t.Fatalf("scan: %+v %v", res, err)
	}
	info, err := log.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.LastSeq
}

func mustCredential(t *testing.T, file string) *store.Credential {
	t.Helper()
	c, err := store.ReadCredential(file)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// replicaQuestions are the HTTP requests whose answers the replicas must
// give byte for byte as the owner does.
func replicaQuestions(root string) []string {
	q := url.QueryEscape
	return []string{
		"/api/stats", "/api/statistics", "/api/machines", "/api/scans",
		"/api/find?q=f0&limit=1000", "/api/find?q=*.txt&mode=glob&limit=1000&offset=7",
		"/api/find?q=" + q("caf\xe9"), "/api/search?query=f01",
		"/api/dupes?limit=100&files=10", "/api/duplicates",
		"/api/ls?machine=m&dir=" + q(root+"/d03"), "/api/ls?machine=m&dir=" + q(root),
		"/api/tree?path=" + q("/m"+root), "/api/tree?path=%2F",
		"/api/lookup?machine=m&path=" + q(root+"/d01/f001.txt"),
		"/api/lookup?machine=m&path=" + q(root+"/link"),
		"/api/history?machine=m&path=" + q(root+"/d07/f007.txt"),
	}
}

// httpBody returns the body of a GET that must answer 200.
func httpBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(bytes.TrimSpace(b)) == 0 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}
