package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

// The indexer's own endpoints: the shapes of package service, as the CLI's
// --json prints them. Paths are events.Path: a JSON string, or
// {"b64":"...","text":"..."} for a name that is not UTF-8; send such a path
// back as path_b64.

// file: GET /api/file?machine&path: the file, its other copies, its history.
func (h *Handler) file(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	machine, path := p.machine("machine", true), p.path("path", true)
	if p.err != nil {
		return p.err
	}
	d, err := h.Queries.Show(r.Context(), machine, path)
	if err != nil {
		return err
	}
	return writeJSON(w, d)
}

// lookup: GET /api/lookup?machine&path: one file by its path.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	machine, path := p.machine("machine", true), p.path("path", true)
	if p.err != nil {
		return p.err
	}
	f, err := h.Queries.Lookup(r.Context(), machine, path)
	if err != nil {
		return err
	}
	return writeJSON(w, f)
}

// history: GET /api/history?machine&path: a path's events, oldest first.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	machine, path := p.machine("machine", true), p.path("path", true)
	if p.err != nil {
		return p.err
	}
	hs, err := h.Queries.History(r.Context(), machine, path)
	if err != nil {
		return err
	}
	if len(hs) == 0 { // never in the index, as /api/file says
		return fmt.Errorf("%s:%s: %w", machine, path, projections.ErrNotFound)
	}
	return writeJSON(w, map[string]any{"machine": machine, "path": path, "history": hs})
}

// find: GET /api/find?q&mode=substring|glob|regex&in=name|path&case&machine
// &under&ext&min_size&max_size&hash&archived&limit&offset.
func (h *Handler) find(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	q := service.FindRequest{
		Pattern:       p.str("q"),
		Mode:          p.oneOf("mode", "substring", "substring", "glob", "regex"),
		Path:          p.oneOf("in", "name", "name", "path") == "path",
		CaseSensitive: p.bool("case"),
		Machine:       p.machine("machine", false),
		Under:         p.path("under", false),
		Ext:           strings.TrimSpace(p.str("ext")),
		MinSize:       p.int("min_size", 0, 0, maxInt),
		MaxSize:       p.int("max_size", 0, 0, maxInt),
		Hash:          strings.TrimSpace(p.str("hash")),
		Archived:      p.bool("archived"),
		Limit:         int(p.int("limit", 50, 1, 1000)),
		Offset:        int(p.int("offset", 0, 0, maxInt)),
	}
	if p.err != nil {
		return p.err
	}
	res, err := h.Queries.Find(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

// dupes: GET /api/dupes?sort=wasted|size|count&order=desc|asc&min_size
// &min_count&machine&files&limit&offset.
func (h *Handler) dupes(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	q := service.DupesRequest{
		Sort:     p.oneOf("sort", "wasted", "wasted", "size", "count"),
		Asc:      p.oneOf("order", "desc", "desc", "asc") == "asc",
		MinSize:  uint64(p.int("min_size", 0, 0, maxInt)),
		MinCount: uint64(p.int("min_count", 2, 2, maxInt)),
		Machine:  p.machine("machine", false),
		Files:    int(p.int("files", 1, 0, 100)),
		Limit:    int(p.int("limit", 50, 1, 500)),
		Offset:   int(p.int("offset", 0, 0, maxInt)),
	}
	if p.err != nil {
		return p.err
	}
	res, err := h.Queries.Dupes(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

// group: GET /api/group?sha256&files: a content and its files.
func (h *Handler) group(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	sha := strings.TrimSpace(p.str("sha256"))
	if sha == "" {
		p.fail("sha256 is required")
	}
	files := p.int("files", 1000, 0, 100000)
	if p.err != nil {
		return p.err
	}
	g, err := h.Queries.Group(r.Context(), sha, int(files))
	if err != nil {
		return err
	}
	return writeJSON(w, g)
}

// ls: GET /api/ls?machine&dir&limit&offset: a directory's subdirectories
// with their recursive sizes and a page of its files. No dir is the
// machine's "/". An archive file lists as a directory: path ARCHIVE::, its
// top-level members and its directories (see service.ArchiveTree).
func (h *Handler) ls(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	q := service.TreeRequest{
		Machine: p.machine("machine", true),
		Dir:     p.path("dir", false),
		Limit:   int(p.int("limit", 500, 1, 100000)),
		Offset:  int(p.int("offset", 0, 0, maxInt)),
	}
	if p.err != nil {
		return p.err
	}
	if q.Dir == "" {
		q.Dir = "/"
	}
	t, err := rootTree(r.Context(), h.Queries, q)
	if errors.Is(err, projections.ErrNotFound) {
		// An archive lists as a directory of its members.
		if at, ok, aerr := service.ArchiveTree(r.Context(), h.Queries, q.Machine, q.Dir, q.Limit); aerr != nil || ok {
			t, err = at, aerr
		}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, t)
}

// stats: GET /api/stats: the index's totals, per machine.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) error {
	s, err := h.Queries.Stats(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, s)
}

// machines: GET /api/machines.
func (h *Handler) machines(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.Queries.Machines(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, ms)
}

// scans: GET /api/scans?machine&limit (default 20), newest first.
func (h *Handler) scans(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	machine := p.machine("machine", false)
	limit := p.int("limit", 20, 1, 10000)
	if p.err != nil {
		return p.err
	}
	ss, err := h.Queries.Scans(r.Context(), machine, int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, ss)
}

// rot: GET /api/rot?machine: the files whose last --verify found bit rot,
// with the recorded (good) and the read sha256.
func (h *Handler) rot(w http.ResponseWriter, r *http.Request) error {
	p := &params{r: r}
	machine := p.machine("machine", false)
	if p.err != nil {
		return p.err
	}
	rs, err := h.Queries.Rot(r.Context(), machine)
	if err != nil {
		return err
	}
	return writeJSON(w, rs)
}

// status: GET /api/status: checkpoint, the log's last sequence, lag.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) error {
	s, err := h.Queries.Status(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, s)
}
