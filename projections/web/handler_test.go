package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/projections/web"
)

// newServer serves the fixture index, projected by the real projector from
// real events, through a cache, as indexer-project does.
func newServer(t *testing.T) (*servicetest.Env, *httptest.Server) {
	t.Helper()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	cache := &service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}
	srv := httptest.NewServer(web.New(cache, nil))
	t.Cleanup(srv.Close)
	return env, srv
}

// get fetches path and decodes the JSON body into v, checking the status.
func get(t *testing.T, srv *httptest.Server, path string, want int, v any) http.Header {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d; body %s", path, res.StatusCode, want, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v; body %s", path, err, body)
		}
	}
	return res.Header
}

type compatFile struct {
	Meta struct {
		ID       uint64 `json:"id"`
		Name     string `json:"name"`
		Path     string `json:"path"`
		PathB64  string `json:"path_b64"`
		Machine  string `json:"machine"`
		Created  string `json:"created"`
		Modified string `json:"modified"`
		Scanned  string `json:"scanned"`
		// IsArchived and ArchivePath are required: pyFileIndexer always
		// sends them.
		IsArchived  *bool           `json:"is_archived"`
		ArchivePath json.RawMessage `json:"archive_path"`
	} `json:"meta"`
	Hash *struct {
		Size   int64  `json:"size"`
		MD5    string `json:"md5"`
		SHA1   string `json:"sha1"`
		SHA256 string `json:"sha256"`
	} `json:"hash"`
}

func paths(fs []compatFile) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Meta.Machine+":"+f.Meta.Path)
	}
	slices.Sort(out)
	return out
}

func TestCompatFiles(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	var page struct {
		Files   []compatFile `json:"files"`
		Total   int          `json:"total"`
		Page    int          `json:"page"`
		PerPage int          `json:"per_page"`
		Pages   int          `json:"pages"`
	}
	get(t, srv, "/api/files?name=report&per_page=2&page=2", 200, &page)
	if page.Total != 4 || page.Page != 2 || page.PerPage != 2 || page.Pages != 2 || len(page.Files) != 2 {
		t.Fatalf("page = total %d page %d per_page %d pages %d files %d, want 4 2 2 2 2", page.Total, page.Page, page.PerPage, page.Pages, len(page.Files))
	}
	get(t, srv, "/api/files?name=report&machine=nas1", 200, &page)
	if got, want := paths(page.Files), []string{"nas1:" + servicetest.NASReport}; !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q", got, want)
	}
	f := page.Files[0]
	if f.Hash == nil || f.Hash.Size != 3*servicetest.MiB || f.Hash.SHA256 != servicetest.Hashes("report").SHA256 || f.Meta.Name != "report-2025.pdf" {
		t.Fatalf("file = %+v / %+v", f.Meta, f.Hash)
	}
	if _, err := time.Parse(time.RFC3339, f.Meta.Scanned); err != nil || strings.HasPrefix(f.Meta.Scanned, "1970") {
		t.Fatalf("scanned = %q (%v), want the machine's last scan", f.Meta.Scanned, err)
	}
	// hash_value takes any digest; path is a substring of the path.
	get(t, srv, "/api/files?hash_value="+servicetest.Hashes("report").MD5+"&path=/docs/", 200, &page)
	if got, want := paths(page.Files), []string{
		"laptop:" + servicetest.ReportCopy, "laptop:" + servicetest.ReportPath, // not backup.zip::docs/
	}; !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q", got, want)
	}
	get(t, srv, "/api/files?min_size=100000000", 200, &page)
	if page.Total != 2 {
		t.Fatalf("files over 100 MB = %d, want the two movies", page.Total)
	}
	get(t, srv, "/api/files?max_size=0", 200, &page)
	if page.Total != 2 {
		t.Fatalf("empty files = %d, want 2", page.Total)
	}
	// A name that is not UTF-8 is shown escaped, with its bytes in base64.
	get(t, srv, "/api/files?name=latin1", 200, &page)
	if len(page.Files) != 1 || page.Files[0].Meta.Path != events.Path(servicetest.Latin1Path).String() ||
		page.Files[0].Meta.PathB64 != base64.StdEncoding.EncodeToString([]byte(servicetest.Latin1Path)) {
		t.Fatalf("latin1 file = %+v", page.Files)
	}
}

// TestCompatArchiveFields: a member of an archive says so, with the
// archive file that holds it, as pyFileIndexer does; other files have
// is_archived false and archive_path null. The "in archives" filter of the
// UI (archived=1) answers the members.
func TestCompatArchiveFields(t *testing.T) {
	t.Parallel()
	env, srv := newServer(t)
	var page struct {
		Files []compatFile `json:"files"`
	}
	get(t, srv, "/api/files?name=report&per_page=100", 200, &page)
	seen := 0
	for _, f := range page.Files {
		m := f.Meta
		if m.IsArchived == nil || len(m.ArchivePath) == 0 {
			t.Fatalf("%s: is_archived or archive_path missing", m.Path)
		}
		if m.Path != servicetest.ArchiveInner {
			if *m.IsArchived || string(m.ArchivePath) != "null" {
				t.Errorf("%s: is_archived %v, archive_path %s", m.Path, *m.IsArchived, m.ArchivePath)
			}
			continue
		}
		seen++
		if want := `"` + servicetest.ArchivePath + `"`; !*m.IsArchived || string(m.ArchivePath) != want {
			t.Errorf("%s: is_archived %v, archive_path %s, want true, %s", m.Path, *m.IsArchived, m.ArchivePath, want)
		}
	}
	if seen != 1 {
		t.Fatalf("the archive member is not among %d files", len(page.Files))
	}
	// A plain file whose name holds "::" is no member: the event's archive
	// field says what a path is, not its text.
	pc := servicetest.NewScan("pc", "/data", time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC))
	pc.Scanned(pc.File("/data/a::b report.txt", 10, "colons"))
	env.Publish(t, pc.Complete(events.ScanCounts{Seen: 1, Read: 1, Added: 1})...)
	get(t, srv, "/api/files?path=a::b&machine=pc", 200, &page)
	if len(page.Files) != 1 || *page.Files[0].Meta.IsArchived || string(page.Files[0].Meta.ArchivePath) != "null" {
		t.Fatalf("a::b = %+v, want is_archived false, archive_path null", page.Files)
	}
	var found struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	get(t, srv, "/api/find?archived=1", 200, &found)
	if len(found.Files) != 1 || found.Files[0].Path != servicetest.ArchiveInner {
		t.Fatalf("find archived = %+v", found)
	}
}

func TestCompatSearchStatisticsHealth(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	var list []compatFile
	hd := get(t, srv, "/api/search?query=IMG_01&per_page=5&page=2", 200, &list)
	if len(list) != 5 || hd.Get("X-Total-Count") != "30" || hd.Get("X-Pages") != "6" {
		t.Fatalf("search: %d files, total %q, pages %q; want 5, 30, 6", len(list), hd.Get("X-Total-Count"), hd.Get("X-Pages"))
	}
	get(t, srv, "/api/search?query=share/video&search_type=path", 200, &list)
	if got, want := paths(list), []string{"nas1:" + servicetest.MovieCopy, "nas1:" + servicetest.MoviePath}; !slices.Equal(got, want) {
		t.Fatalf("path search = %q, want %q", got, want)
	}
	get(t, srv, "/api/search?query="+servicetest.Hashes("movie").SHA1+"&search_type=hash", 200, &list)
	if len(list) != 2 {
		t.Fatalf("hash search found %d, want 2", len(list))
	}

	var st struct {
		TotalFiles     uint64            `json:"total_files"`
		TotalSize      uint64            `json:"total_size"`
		MachineStats   map[string]uint64 `json:"machine_stats"`
		DuplicateFiles uint64            `json:"duplicate_files"`
		WastedSize     uint64            `json:"wasted_size"`
	}
	get(t, srv, "/api/statistics", 200, &st)
	// laptop: 49 files seen, one deleted, one moved (same count), plus the
	// changed notes: 48 minus... counted by the index itself:
	if st.MachineStats["nas1"] != 5 || st.TotalFiles != st.MachineStats["laptop"]+5 {
		t.Fatalf("statistics = %+v", st)
	}
	// report x4, photo x2 (hard links), song x2, movie x2, empty x2.
	if st.DuplicateFiles != 12 {
		t.Fatalf("duplicate_files = %d, want 12", st.DuplicateFiles)
	}
	if want := uint64(9+5+100) * servicetest.MiB; st.WastedSize != want {
		t.Fatalf("wasted = %d, want %d (hard links waste nothing)", st.WastedSize, want)
	}
	var health map[string]any
	get(t, srv, "/health", 200, &health)
	if health["status"] != "healthy" || health["lag"] != float64(0) {
		t.Fatalf("health = %v", health)
	}
}

func TestCompatDuplicates(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	type group struct {
		Hash   string       `json:"hash"`
		Files  []compatFile `json:"files"`
		Count  uint64       `json:"count"`
		Inodes uint64       `json:"inodes"`
		Wasted uint64       `json:"wasted"`
		Size   uint64       `json:"size"`
	}
	var res struct {
		Duplicates  []group `json:"duplicates"`
		TotalGroups int     `json:"total_groups"`
		TotalFiles  int     `json:"total_files"`
		Page        int     `json:"page"`
		PerPage     int     `json:"per_page"`
		Pages       int     `json:"pages"`
	}
	// Default: at least 1 MiB, by count: report (4), then the pairs.
	get(t, srv, "/api/duplicates", 200, &res)
	if res.TotalGroups != 4 || res.Page != 1 || res.PerPage != 20 || res.Pages != 1 || res.TotalFiles != 10 {
		t.Fatalf("duplicates = groups %d files %d page %d per_page %d pages %d", res.TotalGroups, res.TotalFiles, res.Page, res.PerPage, res.Pages)
	}
	if g := res.Duplicates[0]; g.Hash != servicetest.Hashes("report").SHA256 || len(g.Files) != 4 || g.Wasted != 9*servicetest.MiB {
		t.Fatalf("first group = %s with %d files, wasted %d", g.Hash, len(g.Files), g.Wasted)
	}
	get(t, srv, "/api/duplicates?sort_by=size_asc&per_page=1&page=1", 200, &res)
	if g := res.Duplicates[0]; g.Hash != servicetest.Hashes("photo").SHA256 || g.Count != 2 || g.Inodes != 1 || g.Wasted != 0 {
		t.Fatalf("smallest group = %+v, want the hard-linked photo, wasting nothing", g)
	}
	if res.Pages != 4 {
		t.Fatalf("pages = %d, want 4", res.Pages)
	}
	get(t, srv, "/api/duplicates?min_size=0&min_count=3", 200, &res)
	if res.TotalGroups != 1 {
		t.Fatalf("groups of 3+ = %d, want 1", res.TotalGroups)
	}
}

func TestCompatTree(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	type tree struct {
		CurrentPath string   `json:"current_path"`
		Directories []string `json:"directories"`
		Files       []struct {
			Name     string `json:"name"`
			Size     int64  `json:"size"`
			Modified string `json:"modified"`
			Hash     *struct {
				SHA256 string `json:"sha256"`
			} `json:"hash"`
			Path    string `json:"path"`
			PathB64 string `json:"path_b64"`
		} `json:"files"`
		TotalFiles uint64 `json:"total_files"`
		Dirs       []struct {
			Name  string `json:"name"`
			Bytes uint64 `json:"bytes"`
		} `json:"dirs"`
	}
	var tr tree
	get(t, srv, "/api/tree", 200, &tr)
	if !slices.Equal(tr.Directories, []string{"laptop", "nas1"}) || tr.CurrentPath != "/" {
		t.Fatalf("root = %+v", tr)
	}
	get(t, srv, "/api/tree?path=/nas1", 200, &tr)
	if !slices.Equal(tr.Directories, []string{"srv"}) || tr.TotalFiles != 5 || tr.CurrentPath != "/nas1" {
		t.Fatalf("/nas1 = %+v", tr)
	}
	get(t, srv, "/api/tree?path=/nas1/srv/share/video/", 200, &tr)
	if len(tr.Files) != 2 || tr.Files[0].Size != 100*servicetest.MiB || tr.Files[0].Hash == nil || tr.CurrentPath != "/nas1/srv/share/video" {
		t.Fatalf("video = %+v", tr)
	}
	get(t, srv, "/api/tree?path=/laptop/home/ana/weird", 200, &tr)
	var names []string
	for _, f := range tr.Files {
		names = append(names, f.Name)
	}
	if !slices.Contains(names, `caf\xe9-latin1.txt`) || !slices.Contains(names, "line\nbreak.txt") {
		t.Fatalf("weird names = %q", names)
	}
	// Paths are strings, escaped, with the exact bytes in path_b64, as
	// /api/files and /api/search give them.
	for _, f := range tr.Files {
		if f.Name == `caf\xe9-latin1.txt` && (f.Path != `/home/ana/weird/caf\xe9-latin1.txt` || f.PathB64 != base64.StdEncoding.EncodeToString([]byte(servicetest.Latin1Path))) {
			t.Fatalf("latin1 file path %q, path_b64 %q", f.Path, f.PathB64)
		}
	}
	get(t, srv, "/api/tree?path=/laptop/no/such/dir", 404, nil)
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	for _, path := range []string{
		"/api/files?page=0",
		"/api/files?per_page=101",
		"/api/files?per_page=x",
		"/api/files?min_size=-1",
		"/api/files?machine=no.dots",
		"/api/files?hash_value=xyz",
		"/api/files?min_size=10&max_size=5",
		"/api/search",
		"/api/search?query=a&search_type=content",
		"/api/duplicates?min_count=1",
		"/api/duplicates?sort_by=name",
		"/api/tree?path=/bad%20machine/x",
		"/api/find?q=%5B&mode=glob",
		"/api/find?q=(&mode=regex",
		"/api/find?mode=fuzzy",
		"/api/find?archived=maybe",
		"/api/file?machine=laptop",
		"/api/file?path=/x",
		"/api/file?machine=laptop&path_b64=%%%",
		"/api/group",
		"/api/group?sha256=abc",
		"/api/ls",
		"/api/scans?limit=0",
		"/api/dupes?sort=name",
	} {
		var e struct {
			Detail string `json:"detail"`
		}
		get(t, srv, path, 400, &e)
		if e.Detail == "" {
			t.Errorf("GET %s: no detail in the 400", path)
		}
	}
	get(t, srv, "/api/nothing", 404, nil)
}

func TestFilePage(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	var d service.FileDetail
	get(t, srv, "/api/file?machine=laptop&path="+url.QueryEscape(servicetest.PhotoPath), 200, &d)
	if d.Group == nil || d.Group.Count != 2 || d.Group.Inodes != 1 || len(d.Copies) != 1 || string(d.Copies[0].Path) != servicetest.PhotoLink {
		t.Fatalf("photo = %+v", d)
	}
	if len(d.History) != 1 || d.History[0].Type != events.TypeFileScanned || len(d.History[0].Event) == 0 {
		t.Fatalf("photo history = %+v", d.History)
	}
	// Exact bytes through path_b64.
	b64 := base64.URLEncoding.EncodeToString([]byte(servicetest.Latin1Path))
	get(t, srv, "/api/file?machine=laptop&path_b64="+b64, 200, &d)
	if string(d.File.Path) != servicetest.Latin1Path {
		t.Fatalf("latin1 path = %q", d.File.Path)
	}
	// A path moved away: 404 for the file, its history remains; a path
	// never indexed has none.
	get(t, srv, "/api/file?machine=laptop&path="+url.QueryEscape(servicetest.MovedFrom), 404, nil)
	get(t, srv, "/api/history?machine=laptop&path=/no/such/file", 404, nil)
	var hist struct {
		History []service.HistoryEvent `json:"history"`
	}
	get(t, srv, "/api/history?machine=laptop&path="+url.QueryEscape(servicetest.MovedFrom), 200, &hist)
	if len(hist.History) != 2 || hist.History[1].Type != events.TypeFileMoved || !hist.History[1].MovedAway {
		t.Fatalf("moved-from history = %+v", hist.History)
	}
	get(t, srv, "/api/history?machine=laptop&path="+url.QueryEscape(servicetest.NotesPath), 200, &hist)
	if len(hist.History) != 2 || hist.History[1].Type != events.TypeFileChanged || hist.History[1].Stored.IsZero() {
		t.Fatalf("notes history = %+v", hist.History)
	}
	var ev events.Event
	if ev, err := events.Decode(hist.History[1].Event); err != nil || ev.Data.(*events.FileChanged).Reason != events.ReasonContent {
		t.Fatalf("notes change event: %v %+v", err, ev)
	}
	_ = ev
}

func TestStatusMetricsAndUI(t *testing.T) {
	t.Parallel()
	env, srv := newServer(t)
	var st service.Status
	get(t, srv, "/api/status", 200, &st)
	if !st.Live || st.Checkpoint == 0 || st.Checkpoint != st.LastSeq || st.Lag != 0 {
		t.Fatalf("status = %+v", st)
	}
	// The stats are cached, then invalidated by the next checkpoint.
	var s1, s2 struct {
		Files uint64 `json:"files"`
	}
	get(t, srv, "/api/stats", 200, &s1)
	get(t, srv, "/api/stats", 200, &s1)
	sc := servicetest.NewScan("nas1", "/srv/share", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	sc.Scanned(sc.File("/srv/share/new.txt", 5, "new"))
	env.Publish(t, sc.Complete(events.ScanCounts{Seen: 6, Added: 1})...)
	get(t, srv, "/api/stats", 200, &s2)
	if s2.Files != s1.Files+1 {
		t.Fatalf("files after a new one = %d, want %d: a cached answer outlived its checkpoint", s2.Files, s1.Files+1)
	}

	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`indexer_http_requests_total{code="200",route="GET /api/stats"} 3`,
		`indexer_query_cache_hits_total 1`,
		"indexer_projection_lag 0",
		"indexer_index_checkpoint ",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	res, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `<script src="app.js"`) || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET / = %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	for _, asset := range []string{"/app.js", "/app.css"} {
		get(t, srv, asset, 200, nil)
	}
}

func TestServer(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	s := &web.Server{Addr: "127.0.0.1:0", Handler: web.New(env.Local, nil)}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	res, err := http.Get(s.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("health: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	if err := (&web.Server{Addr: "bad address"}).Listen(); err == nil {
		t.Fatal("listen on a bad address succeeded")
	}
}

// TestModesArePOSIX: the API gives a file's mode as stat(2) and the CLI's
// JSON do, the st_mode number with ls's text, not Go's FileMode bits (a
// symbolic link was 134218239).
func TestModesArePOSIX(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	type file struct {
		Mode     uint32 `json:"mode"`
		ModeText string `json:"mode_text"`
	}
	var f file
	get(t, srv, "/api/lookup?machine=laptop&path="+url.QueryEscape(servicetest.NotesPath), 200, &f)
	if f.Mode != 0o100644 || f.ModeText != "-rw-r--r--" {
		t.Errorf("/api/lookup: mode %o %q, want 100644 -rw-r--r--", f.Mode, f.ModeText)
	}
	var d struct {
		File    file `json:"file"`
		History []struct {
			Event struct {
				Data file `json:"data"`
			} `json:"event"`
		} `json:"history"`
	}
	get(t, srv, "/api/file?machine=laptop&path="+url.QueryEscape(servicetest.NotesPath), 200, &d)
	if d.File.Mode != 0o100644 || len(d.History) == 0 || d.History[0].Event.Data.ModeText != "-rw-r--r--" {
		t.Errorf("/api/file: %+v", d)
	}
	var res struct{ Files []file }
	get(t, srv, "/api/find?q=notes", 200, &res)
	if len(res.Files) == 0 || res.Files[0].Mode != 0o100644 {
		t.Errorf("/api/find: %+v", res)
	}
}

// TestCompatTreeOneMachine: with one machine in the index /api/tree takes
// the path as it is on disk (/usr/share), as a user who scanned one
// machine types it; with several, the error names them; machine=M says
// which one.
func TestCompatTreeOneMachine(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	s := servicetest.NewScan("pc", "/usr/share", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	s.Scanned(s.File("/usr/share/doc/bash/README", 10, "bash"))
	env.Publish(t, s.Complete(events.ScanCounts{Seen: 1, Added: 1})...)
	one := httptest.NewServer(web.New(env.Local, nil))
	t.Cleanup(one.Close)
	type tree struct {
		CurrentPath string   `json:"current_path"`
		Directories []string `json:"directories"`
		Machine     string   `json:"machine"`
		TotalFiles  uint64   `json:"total_files"`
	}
	for _, path := range []string{"/usr/share", "/usr/share/", "usr/share", "/pc/usr/share"} {
		var tr tree
		get(t, one, "/api/tree?path="+url.QueryEscape(path), 200, &tr)
		if tr.Machine != "pc" || tr.CurrentPath != "/pc/usr/share" || !slices.Equal(tr.Directories, []string{"doc"}) || tr.TotalFiles != 1 {
			t.Errorf("one machine, path %q: %+v", path, tr)
		}
	}
	get(t, one, "/api/tree?path=/usr/nope", 404, nil)

	_, srv := newServer(t)
	var e struct{ Detail string }
	get(t, srv, "/api/tree?path=/home/ana", 400, &e)
	for _, want := range []string{`"home" is not a machine`, "laptop, nas1", "machine="} {
		if !strings.Contains(e.Detail, want) {
			t.Errorf("several machines: %q lacks %q", e.Detail, want)
		}
	}
	var tr tree
	get(t, srv, "/api/tree?machine=laptop&path=/home/ana/docs", 200, &tr)
	if tr.CurrentPath != "/laptop/home/ana/docs" || tr.TotalFiles == 0 {
		t.Errorf("machine=laptop: %+v", tr)
	}
}
