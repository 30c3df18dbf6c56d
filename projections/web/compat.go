package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

// The pyFileIndexer shapes. Fields beyond pyFileIndexer's are additions its
// clients ignore.

type compatFile struct {
	Meta compatMeta  `json:"meta"`
	Hash *compatHash `json:"hash"`
}

type compatMeta struct {
	ID        uint64  `json:"id"`
	HashID    *uint64 `json:"hash_id"`
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	Machine   string  `json:"machine"`
	Created   string  `json:"created"`
	Modified  string  `json:"modified"`
	Scanned   string  `json:"scanned"`
	Operation string  `json:"operation"`
	// PathB64 is the exact bytes of a path that is not UTF-8; Path and
	// Name then show it with \xNN escapes.
	PathB64 string `json:"path_b64,omitempty"`
	Size    int64  `json:"size"`
	Seq     uint64 `json:"seq"`
	// IsArchived and ArchivePath are pyFileIndexer's: a member of an
	// archive (path ARCHIVE::inner) and the archive file on disk that holds
	// it (null for other files).
	IsArchived  bool    `json:"is_archived"`
	ArchivePath *string `json:"archive_path"`
}

type compatHash struct {
	ID     *uint64 `json:"id"`
	Size   int64   `json:"size"`
	MD5    string  `json:"md5"`
	SHA1   string  `json:"sha1"`
	SHA256 string  `json:"sha256"`
}

// isoTime formats like pyFileIndexer's datetimes, in UTC.
func isoTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// scannedAt returns, per machine, when its last scan ended: the latest time
// the index knows every file of that machine was there (an unchanged file
// leaves no event of its own).
func (h *Handler) scannedAt(ctx context.Context) map[string]time.Time {
	ms, err := h.Queries.Machines(ctx)
	out := map[string]time.Time{}
	if err != nil {
		return out
	}
	for _, m := range ms {
		t := m.LastScanEnd
		if t.IsZero() {
			t = m.LastEvent
		}
		out[m.Name] = t
	}
	return out
}

// displayPath returns p as exact text when it is UTF-8, else escaped, with
// the bytes in base64.
func displayPath(p events.Path) (text, b64 string) {
	if utf8.ValidString(string(p)) {
		return string(p), ""
	}
	return p.String(), base64.StdEncoding.EncodeToString([]byte(p))
}

func toCompat(f projections.File, scanned map[string]time.Time) compatFile {
	path, b64 := displayPath(f.Path)
	name := path[strings.LastIndexByte(path, '/')+1:]
	created := f.BTime
	if created == 0 {
		created = f.CTime
	}
	c := compatFile{Meta: compatMeta{
		ID: f.ID, Name: name, Path: path, PathB64: b64, Machine: f.Machine,
		Created: isoTime(nsTime(created)), Modified: isoTime(nsTime(f.MTime)), Scanned: isoTime(scanned[f.Machine]),
		Operation: "ADD", Size: f.Size, Seq: f.Seq,
	}}
	if f.IsMember() {
		// The event's archive field says what the path is, as for find's
		// archived filter: a real name may hold "::" too.
		archive, _ := displayPath(f.Archive.Path)
		c.Meta.IsArchived, c.Meta.ArchivePath = true, &archive
	}
	if !f.Hashes.IsZero() {
		c.Hash = &compatHash{Size: f.Size, MD5: f.Hashes.MD5, SHA1: f.Hashes.SHA1, SHA256: f.Hashes.SHA256}
	}
	return c
}

func (h *Handler) toCompatList(ctx context.Context, files []projections.File) []compatFile {
	scanned := h.scannedAt(ctx)
	out := make([]compatFile, 0, len(files))
	for _, f := range files {
		out = append(out, toCompat(f, scanned))
	}
	return out
}

func pages(total int, perPage int64) int {
	if total == 0 {
		return 0
	}
	return int((int64(total) + perPage - 1) / perPage)
}

// health: GET /health, {"status":"healthy"} plus the index's position.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) error {
	if h.Health != nil {
		return h.healthVerdict(w, r, h.Health)
	}
	st, err := h.Queries.Status(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		return writeJSON(w, map[string]any{"status": "unhealthy", "error": err.Error()})
	}
	return writeJSON(w, map[string]any{"status": "healthy", "checkpoint": st.Checkpoint, "last_seq": st.LastSeq, "lag": st.Lag, "live": st.Live})
}

// files: GET /api/files?page&per_page&name&path&machine&min_size&max_size&hash_value.
func (h *Handler) files(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	page := p.int("page", 1, 1, maxInt)
	perPage := p.int("per_page", 20, 1, 100)
	q := service.FindRequest{
		Pattern:      p.str("name"),
		PathContains: p.str("path"),
		Machine:      p.machine("machine", false),
		MinSize:      p.int("min_size", 0, 0, maxInt),
		MaxSize:      p.int("max_size", 0, 0, maxInt),
		Hash:         strings.TrimSpace(p.str("hash_value")),
		Limit:        int(perPage),
		Offset:       int((page - 1) * perPage),
	}
	if strings.TrimSpace(p.str("max_size")) == "0" {
		q.MaxSize = -1 // max_size=0: only empty files
	}
	if p.err != nil {
		return p.err
	}
	res, err := h.find0(r.Context(), q)
	if err != nil {
		return err
	}
	body := map[string]any{
		"files": h.toCompatList(r.Context(), res.Files), "total": res.Total,
		"page": page, "per_page": perPage, "pages": pages(res.Total, perPage),
	}
	if res.TotalCapped { // total and pages are lower bounds
		body["total_capped"] = true
	}
	return writeJSON(w, body)
}

// find0 runs q, where MaxSize -1 means files of size 0, which FindRequest
// cannot say (its MaxSize 0 is "no maximum").
func (h *Handler) find0(ctx context.Context, q service.FindRequest) (projections.FindResult, error) {
	if q.MaxSize >= 0 {
		return h.Queries.Find(ctx, q)
	}
	limit, offset := q.Limit, q.Offset
	q.MaxSize, q.Limit, q.Offset = 1, -1, 0
	res, err := h.Queries.Find(ctx, q)
	if err != nil {
		return res, err
	}
	var empty []projections.File
	for _, f := range res.Files {
		if f.Size == 0 {
			empty = append(empty, f)
		}
	}
	res.Total = len(empty)
	if offset < len(empty) {
		empty = empty[offset:]
	} else {
		empty = nil
	}
	if len(empty) > limit {
		empty = empty[:limit]
	}
	res.Files = empty
	return res, nil
}

// search: GET /api/search?query&search_type=name|path|hash, paged here with
// page and per_page (default 100, at most 1000). The body is pyFileIndexer's
// list; X-Total-Count and X-Pages say what is beyond the page.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	query := strings.TrimSpace(p.str("query"))
	if query == "" {
		p.fail("query is required")
	}
	typ := p.oneOf("search_type", "name", "name", "path", "hash")
	page := p.int("page", 1, 1, maxInt)
	perPage := p.int("per_page", 100, 1, 1000)
	if p.err != nil {
		return p.err
	}
	q := service.FindRequest{Limit: int(perPage), Offset: int((page - 1) * perPage)}
	switch typ {
	case "name":
		q.Pattern = query
	case "path":
		q.Pattern, q.Path = query, true
	case "hash":
		q.Hash = query
	}
	res, err := h.Queries.Find(r.Context(), q)
	if err != nil {
		return err
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(res.Total))
	w.Header().Set("X-Page", strconv.FormatInt(page, 10))
	w.Header().Set("X-Per-Page", strconv.FormatInt(perPage, 10))
	w.Header().Set("X-Pages", strconv.Itoa(pages(res.Total, perPage)))
	if res.TotalCapped { // the two above are lower bounds
		w.Header().Set("X-Total-Capped", "true")
	}
	return writeJSON(w, h.toCompatList(r.Context(), res.Files))
}

// statistics: GET /api/statistics.
func (h *Handler) statistics(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := h.Queries.Stats(ctx)
	if err != nil {
		return err
	}
	perMachine := map[string]uint64{}
	for _, m := range s.Machines {
		perMachine[m.Name] = m.Files
	}
	// pyFileIndexer's duplicate_files: files whose content another file
	// also has.
	groups, err := h.Queries.Dupes(ctx, service.DupesRequest{Limit: -1})
	if err != nil {
		return err
	}
	var dupFiles uint64
	for _, g := range groups.Groups {
		dupFiles += g.Count
	}
	return writeJSON(w, map[string]any{
		"total_files": s.Files, "total_size": s.Bytes, "machine_stats": perMachine, "duplicate_files": dupFiles,
		"unique_size": s.UniqueBytes, "duplicate_groups": s.Groups, "wasted_size": s.Wasted,
		"checkpoint": s.Checkpoint, "dead_letters": s.DeadLetters,
	})
}

// duplicates: GET /api/duplicates?page&per_page&min_size&min_count&sort_by.
func (h *Handler) duplicates(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	page := p.int("page", 1, 1, maxInt)
	perPage := p.int("per_page", 20, 1, 100)
	minSize := p.int("min_size", 1<<20, 0, maxInt)
	minCount := p.int("min_count", 2, 2, maxInt)
	sortBy := p.oneOf("sort_by", "count_desc", "count_desc", "count_asc", "size_desc", "size_asc", "wasted_desc", "wasted_asc")
	if p.err != nil {
		return p.err
	}
	by, dir, _ := strings.Cut(sortBy, "_")
	res, err := h.Queries.Dupes(r.Context(), service.DupesRequest{
		Sort: by, Asc: dir == "asc", MinSize: uint64(minSize), MinCount: uint64(minCount),
		Files: 100, Limit: int(perPage), Offset: int((page - 1) * perPage),
	})
	if err != nil {
		return err
	}
	scanned := h.scannedAt(r.Context())
	type group struct {
		Hash   string       `json:"hash"`
		Files  []compatFile `json:"files"`
		Size   uint64       `json:"size"`
		Count  uint64       `json:"count"`
		Inodes uint64       `json:"inodes"`
		Wasted uint64       `json:"wasted"`
	}
	out := make([]group, 0, len(res.Groups))
	files := 0
	for _, g := range res.Groups {
		cg := group{Hash: g.SHA256, Size: g.Size, Count: g.Count, Inodes: g.Inodes, Wasted: g.Wasted, Files: []compatFile{}}
		for _, f := range g.Files {
			cg.Files = append(cg.Files, toCompat(f, scanned))
		}
		files += len(cg.Files)
		out = append(out, cg)
	}
	return writeJSON(w, map[string]any{
		"duplicates": out, "total_groups": res.Total, "total_files": files,
		"page": page, "per_page": perPage, "pages": pages(res.Total, perPage),
	})
}

// tree: GET /api/tree?path=/machine/dir/... (or path_b64). "" or "/" lists
// the machines as directories. With one machine in the index the path may
// leave it out (path=/usr/share), and machine=M says which machine the path
// is on. It reads the directory index: one directory's own keys, never the
// rows below it.
func (h *Handler) tree(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	full := string(p.path("path", false))
	machine := p.machine("machine", false)
	limit := p.int("per_page", 1000, 1, 100000)
	page := p.int("page", 1, 1, maxInt)
	if p.err != nil {
		return p.err
	}
	ctx := r.Context()
	// Paths as the other compatible endpoints give them: a string (with
	// \xNN escapes where a name is not UTF-8) and then path_b64.
	type dir struct {
		Name    string `json:"name"`
		Path    string `json:"path"`
		PathB64 string `json:"path_b64,omitempty"`
		Files   uint64 `json:"files"`
		Bytes   uint64 `json:"bytes"`
	}
	type file struct {
		Name     string      `json:"name"`
		Size     int64       `json:"size"`
		Modified string      `json:"modified"`
		Hash     *compatHash `json:"hash"`
		Path     string      `json:"path"`
		PathB64  string      `json:"path_b64,omitempty"`
	}
	if strings.Trim(full, "/") == "" && machine == "" {
		ms, err := h.Queries.Machines(ctx)
		if err != nil {
			return err
		}
		names, dirs := []string{}, []dir{}
		var files, bytes uint64
		for _, m := range ms {
			names = append(names, m.Name)
			dirs = append(dirs, dir{Name: m.Name, Path: "/" + m.Name, Files: m.Files, Bytes: m.Bytes})
			files, bytes = files+m.Files, bytes+m.Bytes
		}
		return writeJSON(w, map[string]any{"current_path": "/", "directories": names, "files": []file{}, "dirs": dirs, "total_files": files, "total_size": bytes})
	}
	machine, t, err := h.treeOf(ctx, machine, full, int(limit), int((page-1)*limit))
	if err != nil {
		return err
	}
	names, dirs := []string{}, []dir{}
	for _, d := range t.Dirs {
		text, _ := displayPath(events.Path(d.Name))
		names = append(names, text)
		path, b64 := displayPath(events.Path("/"+machine) + d.Path)
		dirs = append(dirs, dir{Name: text, Path: path, PathB64: b64, Files: d.Files, Bytes: d.Bytes})
	}
	files := []file{}
	for _, f := range t.Entries {
		text, b64 := displayPath(f.Path)
		cf := file{Name: text[strings.LastIndexByte(text, '/')+1:], Size: f.Size, Modified: isoTime(nsTime(f.MTime)), Path: text, PathB64: b64}
		if !f.Hashes.IsZero() {
			cf.Hash = &compatHash{Size: f.Size, MD5: f.Hashes.MD5, SHA1: f.Hashes.SHA1, SHA256: f.Hashes.SHA256}
		}
		files = append(files, cf)
	}
	cur, _ := displayPath(events.Path("/"+machine) + t.Path)
	return writeJSON(w, map[string]any{
		"current_path": strings.TrimSuffix(cur, "/"), "directories": names, "files": files,
		"machine": machine, "dirs": dirs, "total_files": t.Files, "total_size": t.Bytes, "more": t.More,
	})
}

// treeOf lists the directory a /api/tree path names: on machine, when it
// is given; else /MACHINE/dir when the path starts with a machine of the
// index; else the whole path on the index's only machine. With several
// machines and none named, the error lists them.
func (h *Handler) treeOf(ctx context.Context, machine, full string, limit, offset int) (string, projections.Tree, error) {
	ask := func(machine, dir string) (projections.Tree, error) {
		return rootTree(ctx, h.Queries, service.TreeRequest{Machine: machine, Dir: events.Path("/" + strings.TrimLeft(dir, "/")), Limit: limit, Offset: offset})
	}
	if machine != "" {
		t, err := ask(machine, full)
		return machine, t, err
	}
	ms, err := h.Queries.Machines(ctx)
	if err != nil {
		return "", projections.Tree{}, err
	}
	first, rest, _ := strings.Cut(strings.Trim(full, "/"), "/")
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if slices.Contains(names, first) {
		t, err := ask(first, rest)
		if len(ms) == 1 && errors.Is(err, projections.ErrNotFound) {
			// The machine's name is also the path's first directory:
			// /home/ana on a machine called home.
			if t2, err2 := ask(first, full); err2 == nil {
				return first, t2, nil
			}
		}
		return first, t, err
	}
	switch len(ms) {
	case 0:
		return "", projections.Tree{}, fmt.Errorf("%w: path %q: the index holds no machine yet", projections.ErrNotFound, full)
	case 1:
		t, err := ask(ms[0].Name, full)
		return ms[0].Name, t, err
	}
	return "", projections.Tree{}, fmt.Errorf("%w: path %q: %q is not a machine, and the index holds %d: %s; start the path with one (/%s%s) or add machine=NAME",
		errBadParam, full, first, len(names), strings.Join(names, ", "), names[0], "/"+strings.TrimLeft(full, "/"))
}

// rootTree runs q; a machine's root "/" that is not in the index falls back
// to "" (paths that do not start with a slash).
func rootTree(ctx context.Context, q service.Queries, req service.TreeRequest) (projections.Tree, error) {
	t, err := q.Tree(ctx, req)
	if err != nil && req.Dir == "/" && errors.Is(err, projections.ErrNotFound) {
		req.Dir = ""
		return q.Tree(ctx, req)
	}
	return t, err
}
