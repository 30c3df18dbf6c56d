package main

import (
	"context"
	"errors"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
)

// scanQueries asks a standalone indexer-scan's query service while the
// scan holds index.db, and index.db itself once the service is gone: the
// scan ended, or stopped serving between a question and its answer (its
// connection is not retried, so that is known at once). By then the scan
// has let go of index.db, or does in a moment (local waits for it).
type scanQueries struct {
	remote service.Queries
	local  func() (service.Queries, error)
	q      service.Queries // local's, once it took over
}

// ask puts f to the scan's service, or to index.db once that answered
// for it.
func ask[T any](s *scanQueries, f func(service.Queries) (T, error)) (T, error) {
	if s.q == nil {
		v, err := f(s.remote)
		if err == nil || !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrClosed) {
			return v, err
		}
		q, lerr := s.local()
		if lerr != nil {
			return v, errors.Join(err, lerr)
		}
		s.q = q
	}
	return f(s.q)
}

func (s *scanQueries) Lookup(ctx context.Context, machine string, p events.Path) (projections.File, error) {
	return ask(s, func(q service.Queries) (projections.File, error) { return q.Lookup(ctx, machine, p) })
}

func (s *scanQueries) Show(ctx context.Context, machine string, p events.Path) (service.FileDetail, error) {
	return ask(s, func(q service.Queries) (service.FileDetail, error) { return q.Show(ctx, machine, p) })
}

func (s *scanQueries) Find(ctx context.Context, r service.FindRequest) (projections.FindResult, error) {
	return ask(s, func(q service.Queries) (projections.FindResult, error) { return q.Find(ctx, r) })
}

func (s *scanQueries) Dupes(ctx context.Context, r service.DupesRequest) (service.DupesResult, error) {
	return ask(s, func(q service.Queries) (service.DupesResult, error) { return q.Dupes(ctx, r) })
}

func (s *scanQueries) Group(ctx context.Context, sha256 string, files int) (service.Group, error) {
	return ask(s, func(q service.Queries) (service.Group, error) { return q.Group(ctx, sha256, files) })
}

func (s *scanQueries) Stats(ctx context.Context) (projections.Stats, error) {
	return ask(s, func(q service.Queries) (projections.Stats, error) { return q.Stats(ctx) })
}

func (s *scanQueries) Tree(ctx context.Context, r service.TreeRequest) (projections.Tree, error) {
	return ask(s, func(q service.Queries) (projections.Tree, error) { return q.Tree(ctx, r) })
}

func (s *scanQueries) History(ctx context.Context, machine string, p events.Path) ([]service.HistoryEvent, error) {
	return ask(s, func(q service.Queries) ([]service.HistoryEvent, error) { return q.History(ctx, machine, p) })
}

func (s *scanQueries) Machines(ctx context.Context) ([]projections.Machine, error) {
	return ask(s, func(q service.Queries) ([]projections.Machine, error) { return q.Machines(ctx) })
}

func (s *scanQueries) Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error) {
	return ask(s, func(q service.Queries) ([]projections.Scan, error) { return q.Scans(ctx, machine, limit) })
}

func (s *scanQueries) Status(ctx context.Context) (service.Status, error) {
	return ask(s, func(q service.Queries) (service.Status, error) { return q.Status(ctx) })
}

func (s *scanQueries) Rot(ctx context.Context, machine string) ([]service.RotFile, error) {
	return ask(s, func(q service.Queries) ([]service.RotFile, error) { return q.Rot(ctx, machine) })
}
