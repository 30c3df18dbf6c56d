package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// RotFile is a file whose last --verify found bit rot (a FileChanged with
// reason content-without-metadata: other content while size, times and
// inode stayed) and that holds that content still.
type RotFile struct {
	Machine string      `json:"machine"`
	Path    events.Path `json:"path"`
	// Recorded is the sha256 recorded before the rot, the good content's:
	// a find by it lists the good copies.
	Recorded string `json:"recorded_sha256"`
	// Read is the sha256 the verify read.
	Read string `json:"read_sha256"`
	// Seq is the FileChanged that found the rot, Detected its time.
	Seq      uint64    `json:"seq"`
	Detected time.Time `json:"detected"`
}

// errNoLog is Rot's answer where the log cannot be read.
var errNoLog = errors.New("the log is not open here")

// Rot implements Queries: it folds the log's changes, moves, deletions and
// forgets (the read models keep no list of rot) and keeps the files the
// index still holds with the content the verify read. A restored,
// rewritten, deleted or forgotten file leaves the list, a moved one takes
// its rot along.
func (l *Local) Rot(ctx context.Context, machine string) ([]RotFile, error) {
	if machine != "" {
		if err := events.ValidateMachine(machine); err != nil {
			return nil, fmt.Errorf("%w: %v", projections.ErrBadQuery, err)
		}
	}
	if l.Log == nil {
		return nil, fmt.Errorf("bit rot: %w", errNoLog)
	}
	leave, err := l.Heavy.enter(ctx, "rot") // reads every change in the log
	if err != nil {
		return nil, err
	}
	defer leave()
	cand, err := RotInLog(ctx, l.Log, machine)
	if err != nil {
		return nil, fmt.Errorf("bit rot: %w", err)
	}
	out := []RotFile{}
	for _, r := range cand {
		f, err := l.Lookup(ctx, r.Machine, r.Path)
		switch {
		case errors.Is(err, projections.ErrNotFound):
			continue // no longer in the current view
		case err != nil:
			return nil, fmt.Errorf("bit rot: %w", err)
		case f.Hashes.SHA256 == r.Read:
			out = append(out, r)
		}
	}
	return out, nil
}

// RotInLog folds the log's FileChanged, FileMoved, FileDeleted and
// FilesForgotten events of machine (or of all, "") into the paths whose
// last content event was bit rot, in machine and path order: Rot's list before it is checked against
// the index, and `indexer rot`'s, which may run without an index.
func RotInLog(ctx context.Context, log *store.Log, machine string) ([]RotFile, error) {
	if machine == "" {
		machine = "*"
	}
	type rec struct {
		seq uint64
		ev  events.Event
	}
	var evs []rec
	for _, t := range []events.Type{events.TypeFileChanged, events.TypeFileMoved, events.TypeFileDeleted, events.TypeFilesForgotten} {
		if _, err := log.Replay(ctx, 1, events.Subject(machine, t), func(r store.Record) error {
			// The projector reports the others: undecodable, or from a
			// laptop's source that does not take them (store.CheckSource).
			if e, err := events.Decode(r.Data); err == nil && store.CheckSource(r) == nil {
				evs = append(evs, rec{r.Seq, e})
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(evs, func(a, b rec) int { return cmp.Compare(a.seq, b.seq) })
	type key struct {
		machine string
		path    events.Path
	}
	rot := map[key]RotFile{}
	for _, r := range evs {
		switch d := r.ev.Data.(type) {
		case *events.FileChanged:
			k := key{r.ev.Machine, d.Path}
			switch {
			case d.Reason == events.ReasonBitRot:
				rot[k] = RotFile{Machine: k.machine, Path: k.path, Recorded: d.PrevSHA256, Read: d.Hashes.SHA256, Seq: r.seq, Detected: r.ev.Time}
			case d.Hashes.SHA256 != rot[k].Read:
				delete(rot, k) // new content: restored, or rewritten
			}
		case *events.FileMoved:
			from := key{r.ev.Machine, d.From}
			if f, ok := rot[from]; ok {
				delete(rot, from)
				f.Path = d.Path
				rot[key{r.ev.Machine, f.Path}] = f
			}
		case *events.FileDeleted:
			delete(rot, key{r.ev.Machine, d.Path})
		case *events.FilesForgotten:
			root := strings.TrimSuffix(string(d.Root), "/") + "/"
			for k := range rot {
				if k.machine == r.ev.Machine && strings.HasPrefix(string(k.path), root) {
					delete(rot, k)
				}
			}
		}
	}
	out := make([]RotFile, 0, len(rot))
	for _, f := range rot {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b RotFile) int {
		if c := strings.Compare(a.Machine, b.Machine); c != 0 {
			return c
		}
		return strings.Compare(string(a.Path), string(b.Path))
	})
	return out, nil
}
