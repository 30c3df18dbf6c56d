package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

// guarded answers the queries of a running projector only while its index
// says what the log holds, in front of the cache (whose answers stay valid
// while the checkpoint does not move, as it does not once the log was
// replaced). Status, which /health reports, fails whenever projection
// stopped for the operator, with the reason.
type guarded struct {
	service.Queries
	p *projections.Projector
}

// replaced returns the projector's error when its log was replaced.
func (g guarded) replaced() error {
	if err := g.p.Err(); errors.Is(err, projections.ErrLogReplaced) {
		return err
	}
	return nil
}

func (g guarded) Status(ctx context.Context) (service.Status, error) {
	if err := g.p.Err(); err != nil {
		return service.Status{}, fmt.Errorf("projection stopped at seq %d: %w", g.p.Checkpoint(), err)
	}
	return g.Queries.Status(ctx)
}

func (g guarded) Lookup(ctx context.Context, machine string, path events.Path) (projections.File, error) {
	if err := g.replaced(); err != nil {
		return projections.File{}, err
	}
	return g.Queries.Lookup(ctx, machine, path)
}

func (g guarded) Show(ctx context.Context, machine string, path events.Path) (service.FileDetail, error) {
	if err := g.replaced(); err != nil {
		return service.FileDetail{}, err
	}
	return g.Queries.Show(ctx, machine, path)
}

func (g guarded) Find(ctx context.Context, q service.FindRequest) (projections.FindResult, error) {
	if err := g.replaced(); err != nil {
		return projections.FindResult{}, err
	}
	return g.Queries.Find(ctx, q)
}

func (g guarded) Dupes(ctx context.Context, q service.DupesRequest) (service.DupesResult, error) {
	if err := g.replaced(); err != nil {
		return service.DupesResult{}, err
	}
	return g.Queries.Dupes(ctx, q)
}

func (g guarded) Group(ctx context.Context, sha256 string, files int) (service.Group, error) {
	if err := g.replaced(); err != nil {
		return service.Group{}, err
	}
	return g.Queries.Group(ctx, sha256, files)
}

func (g guarded) Stats(ctx context.Context) (projections.Stats, error) {
	if err := g.replaced(); err != nil {
		return projections.Stats{}, err
	}
	return g.Queries.Stats(ctx)
}

func (g guarded) Tree(ctx context.Context, q service.TreeRequest) (projections.Tree, error) {
	if err := g.replaced(); err != nil {
		return projections.Tree{}, err
	}
	return g.Queries.Tree(ctx, q)
}

func (g guarded) History(ctx context.Context, machine string, path events.Path) ([]service.HistoryEvent, error) {
	if err := g.replaced(); err != nil {
		return nil, err
	}
	return g.Queries.History(ctx, machine, path)
}

func (g guarded) Machines(ctx context.Context) ([]projections.Machine, error) {
	if err := g.replaced(); err != nil {
		return nil, err
	}
	return g.Queries.Machines(ctx)
}

func (g guarded) Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error) {
	if err := g.replaced(); err != nil {
		return nil, err
	}
	return g.Queries.Scans(ctx, machine, limit)
}
