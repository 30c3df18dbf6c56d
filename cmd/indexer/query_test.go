package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/store"
)

// runMain runs the indexer with args and returns its stdout, stderr and
// exit code.
func runMain(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	err := m.Run(context.Background(), args)
	app.Report(&errOut, "indexer", err)
	return out.String(), errOut.String(), app.ExitCode(err)
}

// mustRun runs the indexer and fails unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runMain(t, args...)
	if code != 0 {
		t.Fatalf("indexer %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// lines returns the JSON lines of out decoded into maps.
func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		res = append(res, v)
	}
	return res
}

// queryCase is one command and what its output must show.
type queryCase struct {
	args  []string
	lines int      // with --json, the number of lines (-1: one object)
	holds []string // substrings of the output
}

var queryCases = []queryCase{
	{[]string{"find", "report", "--json"}, 4, []string{servicetest.NASReport, servicetest.ArchiveInner}},
	{[]string{"find", "--glob", "IMG_010?.jpg", "--json"}, 10, nil},
	{[]string{"find", "--regex", `^report.*\.pdf$`, "--machine", "nas1", "--json"}, 1, []string{servicetest.NASReport}},
	{[]string{"find", "--hash", servicetest.Hashes("report").MD5, "--json"}, 4, nil},
	{[]string{"find", "--path", "::", "--json"}, 1, []string{"backup.zip::docs"}},
	{[]string{"find", "--archived", "--json"}, 1, []string{servicetest.ArchiveInner}},
	{[]string{"find", "--ext", "txt", "--under", "/home/ana/weird", "--json"}, 3, []string{`"b64"`}},
	{[]string{"find", "--min-size", "50M", "--json"}, 2, []string{"movie"}},
	{[]string{"find", "img", "--limit", "5", "--page", "7", "--json"}, 3, nil}, // 33: 32 photos and <img ...>.html
	// A plain PATTERN with glob characters is a glob; with a slash, part
	// of a path (a glob with a slash: of the path's last components).
	{[]string{"find", "*.mkv", "--json"}, 2, []string{"movie.mkv", "movie-copy.mkv"}},
	{[]string{"find", "MOVIE-*", "--json"}, 1, []string{"movie-copy.mkv"}},
	{[]string{"find", "share/video/movie", "--json"}, 2, []string{"movie.mkv", "movie-copy.mkv"}},
	{[]string{"find", "ana/docs/", "--json"}, 3, []string{"final.md", "report-2025 (copy).pdf"}},
	{[]string{"find", "video/*", "--json"}, 2, []string{"movie.mkv"}},
	{[]string{"find", "share/*/movie?mkv", "--json"}, 1, []string{"movie.mkv"}},
	{[]string{"find", "/srv/*/*/movie.mkv", "--json"}, 1, []string{"movie.mkv"}},
	{[]string{"find", "report", "--ext", "pdf"}, 0, []string{"SIZE", "3.00 MiB", "report-2025 (copy).pdf"}},
	{[]string{"dupes", "--json", "--empty"}, 5, []string{`"wasted":104857600`, `"size":0`}},
	{[]string{"dupes", "--json"}, 4, []string{`"wasted":104857600`}}, // the empty files' group only with --empty
	{[]string{"dupes"}, 0, []string{"100 MiB wasted", "nothing wasted", "hard link of #1", "1 hard link"}},
	{[]string{"dupes", "--machine", "nas1", "--json"}, 1, []string{"movie-copy.mkv"}},
	{[]string{"dupes", "--sort", "count", "--min-count", "3", "--json"}, 1, []string{`"count":4`}},
	{[]string{"dupes", "--sort", "size", "--asc", "--min-size", "1M", "--limit", "1", "--json"}, 1, []string{`"size":2097152`}},
	{[]string{"stats", "--json"}, -1, []string{`"files":50`, `"archive_members":1`, `"duplicate_groups":5`, `"last_scans"`}},
	{[]string{"stats"}, 0, []string{"114 MiB wasted", "laptop", "nas1", "STARTED", "5 groups (one of them the empty files, which dupes lists with --empty)"}},
	{[]string{"show", servicetest.NotesPath}, 0, []string{"sha256", "content: 1.46 KiB", "FileChanged", "no other file"}},
	{[]string{"show", servicetest.PhotoLink, "--json"}, -1, []string{servicetest.PhotoPath, `"inodes":1`}},
	{[]string{"show", servicetest.PhotoLink}, 0, []string{"hard link: the same inode"}},
	{[]string{"history", servicetest.MovedFrom, "--json"}, 2, []string{`"moved_away":true`}},
	{[]string{"history", servicetest.MovedTo}, 0, []string{"FileMoved", "from /home/ana/draft.md"}},
	{[]string{"tree", "/home/ana", "--machine", "laptop"}, 0, []string{"photos/", "notes.txt", "45 files, 152 MiB, 1 in archives (3.00 MiB)", "backup.zip::docs/"}},
	{[]string{"ls", "/srv/share", "--json"}, -1, []string{`"machine":"nas1"`}},
	{[]string{"tree"}, 0, []string{"MACHINE", "laptop", "nas1"}},
	{[]string{"machines", "--json"}, 2, []string{`"name":"laptop"`}},
	{[]string{"scans", "--json"}, 3, []string{`"state":"complete"`}},
	{[]string{"scans", "--machine", "nas1"}, 0, []string{"/srv/share"}},
}

// checkCases runs every query case on the data directory dir and returns
// the --json outputs by command line, so two modes can be compared.
func checkCases(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range queryCases {
		args := append(append([]string{}, c.args...), "--data", dir)
		got := mustRun(t, args...)
		key := strings.Join(c.args, " ")
		out[key] = got
		for _, h := range c.holds {
			if !strings.Contains(got, h) {
				t.Errorf("indexer %s: output lacks %q:\n%s", key, h, got)
			}
		}
		switch {
		case c.lines > 0:
			if n := len(lines(t, got)); n != c.lines {
				t.Errorf("indexer %s: %d lines, want %d:\n%s", key, n, c.lines, got)
			}
		case c.lines < 0:
			if n := len(lines(t, got)); n != 1 {
				t.Errorf("indexer %s: %d objects, want 1", key, n)
			}
		}
	}
	return out
}

func TestQueryStandalone(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	env.Close() // nobody owns the directory now: index.db is read directly
	checkCases(t, env.Dir)
	// stats reads index.db alone: the log's last sequence is unknown, and
	// left out rather than given as 0.
	st := lines(t, mustRun(t, "stats", "--json", "--data", env.Dir))[0]["status"].(map[string]any)
	if _, ok := st["last_seq"]; ok || st["live"] != false || st["checkpoint"].(float64) == 0 {
		t.Errorf("stats --json status without a projector: %v", st)
	}
	if out := mustRun(t, "stats", "--data", env.Dir); !strings.Contains(out, "no projector running") {
		t.Errorf("stats without a projector does not say so:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"find", "--glob", "["}, app.ExitUsage, "glob"},
		{[]string{"find", "--regex", "("}, app.ExitUsage, "regex"},
		{[]string{"find", "--hash", "xyz"}, app.ExitUsage, "digest"},
		{[]string{"find", "--min-size", "lots"}, app.ExitUsage, "size"},
		{[]string{"dupes", "--sort", "name"}, app.ExitUsage, "--sort"},
		{[]string{"show"}, app.ExitUsage, "missing PATH"},
		{[]string{"show", "/no/such/file"}, app.ExitError, "not found"},
		{[]string{"history", "/no/such/file"}, app.ExitError, "not found"},
		{[]string{"tree", "/no/such/dir"}, app.ExitError, "not found"},
		{[]string{"show", "/x", "--machine", "bad.name"}, app.ExitUsage, "--machine"},
		{[]string{"show", "/x", "--machine", "ünï"}, app.ExitUsage, `"ü" is not allowed`},
		// Commands without positional arguments refuse extras; the others
		// refuse a second one.
		{[]string{"stats", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"machines", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"scans", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"dupes", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"events", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"find", "a", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"tree", "/a", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"ls", "/a", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"show", "/a", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
		{[]string{"history", "/a", "extra"}, app.ExitUsage, `unexpected argument "extra"`},
	} {
		_, errOut, code := runMain(t, append(c.args, "--data", env.Dir)...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("indexer %s: exit %d, want %d; stderr %q should hold %q", strings.Join(c.args, " "), code, c.code, errOut, c.msg)
		}
	}
	_, errOut, code := runMain(t, "stats", "--data", t.TempDir())
	if code != app.ExitError || !strings.Contains(errOut, "no index") {
		t.Errorf("stats on an empty directory: exit %d, %q", code, errOut)
	}
}

func TestQueryThroughOwner(t *testing.T) {
	t.Parallel()
	// An owner as indexer-project is: the directory locked, the embedded
	// server listening with its URL in the directory, the projector holding
	// index.db, the query service on NATS.
	env := servicetest.MustOpen(t, servicetest.Options{Listen: true, Lock: true})
	env.Publish(t, servicetest.Fixture()...)
	svc, err := service.Serve(env.Log, &service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	remote := checkCases(t, env.Dir)
	st := lines(t, mustRun(t, "stats", "--json", "--data", env.Dir))[0]["status"].(map[string]any)
	if st["last_seq"] == nil || st["last_seq"] != st["checkpoint"] || st["live"] != true || st["lag"] != 0.0 {
		t.Errorf("stats --json status through the owner: %v", st)
	}
	// --server asks the service on any NATS server, whatever --data holds.
	out := mustRun(t, "find", "report", "--json", "--server", env.Server.ClientURL(), "--data", t.TempDir())
	if n := len(lines(t, out)); n != 4 {
		t.Errorf("find through --server: %d lines, want 4", n)
	}

	// The same answers as reading the file directly, once the owner is gone.
	svc.Stop()
	env.Close()
	local := checkCases(t, env.Dir)
	for k, v := range remote {
		if !strings.Contains(k, "--json") || strings.HasPrefix(k, "stats") {
			continue // tables hold local times; stats hold the live status
		}
		if local[k] != v {
			t.Errorf("indexer %s: through the owner\n%s\ndirectly\n%s", k, v, local[k])
		}
	}
}

// TestQueryAnotherIndex: --index asks a file built elsewhere (time travel:
// rebuild --until-time --into FILE), whatever the data directory holds.
func TestQueryAnotherIndex(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	env.Close()
	past := filepath.Join(t.TempDir(), "past.db")
	b, err := os.ReadFile(store.Dir(env.Dir).IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(past, b, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	want := lines(t, mustRun(t, "stats", "--json", "--data", env.Dir))[0]["files"]
	if got := lines(t, mustRun(t, "stats", "--json", "--data", empty, "--index", past))[0]["files"]; got != want || want == nil {
		t.Errorf("stats --index: %v files, want %v", got, want)
	}
	if out := mustRun(t, "history", servicetest.NotesPath, "--data", empty, "--index", past); !strings.Contains(out, "FileChanged") {
		t.Errorf("history --index:\n%s", out)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("--index made %d entries in the data directory", len(entries))
	}
	if _, errOut, code := runMain(t, "stats", "--index", filepath.Join(empty, "nope.db")); code != app.ExitUsage || !strings.Contains(errOut, "--index") {
		t.Errorf("--index of a missing file: exit %d %q", code, errOut)
	}
}

// A bad INDEXER_* value stops a query with a usage error naming it, even
// one that reads index.db without opening the log.
func TestBadEnvironment(t *testing.T) {
	t.Setenv("INDEXER_LOG_LEVEL", "loud")
	_, errOut, code := runMain(t, "stats", "--data", t.TempDir())
	if code != app.ExitUsage || !strings.Contains(errOut, `INDEXER_LOG_LEVEL="loud"`) {
		t.Fatalf("stats with INDEXER_LOG_LEVEL=loud: exit %d\n%s", code, errOut)
	}
}
