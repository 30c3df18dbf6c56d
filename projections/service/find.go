package service

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/indexer/indexer/projections"
)

// findPlan is how Local runs a FindRequest: a query for the index, and a
// filter for what the index cannot select (applied to every match of the
// query, which then reads all of them).
type findPlan struct {
	query projections.FindQuery
	// extra, when set, must also hold; the query then runs unpaged.
	extra func(projections.File) bool
	// all is the whole request as a filter, for files found by hash.
	all func(projections.File) bool
}

// plan compiles q.
func plan(q FindRequest) (findPlan, error) {
	var p findPlan
	fq := projections.FindQuery{
		Pattern: q.Pattern, Path: q.Path, CaseSensitive: q.CaseSensitive,
		Machine: q.Machine, Under: string(q.Under), Ext: strings.TrimPrefix(q.Ext, "."),
		MinSize: q.MinSize, MaxSize: q.MaxSize, Limit: q.Limit, Offset: q.Offset,
	}
	if q.MinSize < 0 || q.MaxSize < 0 {
		return p, fmt.Errorf("%w: sizes cannot be negative", projections.ErrBadQuery)
	}
	if q.MaxSize > 0 && q.MinSize > q.MaxSize {
		return p, fmt.Errorf("%w: min size %d is above max size %d", projections.ErrBadQuery, q.MinSize, q.MaxSize)
	}
	if q.Limit == 0 {
		fq.Limit = 100
	}
	var match func(string) bool
	norm := projections.Fold
	if q.CaseSensitive {
		norm = func(s string) string { return s }
	}
	mode := q.Mode
	if q.Pattern == "" && (mode == "glob" || mode == "regex" || mode == "regexp") {
		mode = "" // nothing to match: every name matches
	}
	switch mode {
	case "", "substring":
		pat := norm(q.Pattern)
		match = func(s string) bool { return strings.Contains(norm(s), pat) }
	case "glob":
		fq.Glob = true
		pat := norm(q.Pattern)
		if _, err := path.Match(pat, ""); err != nil {
			return p, fmt.Errorf("%w: glob %q: %v", projections.ErrBadQuery, q.Pattern, err)
		}
		match = func(s string) bool { ok, _ := path.Match(pat, norm(s)); return ok }
	case "regex", "regexp":
		expr := q.Pattern
		if !q.CaseSensitive {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return p, fmt.Errorf("%w: regex %q: %v", projections.ErrBadQuery, q.Pattern, err)
		}
		fq.Regexp, fq.Pattern = re, ""
		match = re.MatchString
	default:
		return p, fmt.Errorf("%w: mode %q: want substring, glob or regex", projections.ErrBadQuery, q.Mode)
	}
	contains := projections.Fold(q.PathContains)
	ext := ""
	if fq.Ext != "" {
		ext = "." + projections.Fold(fq.Ext)
	}
	under := string(q.Under)
	if under != "" && !strings.HasSuffix(under, "/") {
		under += "/"
	}
	p.all = func(f projections.File) bool {
		full := string(f.Path)
		name := full[strings.LastIndexByte(full, '/')+1:]
		target := name
		if q.Path {
			target = full
		}
		switch {
		case q.Pattern != "" && !match(target),
			ext != "" && !strings.HasSuffix(projections.Fold(name), ext),
			q.Machine != "" && f.Machine != q.Machine,
			under != "" && !strings.HasPrefix(full, under),
			f.Size < q.MinSize, q.MaxSize > 0 && f.Size > q.MaxSize,
			q.Archived && !strings.Contains(full, "::"),
			contains != "" && !strings.Contains(projections.Fold(full), contains):
			return false
		}
		return true
	}
	// What the name index cannot select: archive membership and a second
	// substring of the path. Alone, either is the query's own path match.
	switch {
	case q.Pattern == "" && q.Archived && contains == "":
		fq.Pattern, fq.Path, fq.Glob, fq.Regexp = "::", true, false, nil
	case q.Pattern == "" && !q.Archived && contains != "":
		fq.Pattern, fq.Path, fq.Glob, fq.Regexp, fq.CaseSensitive = q.PathContains, true, false, nil, false
	case q.Archived || contains != "":
		p.extra = func(f projections.File) bool {
			full := string(f.Path)
			return (!q.Archived || strings.Contains(full, "::")) && (contains == "" || strings.Contains(projections.Fold(full), contains))
		}
	}
	p.query = fq
	return p, nil
}

// page returns the page [offset, offset+limit) of files (limit < 0: all).
func page(files []projections.File, limit, offset int) []projections.File {
	if offset >= len(files) {
		return []projections.File{}
	}
	files = files[offset:]
	if limit >= 0 && len(files) > limit {
		files = files[:limit]
	}
	return files
}
