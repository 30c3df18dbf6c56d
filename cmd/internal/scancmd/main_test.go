package scancmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
	"github.com/indexer/indexer/store/storetest"
)

// run drives Main in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "testhost", nil }}
	err := m.Run(ctx, args)
	app.Report(&errb, "indexer-scan", err)
	return app.ExitCode(err), out.String(), errb.String()
}

// indexStats reads the totals of the data directory's index.db.
func indexStats(t *testing.T, data string) projections.Stats {
	t.Helper()
	db := &store.DB{Path: store.Dir(data).IndexPath(), ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := projections.NewIndex(db).Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestHashesMatchCoreutils(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	contents := map[string][]byte{"empty": nil, "small.txt": []byte("hello\n"), "sub/big.bin": bytes.Repeat([]byte{1, 2, 3, 250}, 3<<20/4+17)}
	for p, c := range contents {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), c, 0o644)
	}
	code, out, errs := run(t, context.Background(), "--data", data, "--json", "--hashes", "md5,sha1,sha256,blake3", root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var sum summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if sum.Seen != 3 || sum.Added != 3 || sum.Read != 3 || !sum.Complete || len(sum.Scans) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	tool := func(name, path string) string {
		b, err := exec.Command(name, path).Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return strings.Fields(string(b))[0]
	}
	n := 0
	for _, e := range storetest.ReadAll(t, data) {
		f, ok := e.Data.(*events.FileScanned)
		if !ok {
			continue
		}
		n++
		p := string(f.Path)
		if got, want := f.Hashes.MD5, tool("md5sum", p); got != want {
			t.Errorf("%s md5 %s, md5sum says %s", p, got, want)
		}
		if got, want := f.Hashes.SHA1, tool("sha1sum", p); got != want {
			t.Errorf("%s sha1 %s, sha1sum says %s", p, got, want)
		}
		if got, want := f.Hashes.SHA256, tool("sha256sum", p); got != want {
			t.Errorf("%s sha256 %s, sha256sum says %s", p, got, want)
		}
		if len(f.Hashes.BLAKE3) != 64 {
			t.Errorf("%s blake3 %q", p, f.Hashes.BLAKE3)
		}
	}
	if n != 3 {
		t.Fatalf("%d FileScanned events, want 3", n)
	}
	// Standalone, the scan leaves the index current: queries answer at once.
	st := indexStats(t, data)
	if st.Files != 3 || st.Checkpoint != uint64(len(storetest.ReadAll(t, data))) {
		t.Fatalf("index after a standalone scan: %d files at seq %d", st.Files, st.Checkpoint)
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--data", data, "/no/such/dir"}, 1, "no such file or directory"},
		{[]string{"--data", data}, 2, "no PATH to scan"},
		{[]string{"--data", data, "--machine", "a.b", "."}, 2, "may hold only ASCII letters"},
		{[]string{"--data", data, "--machine", "ünï", "."}, 2, `"ü" is not allowed`},
		{[]string{"--data", data, "--hashes", "crc32", "."}, 2, "unknown hash"},
		{[]string{"--data", data, "--bogus", "."}, 2, "flag provided but not defined"},
		{[]string{"--data", data, "/etc/hostname"}, 1, "not a directory"},
		{[]string{"--data", data, "--workers", "0", "."}, 2, "--workers 0: give at least 1"},
		{[]string{"--data", data, "--workers", "-3", "."}, 2, "--workers -3: give at least 1"},
		{[]string{"--data", data, "--exclude", "[", "."}, 2, `--exclude: pattern "["`},
		{[]string{"--data", data, "--exclude", "*.tmp", "--exclude", "a[b", "."}, 2, `--exclude: pattern "a[b"`},
	} {
		code, _, errs := run(t, context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("indexer-scan %v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if code, _, errs := run(t, context.Background(), "--help"); code != 0 || !strings.Contains(errs, "Exit codes:") {
		t.Errorf("--help: exit %d\n%s", code, errs)
	}
	if code, out, errs := run(t, context.Background(), "--version"); code != 0 || !strings.HasPrefix(out, "indexer-scan ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("--version: exit %d, %q %q", code, out, errs)
	}
}

// binary builds indexer-scan once (without -race: the subprocess tests
// measure memory and run as another user).
var binary = buildOnce("indexer-scan", "../../indexer-scan")

// buildOnce returns a function that builds the program in package dir
// once, into a directory every user may read, and returns its path.
func buildOnce(name, dir string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		tmp, err := os.MkdirTemp("", name+"-bin")
		if err != nil {
			return "", err
		}
		os.Chmod(tmp, 0o755)
		bin := filepath.Join(tmp, name)
		out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", dir, err, out)
		}
		return bin, nil
	})
}

func mustBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestUnreadableAsAnotherUser runs the scan as uid 65534: CI runs as root,
// and root reads everything, so only another user meets a permission error.
func TestUnreadableAsAnotherUser(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Fatal("this test switches user and needs root (CI runs as root)")
	}
	bin := mustBinary(t)
	base, err := os.MkdirTemp("", "unreadable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	root, data := filepath.Join(base, "root"), filepath.Join(base, "data")
	for p, c := range map[string]string{"open.txt": "o", "secret.txt": "s", "private/inside.txt": "i"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	// First scan as root records everything.
	if code, out, errs := run(t, context.Background(), "--data", data, "--machine", "box", root); code != 0 {
		t.Fatalf("root scan: exit %d\n%s%s", code, out, errs)
	}
	os.Chmod(filepath.Join(root, "secret.txt"), 0o600)
	os.Chmod(filepath.Join(root, "private"), 0o700)
	exec.Command("chown", "-R", "65534:65534", data).Run()

	cmd := exec.Command(bin, "--data", data, "--machine", "box", "--json", root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != app.ExitPartial {
		t.Fatalf("scan as another user: exit %d (%v), want %d\n%s%s", code, err, app.ExitPartial, out.String(), errb.String())
	}
	var sum summary
	json.Unmarshal(out.Bytes(), &sum)
	if sum.Unreadable != 2 || sum.Deleted != 0 {
		t.Fatalf("summary %+v, want 2 unreadable and nothing deleted", sum)
	}
	exec.Command("chown", "-R", "0:0", data).Run()
	var unreadable []string
	for _, e := range storetest.ReadAll(t, data) {
		switch d := e.Data.(type) {
		case *events.FileUnreadable:
			unreadable = append(unreadable, fmt.Sprintf("%s dir=%v %s", strings.TrimPrefix(string(d.Path), root+"/"), d.Dir, d.Error))
		case *events.FileDeleted:
			t.Errorf("deleted %s: an unreadable file or directory must never delete", d.Path)
		}
	}
	want := []string{"private dir=true open: permission denied", "secret.txt dir=false open: permission denied"}
	if fmt.Sprint(unreadable) != fmt.Sprint(want) && fmt.Sprint(unreadable) != fmt.Sprint([]string{want[1], want[0]}) {
		t.Fatalf("unreadable events %q, want %q", unreadable, want)
	}
}

// TestScanSurvivesServerRestart publishes to a NATS server that goes away
// in the middle of a scan (client mode) and comes back: the scan finishes
// and every event is stored once.
func TestScanSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	root, srvDir, data := t.TempDir(), t.TempDir(), t.TempDir()
	const files = 3000
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("d%02d/f%05d", i%50, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644)
	}
	srv := &embedded.Server{DataDir: srvDir}
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	var port int
	fmt.Sscanf(url[strings.LastIndex(url, ":")+1:], "%d", &port)
	restarted := make(chan *embedded.Server, 1)
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "h", nil }}
	restart := func() {
		srv.Close() // the server dies with the scan under way
		go func() {
			time.Sleep(time.Second) // the outage
			s2 := &embedded.Server{DataDir: srvDir, Port: port}
			if err := s2.Open(context.Background()); err != nil {
				t.Error(err)
			}
			restarted <- s2
		}()
	}
	var once sync.Once
	m.OnScanStart = func() { once.Do(restart) }
	err := m.Run(context.Background(), []string{"--data", data, "--server", url, "--machine", "c1", "--json", root})
	s2 := <-restarted
	defer s2.Close()
	if err != nil {
		t.Fatalf("scan through a server restart: %v\n%s", err, errb.String())
	}
	s2.Close()
	seen := map[string]int{}
	for _, e := range storetest.ReadAll(t, srvDir) {
		if f, ok := e.Data.(*events.FileScanned); ok {
			seen[string(f.Path)]++
		}
	}
	if len(seen) != files {
		t.Fatalf("%d files stored, want %d", len(seen), files)
	}
	for p, n := range seen {
		if n != 1 {
			t.Fatalf("%s stored %d times", p, n)
		}
	}
}

// TestOneScanPerMachine: a second scan of a machine whose lease is held
// fails with exit code 11 and says who holds it.
func TestOneScanPerMachine(t *testing.T) {
	t.Parallel()
	srv := storetest.MustOpenServer(t, "", false)
	l := storetest.MustOpenLog(t, srv)
	lease, err := l.AcquireLease(context.Background(), "busy", "the other scan", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, context.Background(), "--data", t.TempDir(), "--server", srv.ClientURL(), "--machine", "busy", t.TempDir())
	if code != app.ExitLocked || !strings.Contains(errs, "held by the other scan") {
		t.Fatalf("second scan: exit %d %q", code, errs)
	}
	lease.Release(context.Background())
	if code, _, errs := run(t, context.Background(), "--data", t.TempDir(), "--server", srv.ClientURL(), "--machine", "busy", t.TempDir()); code != 0 {
		t.Fatalf("after release: exit %d %s", code, errs)
	}
	// Standalone, the data directory itself is the lock.
	data := t.TempDir()
	lock, err := store.LockDir(data, "indexer-project")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	code, _, errs = run(t, context.Background(), "--data", data, t.TempDir())
	if code != app.ExitLocked || !strings.Contains(errs, fmt.Sprintf("in use by PID %d", os.Getpid())) {
		t.Fatalf("scan of a locked data dir: exit %d %q", code, errs)
	}
}

// TestSparseFileFlatMemory hashes a 10 GB sparse file in a child process
// and checks its peak memory, and the hash against the standard library's
// sha256 of the same bytes (coreutils' sha256sum takes 50 s here; the
// coreutils checks are in TestHashesMatchCoreutils).
func TestSparseFileFlatMemory(t *testing.T) {
	t.Parallel()
	bin := mustBinary(t)
	root, data := t.TempDir(), t.TempDir()
	f, err := os.Create(filepath.Join(root, "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(10 << 30); err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("end"), 10<<30-3)
	f.Close()
	cmd := exec.Command(bin, "--data", data, "--hashes", "sha256", "--machine", "s", "--json", root)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The process's own VmHWM: a child's rusage would count this test
	// process's memory at fork.
	var sum summary
	if err := json.Unmarshal(out, &sum); err != nil || sum.PeakRSS == 0 {
		t.Fatalf("summary %s: %v", out, err)
	}
	rss := sum.PeakRSS
	if rss > 200<<20 {
		t.Fatalf("peak memory %d MiB hashing a 10 GB file", rss>>20)
	}
	// The content written: 10 GiB of zeros whose last 3 bytes are "end".
	h := sha256.New()
	zeros := make([]byte, 1<<20)
	for range 10<<10 - 1 {
		h.Write(zeros)
	}
	h.Write(zeros[:1<<20-3])
	h.Write([]byte("end"))
	want := hex.EncodeToString(h.Sum(nil))
	var got string
	for _, e := range storetest.ReadAll(t, data) {
		if f, ok := e.Data.(*events.FileScanned); ok {
			got = f.Hashes.SHA256
		}
	}
	if got != want {
		t.Fatalf("sha256 %s, want %s", got, want)
	}
	t.Logf("10 GB sparse file: peak RSS %d MiB (GOMAXPROCS %d)", rss>>20, runtime.GOMAXPROCS(0))
}

// TestCtrlCStopsPromptly sends SIGINT to a scanning process: it exits 130
// within seconds, and the log holds a ScanCompleted that says incomplete
// and no deletion.
func TestCtrlCStopsPromptly(t *testing.T) {
	t.Parallel()
	bin := mustBinary(t)
	root, srvDir := t.TempDir(), t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<20) // 256 MiB: several seconds of hashing
	for i := range 4 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("big%d", i)), big, 0o644)
	}
	srv := &embedded.Server{DataDir: srvDir}
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc, _ := srv.Connect("watch")
	defer nc.Close()
	l := &store.Log{Conn: nc}
	l.Open(context.Background())
	started := make(chan struct{})
	fctx, stop := context.WithCancel(context.Background())
	defer stop()
	go l.Follow(fctx, 1, events.MachineSubjects("sig"), func(r store.Record) error {
		if strings.HasSuffix(r.Subject, "scan.started") {
			close(started)
			return context.Canceled
		}
		return nil
	})
	cmd := exec.Command(bin, "--server", srv.ClientURL(), "--data", t.TempDir(), "--machine", "sig", root)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no ScanStarted\n%s", errb.String())
	}
	sent := time.Now()
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if took := time.Since(sent); took > 5*time.Second {
		t.Fatalf("exit took %s after Ctrl-C", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != app.ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, app.ExitInterrupted, errb.String())
	}
	var last *events.ScanCompleted
	if _, err := l.Replay(context.Background(), 1, "", func(r store.Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return err
		}
		switch d := e.Data.(type) {
		case *events.ScanCompleted:
			last = d
		case *events.FileDeleted:
			t.Errorf("an interrupted scan deleted %s", d.Path)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if last == nil || last.Complete {
		t.Fatalf("ScanCompleted after Ctrl-C: %+v", last)
	}
}

// TestOverlappingRoots: a root inside an earlier root of the same run is
// scanned against the state the first left: its files are not added twice.
func TestOverlappingRoots(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	for i := range 5000 { // more than one batch of the scan state writer
		p := filepath.Join(root, "sub", fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644)
	}
	code, out, errs := run(t, context.Background(), "--data", data, "--json", root, filepath.Join(root, "sub"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var sum summary
	json.Unmarshal([]byte(out), &sum)
	if sum.Added != 5000 || sum.Seen != 10000 || len(sum.Scans) != 2 {
		t.Fatalf("summary %+v: want 5000 added once, 10000 seen over two roots", sum)
	}
}

// TestInterruptedStandaloneScanIsIndexed: a standalone scan stopped midway
// still indexes what it stored, so queries show it (nobody else projects
// the log).
func TestInterruptedStandaloneScanIsIndexed(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	for i := range 2000 { // quick to scan: stored before the interrupt
		os.WriteFile(filepath.Join(root, fmt.Sprintf("a%04d", i)), []byte(fmt.Sprint(i)), 0o644)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<20) // 256 MiB each: seconds of hashing
	for i := range 4 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("z%d", i)), big, 0o644)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "testhost", nil }}
	m.OnScanStart = func() { time.AfterFunc(time.Second, cancel) }
	err := m.Run(ctx, []string{"--data", data, "--workers", "1", root})
	if code := app.ExitCode(err); code != app.ExitInterrupted {
		t.Fatalf("exit %d, want %d: %v\n%s%s", code, app.ExitInterrupted, err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "index updated") || !strings.Contains(errb.String(), "interrupted: indexing") {
		t.Fatalf("output:\n%s%s", out.String(), errb.String())
	}
	scanned := 0
	for _, r := range storetest.ReadAll(t, data) {
		if r.Type == events.TypeFileScanned {
			scanned++
		}
	}
	if scanned == 0 {
		t.Fatal("premise: no file was stored before the interrupt")
	}
	st := indexStats(t, data)
	if st.Files != uint64(scanned) || st.Checkpoint != uint64(len(storetest.ReadAll(t, data))) {
		t.Fatalf("index after the interrupt: %d files at seq %d; the log holds %d files, %d events", st.Files, st.Checkpoint, scanned, len(storetest.ReadAll(t, data)))
	}
}

// TestLeaseOfAKilledScanIsTakenOver: the lease of a scan of this host
// that no longer runs (killed) does not block the next scan until it
// expires; a live one, or one of another host, does.
func TestLeaseOfAKilledScanIsTakenOver(t *testing.T) {
	t.Parallel()
	srv := storetest.MustOpenServer(t, "", false)
	l := storetest.MustOpenLog(t, srv)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := gone.ProcessState.Pid()
	for i, c := range []struct {
		holder string
		code   int
	}{
		{fmt.Sprintf("indexer-scan pid %d on otherhost since 2026-01-01T00:00:00Z", dead), app.ExitLocked},
		{fmt.Sprintf("indexer-scan pid %d on testhost since 2026-01-01T00:00:00Z", os.Getppid()), app.ExitLocked}, // alive
		{fmt.Sprintf("indexer-scan pid %d on testhost since 2026-01-01T00:00:00Z", dead), 0},
	} {
		machine := fmt.Sprintf("m%d", i)
		lease, err := l.AcquireLease(context.Background(), machine, c.holder, 30*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		code, _, errs := run(t, context.Background(), "--data", t.TempDir(), "--server", srv.ClientURL(), "--machine", machine, t.TempDir())
		if code != c.code {
			t.Errorf("lease held by %q: exit %d, want %d\n%s", c.holder, code, c.code, errs)
		}
		lease.Release(context.Background())
	}
}

// TestInterruptWhileIndexing: an interrupt that comes as a finished
// standalone scan updates the index lets the update finish (a second one
// would skip it).
func TestInterruptWhileIndexing(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	for i := range 3000 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("f%04d", i)), []byte(fmt.Sprint(i)), 0o644)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "testhost", nil }}
	m.OnIndexing = cancel
	if err := m.Run(ctx, []string{"--data", data, root}); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "index updated") || !strings.Contains(errb.String(), "finishing its index before stopping") {
		t.Fatalf("output:\n%s%s", out.String(), errb.String())
	}
	st := indexStats(t, data)
	if n := len(storetest.ReadAll(t, data)); st.Files != 3000 || st.Checkpoint != uint64(n) {
		t.Fatalf("index: %d files at seq %d; want 3000 at %d", st.Files, st.Checkpoint, n)
	}
}

// TestClientScanCreatesDataDir: a second machine, whose data directory does
// not exist yet, scans through --server; the directory is created private
// (its scan state lives there), and an error names a path once.
func TestClientScanCreatesDataDir(t *testing.T) {
	t.Parallel()
	srv := storetest.MustOpenServer(t, "", false)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a"), []byte("a"), 0o644)
	data := filepath.Join(t.TempDir(), "new", "indexer")
	code, out, errs := run(t, context.Background(), "--data", data, "--server", srv.ClientURL(), "--machine", "second", root)
	if code != 0 {
		t.Fatalf("client scan into a new data directory: exit %d\n%s%s", code, out, errs)
	}
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Fatalf("data directory mode %v, want 0700", got)
	}
	// A state file that cannot be created names its path once.
	blocked := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocked, nil, 0o644)
	code, _, errs = run(t, context.Background(), "--data", filepath.Join(blocked, "sub"), "--server", srv.ClientURL(), "--machine", "third", root)
	if code != 1 || strings.Count(errs, blocked) != 1 {
		t.Fatalf("data directory under a file: exit %d, %q: want 1 and the path once", code, errs)
	}
}

// TestMaxFileSize: a sparse file larger than --max-file-size (default 1
// TiB) is recorded with its metadata, not hashed, and the summary says so.
func TestMaxFileSize(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "small"), []byte("small"), 0o644)
	f, err := os.Create(filepath.Join(root, "huge.img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1<<40 + 1); err != nil {
		t.Skipf("no sparse file of 1 TiB here: %v", err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hashing it would take an hour
	defer cancel()
	code, out, errs := run(t, ctx, "--data", data, root)
	if code != 0 || !strings.Contains(out, "1 file larger than --max-file-size 1T: recorded without hashes") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var huge *events.File
	for _, e := range storetest.ReadAll(t, data) {
		if s, ok := e.Data.(*events.FileScanned); ok && strings.HasSuffix(string(s.Path), "huge.img") {
			huge = &s.File
		}
	}
	if huge == nil || huge.Size != 1<<40+1 || huge.Hashes.SHA256 != "" {
		t.Fatalf("huge.img recorded as %+v, want its size and no hashes", huge)
	}
	// A rescan does not record it again, and still says why it has no hashes.
	code, out, errs = run(t, ctx, "--data", data, "--json", "--max-file-size", "1k", root)
	var sum summary
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil || sum.TooLarge != 1 || sum.Added+sum.Changed != 0 || sum.MaxFileSize != 1024 {
		t.Fatalf("rescan: exit %d %+v\n%s%s", code, sum, out, errs)
	}
}

// TestEmptyRootDeletesNothing: an unmounted disk's mount point is an empty
// directory; the scan deletes none of its recorded files, says so, and
// exits 5, until --allow-mass-delete.
func TestEmptyRootDeletesNothing(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	for i := range 150 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("f%03d", i)), []byte(fmt.Sprint(i)), 0o644)
	}
	if code, out, errs := run(t, context.Background(), "--data", data, root); code != 0 {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		os.Remove(filepath.Join(root, e.Name()))
	}
	code, out, errs := run(t, context.Background(), "--data", data, root)
	if code != app.ExitHeld || !strings.Contains(out, "DELETIONS HELD under "+root+": 150 files gone, not deleted (150 recorded)") ||
		!strings.Contains(errs, "--allow-mass-delete") {
		t.Fatalf("scan of the emptied root: exit %d, want %d\n%s%s", code, app.ExitHeld, out, errs)
	}
	if st := indexStats(t, data); st.Files != 150 {
		t.Fatalf("index holds %d files after the guard held, want 150", st.Files)
	}
	code, out, errs = run(t, context.Background(), "--data", data, "--allow-mass-delete", root)
	if code != 0 || !strings.Contains(out, "deleted 150") {
		t.Fatalf("--allow-mass-delete: exit %d\n%s%s", code, out, errs)
	}
	if st := indexStats(t, data); st.Files != 0 {
		t.Fatalf("index holds %d files after --allow-mass-delete, want 0", st.Files)
	}
}

// TestVerifyReportsRot: content that changed under unchanged metadata is
// counted apart from changes, printed with its path and both digests, and
// the scan exits 6.
func TestVerifyReportsRot(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "photo.jpg"), []byte("original bytes"), 0o644)
	os.WriteFile(filepath.Join(root, "ok.txt"), []byte("fine"), 0o644)
	if code, out, errs := run(t, context.Background(), "--data", data, root); code != 0 {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	// What the disk returns changes while every bit of metadata stays: the
	// record takes another digest, as if the good content had held it.
	var rec events.File
	for _, e := range storetest.ReadAll(t, data) {
		if f, ok := e.Data.(*events.FileScanned); ok && strings.HasSuffix(string(f.Path), "photo.jpg") {
			rec = f.File
		}
	}
	good := strings.Repeat("ab", 32)
	rec.Hashes = events.Hashes{SHA256: good}
	storetest.Seed(t, data, events.New("testhost", events.NewID(), time.Now(), &events.FileChanged{File: rec, Reason: events.ReasonContent}))
	code, out, errs := run(t, context.Background(), "--data", data, "--verify", root)
	rotten := filepath.Join(root, "photo.jpg")
	if code != app.ExitRot || !strings.Contains(out, "changed 0") || !strings.Contains(out, "ROT 1") ||
		!strings.Contains(out, rotten+"\n      recorded sha256 "+good) || !strings.Contains(errs, "bit rot") {
		t.Fatalf("--verify over a rotten file: exit %d, want %d\n%s%s", code, app.ExitRot, out, errs)
	}
	code, out, _ = run(t, context.Background(), "--data", data, "--verify", "--json", root)
	var sum summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || code != 0 || sum.Rot != 0 {
		t.Fatalf("a second --verify (the rotten content is now the record): exit %d %+v %v", code, sum, err)
	}
}

// TestSummaryCountsWhatWasStored: the indexer-project that owns the data
// directory goes away during a client scan. The summary counts the events
// the log acknowledged, not those the scan emitted, and the message does
// not blame a --server the user did not give.
func TestSummaryCountsWhatWasStored(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	const files = 3000
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("d%02d/f%05d", i%50, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644)
	}
	// The owner: the directory's lock and its server, as indexer-project
	// holds them.
	lock, err := store.LockDir(data, "indexer-project")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	srv := &embedded.Server{DataDir: data}
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Hostname: func() (string, error) { return "h", nil }}
	var once sync.Once
	m.OnScanStart = func() { once.Do(func() { srv.Close() }) }
	err = m.Run(context.Background(), []string{"--data", data, "--json", root})
	app.Report(&errb, "indexer-scan", err)
	if app.ExitCode(err) != 1 || strings.Contains(errb.String(), "--server") {
		t.Fatalf("scan whose owner went away: exit %d, want 1 and no word of --server\n%s", app.ExitCode(err), errb.String())
	}
	var sum summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, out.String())
	}
	stored := 0
	for _, e := range storetest.ReadAll(t, data) {
		if _, ok := e.Data.(*events.FileScanned); ok {
			stored++
		}
	}
	if sum.Added != int64(stored) || stored == files {
		t.Fatalf("summary says added %d; the log holds %d of the %d files", sum.Added, stored, files)
	}
}

// TestScanBesideAnOwnerThatDoesNotIndex: another process that does not
// index (here 'indexer events --follow') owns the data directory. The scan
// publishes through it, says the index was not updated and what to run,
// and exits 4; beside an indexer-project, which indexes, it exits 0.
func TestScanBesideAnOwnerThatDoesNotIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		owner string
		code  int
	}{{"indexer events", app.ExitNotIndexed}, {"indexer-project", 0}} {
		root, data := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(root, "a"), []byte("a"), 0o644)
		lock, err := store.LockDir(data, tc.owner)
		if err != nil {
			t.Fatal(err)
		}
		srv := &embedded.Server{DataDir: data}
		if err := srv.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		code, out, errs := run(t, context.Background(), "--data", data, root)
		srv.Close()
		lock.Close()
		if code != tc.code {
			t.Fatalf("scan beside %s: exit %d, want %d\n%s%s", tc.owner, code, tc.code, out, errs)
		}
		if tc.code == 0 {
			if strings.Contains(out, "NOT updated") {
				t.Fatalf("beside an indexer-project: %s", out)
			}
			continue
		}
		if !strings.Contains(out, "index NOT updated") || !strings.Contains(out, "held by indexer events (pid") ||
			!strings.Contains(errs, "run indexer-project") {
			t.Fatalf("scan beside %s:\n%s%s", tc.owner, out, errs)
		}
	}
}

// TestExcludedLeaveTheIndex: files indexed before that a scan now
// excludes leave the index, counted apart from deletions, exit 0.
func TestExcludedLeaveTheIndex(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "node_modules"), 0o755)
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(root, "node_modules", "m.js"), []byte("m"), 0o644)
	if code, out, errs := run(t, context.Background(), "--data", data, root); code != 0 {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := run(t, context.Background(), "--data", data, "--exclude", "node_modules", root)
	if code != 0 || !strings.Contains(out, "left out: 1 path excluded; 1 file recorded before left the view") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if st := indexStats(t, data); st.Files != 1 {
		t.Fatalf("index holds %d files after the exclusion, want 1", st.Files)
	}
	code, out, errs = run(t, context.Background(), "--data", data, "--json", "--exclude", "node_modules", root)
	var sum summary
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil || sum.Excluded != 1 || sum.Left != 0 || sum.Deleted != 0 {
		t.Fatalf("rescan: exit %d %+v\n%s%s", code, sum, out, errs)
	}
}
