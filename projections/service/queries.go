package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

// Queries is every question the indexer answers, in the form every front end
// uses: the CLI, the HTTP API and web UI, and the NATS service. Local answers
// them from an index in this process, Client from a process on the NATS
// network, Cache from another Queries.
//
// Implementations are safe for concurrent use. Each call reads one consistent
// state of the index. Returned values may be shared with other callers (see
// Cache): do not modify them. Errors wrap projections.ErrNotFound for a path,
// directory or content the index does not hold and projections.ErrBadQuery
// for a request that cannot be run as given.
type Queries interface {
	// Lookup returns the file at path on machine.
	Lookup(ctx context.Context, machine string, path events.Path) (projections.File, error)
	// Show returns the file at path on machine with its other copies and
	// its history.
	Show(ctx context.Context, machine string, path events.Path) (FileDetail, error)
	// Find returns one page of the files matching q.
	Find(ctx context.Context, q FindRequest) (projections.FindResult, error)
	// Dupes returns one page of duplicate groups.
	Dupes(ctx context.Context, q DupesRequest) (DupesResult, error)
	// Group returns the content with the sha256 (hex) and up to files of
	// its files (0: none; negative: all).
	Group(ctx context.Context, sha256 string, files int) (Group, error)
	// Stats returns index-wide totals.
	Stats(ctx context.Context) (projections.Stats, error)
	// Tree lists one directory.
	Tree(ctx context.Context, q TreeRequest) (projections.Tree, error)
	// History returns a path's events in log order; empty when the path
	// never appeared.
	History(ctx context.Context, machine string, path events.Path) ([]HistoryEvent, error)
	// Machines lists the machines by name.
	Machines(ctx context.Context) ([]projections.Machine, error)
	// Scans returns up to limit scans (<= 0: all), newest first, of one
	// machine or of all ("").
	Scans(ctx context.Context, machine string, limit int) ([]projections.Scan, error)
	// Status says how far the index is behind the log.
	Status(ctx context.Context) (Status, error)
	// Rot lists the files of machine (or of all, "") whose last --verify
	// found bit rot and that hold that content still, by machine and path.
	Rot(ctx context.Context, machine string) ([]RotFile, error)
}

// FindRequest selects files. The zero value matches every file.
type FindRequest struct {
	// Pattern is matched against the base name (or the whole path, with
	// Path) as Mode says: "" or "substring", "glob" (path.Match syntax,
	// the whole name) or "regex" (RE2, anywhere in the name). Matching
	// ignores case unless CaseSensitive.
	Pattern       string `json:"pattern,omitempty"`
	Mode          string `json:"mode,omitempty"`
	Path          bool   `json:"path,omitempty"`
	CaseSensitive bool   `json:"case_sensitive,omitempty"`
	// Filters.
	Machine string      `json:"machine,omitempty"`
	Under   events.Path `json:"under,omitempty"` // a directory: only files below it
	Ext     string      `json:"ext,omitempty"`   // extension, any case, with or without the dot
	MinSize int64       `json:"min_size,omitempty"`
	MaxSize int64       `json:"max_size,omitempty"` // 0: no maximum
	// Hash is a hex md5, sha1 or sha256 digest (told apart by length), or
	// a prefix of at least 8 digits of any of them.
	Hash string `json:"hash,omitempty"`
	// Archived keeps only files inside archives (ARCHIVE::inner/path).
	Archived bool `json:"archived,omitempty"`
	// PathContains keeps only paths holding this substring, in any case.
	PathContains string `json:"path_contains,omitempty"`
	// Limit is the page size (0: 100; negative: no limit), Offset the
	// number of matches skipped.
	Limit  int `json:"limit,omitempty"`
	Offset int `json:"offset,omitempty"`
}

// DupesRequest selects duplicate groups.
type DupesRequest struct {
	// Sort is "wasted" (default), "size" or "count"; largest first unless
	// Asc.
	Sort     string `json:"sort,omitempty"`
	Asc      bool   `json:"asc,omitempty"`
	MinSize  uint64 `json:"min_size,omitempty"`
	MinCount uint64 `json:"min_count,omitempty"`
	// Machine counts only the copies on this machine: a group is then the
	// content held two or more times on it.
	Machine string `json:"machine,omitempty"`
	// Files is how many files to list per group (0: none; negative: all).
	Files int `json:"files,omitempty"`
	// Limit (0: 100; negative: all) and Offset page the groups.
	Limit  int `json:"limit,omitempty"`
	Offset int `json:"offset,omitempty"`
}

// Group is a content and the files that hold it.
type Group struct {
	projections.Group
	// Files lists the group's files, as many as were asked for; hard
	// links are the files sharing a device and inode on one machine.
	Files []projections.File `json:"files,omitempty"`
}

// DupesResult is one page of duplicate groups.
type DupesResult struct {
	Groups []Group `json:"groups"`
	// Total is the number of groups across all pages.
	Total int `json:"total"`
}

// TreeRequest names one directory and a page of its files.
type TreeRequest struct {
	Machine string `json:"machine"`
	// Dir is the directory, with or without its trailing slash; "" is the
	// machine's root, above "/".
	Dir events.Path `json:"dir"`
	// Limit is the number of files listed (0: 1000; negative: all) after
	// skipping Offset.
	Limit  int `json:"limit,omitempty"`
	Offset int `json:"offset,omitempty"`
}

// FileDetail is everything about one file.
type FileDetail struct {
	File projections.File `json:"file"`
	// Group is the file's content group; nil when the file has no sha256
	// (a directory, a link, a file hashed without sha256).
	Group *projections.Group `json:"group,omitempty"`
	// Copies are the other files with the same content, at most
	// MaxCopies of them.
	Copies  []projections.File `json:"copies"`
	History []HistoryEvent     `json:"history"`
}

// MaxCopies bounds FileDetail.Copies: the empty file can have 100,000.
const MaxCopies = 1000

// HistoryEvent is one event of a path's timeline, with the event as the
// log stores it when the log could be read.
type HistoryEvent struct {
	Seq  uint64      `json:"seq"`
	Type events.Type `json:"type"`
	// MovedAway is set on the FileMoved that took the file from the path.
	MovedAway bool `json:"moved_away,omitempty"`
	// Path is set on an event of another path, one the file was at before
	// a move brought it to the path asked about (projections.History).
	Path events.Path `json:"path,omitempty"`
	// Stored is when the log stored the event.
	Stored time.Time `json:"stored,omitzero"`
	// Event is the event's JSON (see package events).
	Event json.RawMessage `json:"event,omitempty"`
	// Error says why Event is missing: no log to read, or a failed read.
	Error string `json:"error,omitempty"`
}

// Status says how far the index is behind the log.
type Status struct {
	// Checkpoint is the last sequence applied to the index.
	Checkpoint uint64 `json:"checkpoint"`
	// LastSeq is the log's last sequence; 0 when the log was not asked.
	LastSeq uint64 `json:"last_seq"`
	// Lag is LastSeq - Checkpoint.
	Lag uint64 `json:"lag"`
	// Live is set when a projector in the answering process follows the
	// log; otherwise the index is a file nobody updates right now.
	Live bool `json:"live"`
	// Time is when the status was taken.
	Time time.Time `json:"time"`
}
