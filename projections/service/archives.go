package service

import (
	"context"
	"errors"
	"strings"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

// ArchiveTree lists the archive file at p as a directory: the members at
// its top level and its directories, which the index holds beside the
// archive as p::name and p::dir/ (the index splits paths at '/' only).
// The listing's Path is p followed by events.MemberSep; its directories
// are named as inside the archive, with their paths in the index; its
// files are the members whose archive field names p, counted as members
// (Counts.Members), not files. ok is false when p has no members. The CLI's tree and the HTTP API's listing
// both enter archives so.
func ArchiveTree(ctx context.Context, q Queries, machine string, p events.Path, limit int) (t projections.Tree, ok bool, err error) {
	i := strings.LastIndexByte(string(p), '/')
	if i < 0 || strings.HasSuffix(string(p), "/") {
		return t, false, nil
	}
	parent, prefix := p[:i+1], string(p[i+1:])+events.MemberSep
	all, err := q.Tree(ctx, TreeRequest{Machine: machine, Dir: parent, Limit: -1})
	if errors.Is(err, projections.ErrNotFound) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	t = projections.Tree{Machine: all.Machine, Path: p + events.MemberSep, Dirs: all.Dirs[:0:0], Entries: []projections.File{}}
	for _, d := range all.Dirs {
		if strings.HasPrefix(string(d.Name), prefix) {
			d.Name = d.Name[len(prefix):]
			t.Dirs = append(t.Dirs, d)
			t.Files, t.Bytes, t.Links = t.Files+d.Files, t.Bytes+d.Bytes, t.Links+d.Links
			t.Members, t.MemberBytes = t.Members+d.Members, t.MemberBytes+d.MemberBytes
		}
	}
	for _, f := range all.Entries {
		// The members of this archive: their archive field says so,
		// whatever other names hold "::".
		if f.IsMember() && f.Archive.Path == p {
			t.Entries = append(t.Entries, f)
			t.Members, t.MemberBytes = t.Members+1, t.MemberBytes+uint64(max(f.Size, 0))
		}
	}
	if limit > 0 && len(t.Entries) > limit {
		t.Entries, t.More = t.Entries[:limit], true
	}
	return t, len(t.Dirs)+len(t.Entries) > 0, nil
}
