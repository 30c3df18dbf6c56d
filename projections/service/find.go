package service

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/indexer/indexer/projections"
)

// findQuery translates a FindRequest into the index's query; which files
// it selects is the index's rule (projections.FindQuery), for files found
// by name and by digest alike.
func findQuery(q FindRequest) (projections.FindQuery, error) {
	fq := projections.FindQuery{
		Pattern: q.Pattern, Path: q.Path, CaseSensitive: q.CaseSensitive,
		Machine: q.Machine, Under: string(q.Under), Ext: strings.TrimPrefix(q.Ext, "."),
		MinSize: q.MinSize, MaxSize: q.MaxSize, Archived: q.Archived, PathContains: q.PathContains,
		Limit: q.Limit, Offset: q.Offset,
	}
	if q.Limit == 0 {
		fq.Limit = 100
	}
	mode := q.Mode
	if q.Pattern == "" && (mode == "glob" || mode == "regex" || mode == "regexp") {
		mode = "" // nothing to match: every name matches
	}
	switch mode {
	case "", "substring":
	case "glob":
		fq.Glob = true
	case "regex", "regexp":
		expr := q.Pattern
		if !q.CaseSensitive {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return fq, fmt.Errorf("%w: regex %q: %v", projections.ErrBadQuery, q.Pattern, err)
		}
		fq.Regexp, fq.Pattern = re, ""
	default:
		return fq, fmt.Errorf("%w: mode %q: want substring, glob or regex", projections.ErrBadQuery, q.Mode)
	}
	return fq, nil
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
