package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// Local answers Queries from an index in this process: a projector's
// (Projector.Index) or a file opened read-only (projections.NewIndex).
type Local struct {
	// Index is the read models.
	Index *projections.Index
	// Log, when set, is read for the events of a history and for the
	// log's last sequence in Status. Without it a history lists sequences
	// and types only.
	Log *store.Log
	// Checkpoint, when set, is the live projector's checkpoint
	// (Projector.Checkpoint); Status is then Live. Otherwise the index
	// file's checkpoint is read.
	Checkpoint func() uint64
	// Heavy, when set, bounds the heavy queries run at once (see Gate);
	// nil runs every query at once, as a one-shot command does.
	Heavy *Gate
}

// Live returns the Local of a projector following log, as a process that
// serves others' questions runs it: its checkpoint is live and heavy
// questions take turns (NewGate's default).
func Live(p *projections.Projector, log *store.Log) *Local {
	return &Local{Index: p.Index(), Log: log, Checkpoint: p.Checkpoint, Heavy: NewGate(0)}
}

// index returns the queries, stopped when ctx ends.
func (l *Local) index(ctx context.Context) *projections.Index { return l.Index.WithContext(ctx) }

var _ Queries = (*Local)(nil)

// Lookup implements Queries.
func (l *Local) Lookup(ctx context.Context, machine string, p events.Path) (projections.File, error) {
	if err := checkPath(machine, p); err != nil {
		return projections.File{}, err
	}
	return l.index(ctx).Lookup(machine, p)
}

// Show implements Queries.
func (l *Local) Show(ctx context.Context, machine string, p events.Path) (FileDetail, error) {
	var d FileDetail
	f, err := l.Lookup(ctx, machine, p)
	if err != nil {
		return d, err
	}
	d.File, d.Copies = f, []projections.File{}
	if f.Hashes.SHA256 != "" {
		g, files, err := l.index(ctx).Group(f.Hashes.SHA256)
		if err != nil && !errors.Is(err, projections.ErrNotFound) {
			return d, fmt.Errorf("show %s: %w", p, err)
		}
		if err == nil {
			d.Group = &g
			for _, c := range files {
				if c.Machine == f.Machine && c.Path == f.Path {
					continue
				}
				if len(d.Copies) == MaxCopies {
					break
				}
				d.Copies = append(d.Copies, c)
			}
		}
	}
	if d.History, err = l.History(ctx, machine, p); err != nil {
		return d, err
	}
	return d, nil
}

// Find implements Queries.
func (l *Local) Find(ctx context.Context, q FindRequest) (projections.FindResult, error) {
	fq, err := findQuery(q)
	if err != nil {
		return projections.FindResult{}, err
	}
	if heavyFind(q) {
		leave, err := l.Heavy.enter(ctx, "find")
		if err != nil {
			return projections.FindResult{}, err
		}
		defer leave()
	}
	if q.Hash == "" {
		res, err := l.index(ctx).Find(fq)
		if res.Files == nil {
			res.Files = []projections.File{}
		}
		return res, err
	}
	match, err := fq.Matcher()
	if err != nil {
		return projections.FindResult{}, err
	}
	files, err := l.index(ctx).ByHash("", q.Hash)
	if err != nil {
		return projections.FindResult{}, err
	}
	var keep []projections.File
	for _, f := range files {
		if match(f) {
			keep = append(keep, f)
		}
	}
	return projections.FindResult{Files: page(keep, fq.Limit, q.Offset), Total: len(keep), Indexed: true}, nil
}

// Dupes implements Queries.
func (l *Local) Dupes(ctx context.Context, q DupesRequest) (DupesResult, error) {
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	if q.Offset < 0 {
		return DupesResult{}, fmt.Errorf("%w: negative offset", projections.ErrBadQuery)
	}
	if heavyDupes(q) {
		leave, err := l.Heavy.enter(ctx, "duplicates")
		if err != nil {
			return DupesResult{}, err
		}
		defer leave()
	}
	ix := l.index(ctx)
	// The groups and their files come from one read transaction.
	dq := projections.DupesQuery{Sort: q.Sort, Asc: q.Asc, MinSize: q.MinSize, MinCount: q.MinCount, Limit: limit, Offset: q.Offset, Files: q.Files}
	if q.Machine == "" {
		res, err := ix.TopDuplicateGroups(dq)
		if err != nil {
			return DupesResult{}, err
		}
		out := DupesResult{Total: res.Total, Groups: make([]Group, 0, len(res.Groups))}
		for i, g := range res.Groups {
			grp := Group{Group: g}
			if q.Files != 0 && len(res.Files[i]) > 0 {
				grp.Files = res.Files[i]
			}
			out.Groups = append(out.Groups, grp)
		}
		return out, nil
	}
	// One machine's copies: recount every group on that machine, then
	// sort. It reads every group's files.
	dq.Limit, dq.Offset, dq.MinCount, dq.Files = -1, 0, 0, -1
	res, err := ix.TopDuplicateGroups(dq)
	if err != nil {
		return DupesResult{}, err
	}
	var keep []Group
	for i, g := range res.Groups {
		if err := ctx.Err(); err != nil {
			return DupesResult{}, err
		}
		files := res.Files[i]
		var onMachine []projections.File
		for _, f := range files {
			if f.Machine == q.Machine {
				onMachine = append(onMachine, f)
			}
		}
		mine := Group{Group: projections.GroupOf(g.SHA256, g.Size, onMachine), Files: onMachine}
		if mine.Count < max(2, q.MinCount) {
			continue
		}
		if q.Files >= 0 && len(mine.Files) > q.Files {
			mine.Files = mine.Files[:q.Files]
		}
		if len(mine.Files) == 0 {
			mine.Files = nil
		}
		keep = append(keep, mine)
	}
	key := func(g Group) uint64 {
		switch q.Sort {
		case "size":
			return g.Size
		case "count":
			return g.Count
		}
		return g.Wasted
	}
	slices.SortStableFunc(keep, func(a, b Group) int {
		if q.Asc {
			return cmp.Compare(key(a), key(b))
		}
		return cmp.Compare(key(b), key(a))
	})
	out := DupesResult{Total: len(keep), Groups: []Group{}}
	if q.Offset < len(keep) {
		keep = keep[q.Offset:]
		if limit >= 0 && len(keep) > limit {
			keep = keep[:limit]
		}
		out.Groups = keep
	}
	return out, nil
}

// Group implements Queries.
func (l *Local) Group(ctx context.Context, sha256 string, files int) (Group, error) {
	if files < 0 {
		leave, err := l.Heavy.enter(ctx, "group")
		if err != nil {
			return Group{}, err
		}
		defer leave()
	}
	return l.group(ctx, sha256, files)
}

// group is Group without the gate: for Dupes, which holds a slot already
// when it asks for every file.
func (l *Local) group(ctx context.Context, sha256 string, files int) (Group, error) {
	g, fs, err := l.index(ctx).Group(sha256)
	if err != nil {
		return Group{}, err
	}
	if files >= 0 && len(fs) > files {
		fs = fs[:files]
	}
	if len(fs) == 0 {
		fs = nil
	}
	return Group{Group: g, Files: fs}, nil
}

// Stats implements Queries.
func (l *Local) Stats(ctx context.Context) (projections.Stats, error) { return l.index(ctx).Stats() }

// Tree implements Queries.
func (l *Local) Tree(ctx context.Context, q TreeRequest) (projections.Tree, error) {
	if q.Machine == "" {
		return projections.Tree{}, fmt.Errorf("%w: tree needs a machine", projections.ErrBadQuery)
	}
	if q.Offset < 0 {
		return projections.Tree{}, fmt.Errorf("%w: negative offset", projections.ErrBadQuery)
	}
	if heavyTree(q) {
		leave, err := l.Heavy.enter(ctx, "tree")
		if err != nil {
			return projections.Tree{}, err
		}
		defer leave()
	}
	return l.index(ctx).Tree(q.Machine, string(q.Dir), q.Limit, q.Offset)
}

// History implements Queries.
func (l *Local) History(ctx context.Context, machine string, p events.Path) ([]HistoryEvent, error) {
	if err := checkPath(machine, p); err != nil {
		return nil, err
	}
	hs, err := l.index(ctx).History(machine, p)
	if err != nil {
		return nil, err
	}
	out := make([]HistoryEvent, 0, len(hs))
	for _, h := range hs {
		e := HistoryEvent{Seq: h.Seq, Type: h.Type, MovedAway: h.MovedAway, Path: h.Path}
		switch {
		case l.Log == nil:
			e.Error = "the log was not opened"
		default:
			rec, err := l.Log.Get(ctx, h.Seq)
			if err != nil {
				e.Error = err.Error()
				break
			}
			e.Stored, e.Event = rec.Time, rec.Data
		}
		out = append(out, e)
	}
	return out, nil
}

// Machines implements Queries.
func (l *Local) Machines(ctx context.Context) ([]projections.Machine, error) {
	ms, err := l.index(ctx).Machines()
	if ms == nil && err == nil {
		ms = []projections.Machine{}
	}
	return ms, err
}

// Scans implements Queries.
func (l *Local) Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error) {
	ss, err := l.index(ctx).Scans(machine, limit)
	if ss == nil && err == nil {
		ss = []projections.Scan{}
	}
	return ss, err
}

// Status implements Queries.
func (l *Local) Status(ctx context.Context) (Status, error) {
	s := Status{Time: time.Now().UTC()}
	if l.Checkpoint != nil {
		s.Checkpoint, s.Live = l.Checkpoint(), true
	} else {
		cp, err := l.Index.Checkpoint()
		if err != nil {
			return s, fmt.Errorf("status: %w", err)
		}
		s.Checkpoint = cp.Seq
	}
	if l.Log != nil {
		info, err := l.Log.Info(ctx)
		if err != nil {
			return s, fmt.Errorf("status: %w", err)
		}
		s.LastSeq, s.Lag = info.LastSeq, info.Lag(s.Checkpoint)
	}
	return s, nil
}

// checkPath refuses a request without a machine or a path.
func checkPath(machine string, p events.Path) error {
	switch {
	case machine == "":
		return fmt.Errorf("%w: no machine given", projections.ErrBadQuery)
	case p == "":
		return fmt.Errorf("%w: no path given", projections.ErrBadQuery)
	}
	return nil
}
