package service_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/store/storetest"
)

// ask runs every query against q; the answers (as JSON, errors as text)
// let two implementations be compared.
func ask(t *testing.T, q service.Queries) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	put := func(name string, v any, err error) {
		if err != nil {
			kind := "error"
			switch {
			case errors.Is(err, projections.ErrNotFound):
				kind = "not found"
			case errors.Is(err, projections.ErrBadQuery):
				// Its text is for the user: the same over NATS.
				kind = "bad query (" + err.Error() + ")"
			}
			out[name] = kind
			return
		}
		b, _ := json.Marshal(v)
		out[name] = string(b)
	}
	f, err := q.Lookup(ctx, "laptop", servicetest.Latin1Path)
	put("lookup latin1", f, err)
	f, err = q.Lookup(ctx, "laptop", "/nope")
	put("lookup missing", f, err)
	f, err = q.Lookup(ctx, "", "/x")
	put("lookup no machine", f, err)
	d, err := q.Show(ctx, "laptop", servicetest.ReportPath)
	put("show report", d, err)
	for name, r := range servicetest.FindQuestions() {
		res, err := q.Find(ctx, r)
		put(name, res, err)
	}
	for name, r := range servicetest.DupesQuestions() {
		res, err := q.Dupes(ctx, r)
		put(name, res, err)
	}
	g, err := q.Group(ctx, servicetest.Hashes("photo").SHA256, -1)
	put("group photo", g, err)
	s, err := q.Stats(ctx)
	put("stats", s, err)
	tr, err := q.Tree(ctx, service.TreeRequest{Machine: "laptop", Dir: "/home/ana/weird"})
	put("tree weird", tr, err)
	tr, err = q.Tree(ctx, service.TreeRequest{Machine: "laptop", Dir: "/nope"})
	put("tree missing", tr, err)
	hs, err := q.History(ctx, "laptop", servicetest.MovedFrom)
	put("history moved", hs, err)
	ms, err := q.Machines(ctx)
	put("machines", ms, err)
	ss, err := q.Scans(ctx, "laptop", 1)
	put("scans", ss, err)
	return out
}

func TestLocalAnswers(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	a := ask(t, env.Local)
	for name, want := range map[string]string{
		"lookup missing":    "not found",
		"lookup no machine": "bad query",
		"tree missing":      "not found",
		"find bad glob":     "bad query",
		"find bad mode":     "bad query",
		"find bad hash":     "bad query",
		"dupes bad":         "bad query",
	} {
		if a[name] != want && !strings.HasPrefix(a[name], want+" (") {
			t.Errorf("%s = %s, want %s", name, a[name], want)
		}
	}
	for name, holds := range map[string][]string{
		"lookup latin1": {`"b64":"` + base64.StdEncoding.EncodeToString([]byte(servicetest.Latin1Path)) + `"`},
		"show report":   {`"count":4`, servicetest.NASReport, `"type":"FileScanned"`, `"event":{`},
		"find report":   {`"total":4`, `"indexed":true`},
		"find glob":     {`"total":3`, "IMG_0105.jpg", "IMG_0115.jpg", "IMG_0125.jpg"},
		"find regex":    {`"total":3`},
		"find hash":     {`"total":1`, "/srv/share/music/song.flac"},
		"find archived": {`"total":1`, "backup.zip::docs/report-2025.pdf"},
		"find both":     {`"total":1`, "backup.zip::docs"},
		"find contains": {`"total":2`, "movie-copy.mkv"},
		"find under":    {`"total":4`, "IMG_0127.jpg", "IMG_0128.jpg"},
		"dupes":         {`"total":5`, "movie.mkv"},
		"dupes count":   {`"total":4`},
		"dupes machine": {`"total":3`, `"count":3`, `"wasted":6291456`}, // song is on laptop once
		"group photo":   {`"count":2`, `"inodes":1`, `"wasted":0`, servicetest.PhotoLink},
		"history moved": {`"moved_away":true`},
		"scans":         {`"machine":"laptop"`, `"changed":1`},
		"tree weird":    {`"files":4`, `line\nbreak.txt`},
	} {
		for _, h := range holds {
			if !strings.Contains(a[name], h) {
				t.Errorf("%s lacks %s:\n%s", name, h, a[name])
			}
		}
	}
}

// TestServeAndClient checks that the NATS service and its client give
// exactly the answers of the index itself, errors included.
func TestServeAndClient(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, append(servicetest.Fixture(), servicetest.UnknownInodes()...)...)
	svc, err := service.Serve(env.Log, env.Local, map[string]string{"index": "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	local, remote := ask(t, env.Local), ask(t, &service.Client{Log: env.Log})
	for name, want := range local {
		if remote[name] != want {
			t.Errorf("%s over NATS:\n%s\nlocally:\n%s", name, remote[name], want)
		}
	}
	st, err := (&service.Client{Log: env.Log}).Status(context.Background())
	if err != nil || !st.Live || st.Lag != 0 || st.Checkpoint == 0 {
		t.Fatalf("status = %+v, %v", st, err)
	}
	svc.Stop()
	_, err = (&service.Client{Log: env.Log}).Stats(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no service") {
		t.Fatalf("stats with no service = %v, want no responders", err)
	}
}

// TestUnknownInodesAreCopies checks the one rule of copies on disk where
// the two duplicates queries disagreed: files whose inode is unknown (0) are
// each a copy, never hard links of one inode, asked of every machine or of
// theirs.
func TestUnknownInodesAreCopies(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, append(servicetest.Fixture(), servicetest.UnknownInodes()...)...)
	ctx := context.Background()
	sha := servicetest.Hashes("blob").SHA256
	blob := func(q service.DupesRequest) projections.Group {
		t.Helper()
		res, err := env.Local.Dupes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range res.Groups {
			if g.SHA256 == sha {
				return g.Group
			}
		}
		t.Fatalf("dupes %+v has no group of the blob: %+v", q, res)
		return projections.Group{}
	}
	want := projections.Group{SHA256: sha, Size: servicetest.MiB, Count: 2, Inodes: 2, Wasted: servicetest.MiB}
	for _, q := range []service.DupesRequest{{Limit: -1}, {Machine: servicetest.ScratchMachine}} {
		if got := blob(q); got != want {
			t.Errorf("dupes %+v: blob group %+v, want %+v", q, got, want)
		}
	}
	g, err := env.Local.Group(ctx, sha, 0)
	if err != nil || g.Group != want {
		t.Errorf("group = %+v, %v, want %+v", g.Group, err, want)
	}
}

// counting counts the queries that reach the index behind a cache.
type counting struct {
	service.Queries
	stats, trees atomic.Int64
}

func (c *counting) Stats(ctx context.Context) (projections.Stats, error) {
	c.stats.Add(1)
	return c.Queries.Stats(ctx)
}

func (c *counting) Tree(ctx context.Context, q service.TreeRequest) (projections.Tree, error) {
	c.trees.Add(1)
	return c.Queries.Tree(ctx, q)
}

func TestCache(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	ctx := context.Background()
	inner := &counting{Queries: env.Local}
	c := &service.Cache{Queries: inner, Checkpoint: env.Projector.Checkpoint}
	s1, _ := c.Stats(ctx)
	s2, _ := c.Stats(ctx)
	if inner.stats.Load() != 1 || !reflect.DeepEqual(s1, s2) {
		t.Fatalf("two stats reached the index %d times", inner.stats.Load())
	}
	// An answer that found nothing is cached too.
	missing := service.TreeRequest{Machine: "laptop", Dir: "/home/ana/later"}
	for range 3 {
		if _, err := c.Tree(ctx, missing); !errors.Is(err, projections.ErrNotFound) {
			t.Fatalf("tree of a missing dir: %v", err)
		}
	}
	if inner.trees.Load() != 1 {
		t.Fatalf("three trees of a missing dir reached the index %d times", inner.trees.Load())
	}
	// A new checkpoint drops everything: the new file and dir show at once.
	sc := servicetest.NewScan("laptop", "/home/ana", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	sc.Scanned(sc.File("/home/ana/later/new.txt", 10, "new"))
	env.Publish(t, sc.Complete(events.ScanCounts{Added: 1})...)
	s3, _ := c.Stats(ctx)
	if s3.Files != s1.Files+1 || inner.stats.Load() != 2 {
		t.Fatalf("stats after a new file: %d files (was %d), %d computations", s3.Files, s1.Files, inner.stats.Load())
	}
	tr, err := c.Tree(ctx, missing)
	if err != nil || tr.Files != 1 {
		t.Fatalf("tree of the new dir = %+v, %v", tr, err)
	}
	if cs := c.CacheStats(); cs.Hits != 3 || cs.Misses != 4 {
		t.Fatalf("cache stats = %+v, want 3 hits, 4 misses", cs)
	}
}

// TestNATSCLI lists and asks the service with the real NATS CLI, as a
// user on another machine would.
func TestNATSCLI(t *testing.T) {
	t.Parallel()
	nats := storetest.NATSCLI(t)
	env := servicetest.MustOpen(t, servicetest.Options{Listen: true})
	env.Publish(t, servicetest.Fixture()...)
	svc, err := service.Serve(env.Log, &service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(nats, append([]string{"--server", env.Server.ClientURL(), "--timeout", "10s"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user contexts
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("micro", "ls"); !strings.Contains(out, service.Name) || !strings.Contains(out, service.Version) {
		t.Fatalf("nats micro ls:\n%s", out)
	}
	if out := run("micro", "info", service.Name); !strings.Contains(out, "indexer.find") || !strings.Contains(out, "indexer.stats") {
		t.Fatalf("nats micro info:\n%s", out)
	}
	body := func(out string) map[string]any {
		t.Helper()
		i := strings.Index(out, "{")
		var v map[string]any
		if i < 0 || json.Unmarshal([]byte(strings.TrimSpace(out[i:])), &v) != nil {
			t.Fatalf("reply is not a JSON object:\n%s", out)
		}
		return v
	}
	// 50 files on disk and one archive member, counted apart.
	if v := body(run("req", "--raw", "indexer.stats", "")); v["files"] != float64(50) || v["archive_members"] != float64(1) {
		t.Fatalf("indexer.stats files = %v, archive members = %v", v["files"], v["archive_members"])
	}
	if v := body(run("req", "--raw", "indexer.find", `{"pattern":"report","machine":"nas1"}`)); v["total"] != float64(1) {
		t.Fatalf("indexer.find total = %v", v["total"])
	}
	if v := body(run("req", "--raw", "indexer.lookup", `{"machine":"nas1","path":"`+servicetest.MoviePath+`"}`)); v["size"] != float64(100*servicetest.MiB) {
		t.Fatalf("indexer.lookup = %v", v)
	}
	// An error comes back in the service error headers.
	if out := run("req", "indexer.find", `{"pattern":"[","mode":"glob"}`); !strings.Contains(out, "Nats-Service-Error-Code: 400") {
		t.Fatalf("a bad request:\n%s", out)
	}
}

// TestLargeRepliesOverNATS: answers several times NATS's max payload (QA's
// case: find and dupes of thousands of files with no limit) come through
// the Client exactly as the index gives them.
func TestLargeRepliesOverNATS(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	// 6,000 files on one machine, half of them copied to another: 3,000 more
	// duplicate groups than the synthetic scan has of its own.
	var evs []events.Event
	servicetest.Generate(servicetest.Big, 6_000, func(e events.Event) error { evs = append(evs, e); return nil })
	backup := servicetest.NewScan("backup", "/backup", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for i := range 3_000 {
		f := servicetest.GenFile(servicetest.Big, i)
		f.Path = "/backup" + f.Path
		backup.Scanned(f)
	}
	env.Publish(t, append(evs, backup.Complete(events.ScanCounts{Seen: 3_000, Added: 3_000})...)...)
	svc, err := service.Serve(env.Log, env.Local, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	// The Client's default of 10 s is ample, but not on a loaded machine
	// under the race detector.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &service.Client{Log: env.Log}
	limit := int(env.Log.Conn.MaxPayload())
	same := func(name string, local, remote any, lerr, rerr error) {
		t.Helper()
		if lerr != nil || rerr != nil {
			t.Fatalf("%s: locally %v, over NATS %v", name, lerr, rerr)
		}
		l, _ := json.Marshal(local)
		r, _ := json.Marshal(remote)
		if len(l) < 2*limit {
			t.Fatalf("%s: the answer is %d bytes, want over twice the max payload (%d) for the test to mean something", name, len(l), limit)
		}
		if string(l) != string(r) {
			t.Fatalf("%s: %d bytes over NATS differ from the %d bytes of the index", name, len(r), len(l))
		}
	}
	for name, r := range map[string]service.FindRequest{
		"find --limit 0":               {Limit: -1},
		"find --machine big --limit 0": {Machine: servicetest.Big, Limit: -1},
	} {
		l, lerr := env.Local.Find(ctx, r)
		rm, rerr := client.Find(ctx, r)
		same(name, l, rm, lerr, rerr)
	}
	for name, r := range map[string]service.DupesRequest{
		"dupes --limit 0":             {Limit: -1, Files: -1},
		"dupes --sort size --limit 0": {Sort: "size", Limit: -1, Files: -1},
	} {
		l, lerr := env.Local.Dupes(ctx, r)
		rm, rerr := client.Dupes(ctx, r)
		same(name, l, rm, lerr, rerr)
	}
}
