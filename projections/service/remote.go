package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// Name and Version are the NATS service's, as `nats micro ls` lists them.
const (
	Name    = "indexer"
	Version = "1.0.0"
)

// SubjectPrefix starts every endpoint's subject: indexer.stats,
// indexer.find, ... (see Serve).
const SubjectPrefix = "indexer."

// PathRequest names one file: the body of lookup, show and history.
type PathRequest struct {
	Machine string      `json:"machine"`
	Path    events.Path `json:"path"`
}

// GroupRequest is the body of group.
type GroupRequest struct {
	SHA256 string `json:"sha256"`
	Files  int    `json:"files,omitempty"`
}

// RotRequest is the body of rot.
type RotRequest struct {
	Machine string `json:"machine,omitempty"`
}

// ScansRequest is the body of scans.
type ScansRequest struct {
	Machine string `json:"machine,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// Serve answers q on the log's connection as the NATS service Name, one
// endpoint per query, until the returned service is stopped. Requests and
// replies are JSON; an empty request is the zero request:
//
//	nats req indexer.stats ''
//	nats req indexer.find '{"pattern":"report","ext":"pdf","limit":10}'
//	nats req indexer.lookup '{"machine":"nas1","path":"/srv/a.txt"}'
//	nats req indexer.dupes '{"sort":"wasted","min_size":1048576,"files":3}'
//	nats req indexer.tree '{"machine":"nas1","dir":"/srv"}'
//
// Endpoints: lookup, show, history (PathRequest), find (FindRequest), dupes
// (DupesRequest), group (GroupRequest), tree (TreeRequest), scans
// (ScansRequest), rot (RotRequest), stats, machines, status. A file's "mode" in a reply is
// its POSIX st_mode, with "mode_text" as ls shows it (see AppendReply); Client
// gives Queries' values back. Errors reply with the service
// error headers: 400 for a bad request, 404 for what the index does not
// hold, 429 when heavy questions fill every slot (ErrBusy: ask again), 500
// otherwise. Several processes may serve at once; each request
// goes to one of them. A reply larger than the server's max payload comes
// in parts (store.PartHeader), which Client puts together; logger receives
// the replies that could not be sent (nil discards).
func Serve(log *store.Log, q Queries, metadata map[string]string, logger *slog.Logger) (*store.Service, error) {
	eps := []store.ServiceEndpoint{
		endpoint("lookup", func(ctx context.Context, r PathRequest) (projections.File, error) {
			return q.Lookup(ctx, r.Machine, r.Path)
		}),
		endpoint("show", func(ctx context.Context, r PathRequest) (FileDetail, error) {
			return q.Show(ctx, r.Machine, r.Path)
		}),
		endpoint("history", func(ctx context.Context, r PathRequest) ([]HistoryEvent, error) {
			return q.History(ctx, r.Machine, r.Path)
		}),
		endpoint("find", q.Find),
		endpoint("dupes", q.Dupes),
		endpoint("group", func(ctx context.Context, r GroupRequest) (Group, error) {
			return q.Group(ctx, r.SHA256, r.Files)
		}),
		endpoint("tree", q.Tree),
		endpoint("scans", func(ctx context.Context, r ScansRequest) ([]projections.Scan, error) {
			return q.Scans(ctx, r.Machine, r.Limit)
		}),
		endpoint("rot", func(ctx context.Context, r RotRequest) ([]RotFile, error) {
			return q.Rot(ctx, r.Machine)
		}),
		endpoint("stats", func(ctx context.Context, _ struct{}) (projections.Stats, error) { return q.Stats(ctx) }),
		endpoint("machines", func(ctx context.Context, _ struct{}) ([]projections.Machine, error) { return q.Machines(ctx) }),
		endpoint("status", func(ctx context.Context, _ struct{}) (Status, error) { return q.Status(ctx) }),
	}
	return log.StartService(store.ServiceConfig{
		Name: Name, Version: Version, Metadata: metadata,
		Description: "indexer queries: find files, duplicates, trees and histories in the index",
		Endpoints:   eps,
		Logger:      logger,
	})
}

// endpoint adapts a query to a service endpoint: JSON request in, JSON
// reply out, errors as service errors.
func endpoint[Req, Resp any](name string, fn func(context.Context, Req) (Resp, error)) store.ServiceEndpoint {
	return store.ServiceEndpoint{
		Name: name, Subject: SubjectPrefix + name,
		Handler: func(ctx context.Context, body []byte) ([]byte, error) {
			var req Req
			if len(bytes.TrimSpace(body)) > 0 {
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&req); err != nil {
					return nil, &store.ServiceError{Code: 400, Message: fmt.Sprintf("%s: request: %v", name, err)}
				}
			}
			resp, err := fn(ctx, req)
			switch {
			case errors.Is(err, projections.ErrBadQuery):
				return nil, &store.ServiceError{Code: 400, Message: err.Error()}
			case errors.Is(err, ErrBusy):
				return nil, &store.ServiceError{Code: busyCode, Message: err.Error()}
			case errors.Is(err, projections.ErrNotFound):
				return nil, &store.ServiceError{Code: 404, Message: err.Error()}
			case err != nil:
				return nil, &store.ServiceError{Code: 500, Message: err.Error()}
			}
			return AppendReply(nil, resp) // modes as stat(2) gives them
		},
	}
}

// busyCode is the service error code of ErrBusy: HTTP's 429, too many
// requests (503 is the service's "unavailable").
const busyCode = 429

// Client asks a process that serves the queries (Serve) over NATS. It
// implements Queries.
type Client struct {
	// Log's connection carries the requests.
	Log *store.Log
}

var _ Queries = (*Client)(nil)

// call sends one request and decodes the reply, turning service errors
// back into the errors Queries returns.
func call[Resp any](ctx context.Context, c *Client, name string, req any) (Resp, error) {
	var resp Resp
	body, err := json.Marshal(req)
	if err != nil {
		return resp, fmt.Errorf("%s: %w", name, err)
	}
	out, err := c.Log.Request(ctx, SubjectPrefix+name, body)
	if err != nil {
		var se *store.ServiceError
		if errors.As(err, &se) && se.Code == 400 {
			// The message is the serving side's error, ErrBadQuery's text
			// first: it gets the sentinel back, not the text twice.
			msg := strings.TrimPrefix(se.Message, projections.ErrBadQuery.Error()+": ")
			return resp, fmt.Errorf("%w: %s", projections.ErrBadQuery, msg)
		}

		return resp, fmt.Errorf("ask the index's process (%s): %w", name, err)
	}
	if out, err = fileModeJSON(out); err == nil {
		err = json.Unmarshal(out, &resp)
	}
	if err != nil {
		return resp, fmt.Errorf("%s: reply: %w", name, err)
	}
	return resp, nil
}

// Lookup implements Queries.
func (c *Client) Lookup(ctx context.Context, machine string, p events.Path) (projections.File, error) {
	return call[projections.File](ctx, c, "lookup", PathRequest{machine, p})
}

// Show implements Queries.
func (c *Client) Show(ctx context.Context, machine string, p events.Path) (FileDetail, error) {
	return call[FileDetail](ctx, c, "show", PathRequest{machine, p})
}

// Find implements Queries.
func (c *Client) Find(ctx context.Context, q FindRequest) (projections.FindResult, error) {
	return call[projections.FindResult](ctx, c, "find", q)
}

// Dupes implements Queries.
func (c *Client) Dupes(ctx context.Context, q DupesRequest) (DupesResult, error) {
	return call[DupesResult](ctx, c, "dupes", q)
}

// Group implements Queries.
func (c *Client) Group(ctx context.Context, sha256 string, files int) (Group, error) {
	return call[Group](ctx, c, "group", GroupRequest{sha256, files})
}

// Stats implements Queries.
func (c *Client) Stats(ctx context.Context) (projections.Stats, error) {
	return call[projections.Stats](ctx, c, "stats", struct{}{})
}

// Tree implements Queries.
func (c *Client) Tree(ctx context.Context, q TreeRequest) (projections.Tree, error) {
	return call[projections.Tree](ctx, c, "tree", q)
}

// History implements Queries.
func (c *Client) History(ctx context.Context, machine string, p events.Path) ([]HistoryEvent, error) {
	return call[[]HistoryEvent](ctx, c, "history", PathRequest{machine, p})
}

// Machines implements Queries.
func (c *Client) Machines(ctx context.Context) ([]projections.Machine, error) {
	return call[[]projections.Machine](ctx, c, "machines", struct{}{})
}

// Scans implements Queries.
func (c *Client) Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error) {
	return call[[]projections.Scan](ctx, c, "scans", ScansRequest{machine, limit})
}

// Rot implements Queries.
func (c *Client) Rot(ctx context.Context, machine string) ([]RotFile, error) {
	return call[[]RotFile](ctx, c, "rot", RotRequest{machine})
}

// Status implements Queries.
func (c *Client) Status(ctx context.Context) (Status, error) {
	return call[Status](ctx, c, "status", struct{}{})
}
