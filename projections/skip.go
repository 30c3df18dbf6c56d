package projections

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// What the projector does with an event it cannot apply, by case:
//
//   - It does not decode (not JSON, no id, an unknown type), it was
//     published on a subject that does not match its machine and type, or
//     it breaks what the read models rely on (see validate): it is a dead
//     letter with the reason, and projection goes on. No scanner of this
//     or an older version writes such an event, so the index loses nothing
//     a rebuild by this binary would have; a stranger's forgery changes
//     nothing.
//   - It is of a newer schema (events.ErrNewerSchema): projection stops
//     before it, with the sequence and the reason in Status. It is a fact
//     a newer scanner recorded, and skipping it would lose a file from the
//     index without a word. Run a newer binary, or Skip it: the operator's
//     decision, recorded in the index with the stream it is of, kept
//     across rebuilds, and the event becomes a dead letter whose reason
//     says it was skipped.

// keySkips is the meta key of the sequences the operator skipped:
// be64(seq) be64(stream created, Unix ns) pairs.
var keySkips = []byte("skips")

// ErrNotSkippable is returned by Skip for an event that needs no skipping:
// one this binary applies, or one that is a dead letter anyway.
var ErrNotSkippable = errors.New("not an event to skip")

// stopAt is the error of a projection stopped before an event of a newer
// schema.
func stopAt(it *item) error {
	return fmt.Errorf("stop at seq %d: %w: this binary cannot apply it; run a newer indexer-project if there is one, or skip it with 'indexer-project skip %d' (what it says is then missing from the index)",
		it.rec.Seq, it.err, it.rec.Seq)
}

// cutNewer returns the items before the first of a newer schema that is
// not in skip, and that one. Skipped items become dead letters.
func cutNewer(items []item, skip map[uint64]bool) ([]item, *item) {
	for i := range items {
		it := &items[i]
		if it.err == nil || !errors.Is(it.err, events.ErrNewerSchema) {
			continue
		}
		if !skip[it.rec.Seq] {
			return items[:i], it
		}
		it.bad, it.err = "skipped by the operator (indexer-project skip): "+it.err.Error(), nil
	}
	return items, nil
}

// readSkips returns the skipped sequences of the stream created at created.
func readSkips(tx *store.Tx, created time.Time) map[uint64]bool {
	v := tx.Bucket(bucketMeta).Get(keySkips)
	out := map[uint64]bool{}
	for ; len(v) >= 16; v = v[16:] {
		if int64(binary.BigEndian.Uint64(v[8:])) == created.UnixNano() {
			out[binary.BigEndian.Uint64(v)] = true
		}
	}
	return out
}

// writeSkips records skip as the skipped sequences of the stream created at
// created, keeping those of other streams.
func writeSkips(tx *store.Tx, created time.Time, skip map[uint64]bool) error {
	meta := tx.Bucket(bucketMeta)
	var b []byte
	for v := meta.Get(keySkips); len(v) >= 16; v = v[16:] {
		if int64(binary.BigEndian.Uint64(v[8:])) != created.UnixNano() {
			b = append(b, v[:16]...)
		}
	}
	seqs := make([]uint64, 0, len(skip))
	for s := range skip {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		b = binary.BigEndian.AppendUint64(b, s)
		b = binary.BigEndian.AppendUint64(b, uint64(created.UnixNano()))
	}
	if len(b) == 0 {
		return meta.Delete(keySkips)
	}
	return meta.Put(keySkips, b)
}

// skipped returns the skipped sequences of the current stream.
func (p *Projector) skipped(ctx context.Context) (map[uint64]bool, error) {
	info, err := p.Log.Info(ctx)
	if err != nil {
		return nil, err
	}
	var skip map[uint64]bool
	err = p.view(func(tx *store.Tx) error { skip = readSkips(tx, info.Created); return nil })
	return skip, err
}

// Skip records in the index that the event at seq, one of a newer schema
// that stopped projection, is to be skipped: it becomes a dead letter and
// projection goes on past it (a stopped Run may be started again). It
// refuses (ErrNotSkippable) an event this binary applies or records as a
// dead letter anyway, and one already applied. The skip is kept across
// rebuilds of the index from the same stream.
func (p *Projector) Skip(ctx context.Context, seq uint64) error {
	info, err := p.Log.Info(ctx)
	if err != nil {
		return fmt.Errorf("skip %d: %w", seq, err)
	}
	if cp := p.Checkpoint(); seq <= cp {
		return fmt.Errorf("skip %d: %w: the index is past it, at seq %d", seq, ErrNotSkippable, cp)
	}
	r, err := p.Log.Get(ctx, seq)
	if err != nil {
		return fmt.Errorf("skip %d: %w", seq, err)
	}
	_, derr := decode(r.Data)
	switch {
	case derr == nil:
		return fmt.Errorf("skip %d: %w: this binary applies that event (%s)", seq, ErrNotSkippable, r.Subject)
	case !errors.Is(derr, events.ErrNewerSchema):
		return fmt.Errorf("skip %d: %w: it is a dead letter anyway (%v)", seq, ErrNotSkippable, derr)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.db == nil {
		return store.ErrClosed
	}
	err = p.db.Update(func(tx *store.Tx) error {
		skip := readSkips(tx, info.Created)
		skip[seq] = true
		return writeSkips(tx, info.Created, skip)
	})
	if err != nil {
		return fmt.Errorf("skip %d: %w", seq, err)
	}
	p.logger().Warn("the operator skips an event", "seq", seq, "subject", r.Subject, "reason", derr)
	p.nmu.Lock()
	if p.stoppedAt == seq { // Run may go on: no longer stopped
		p.fatal, p.stoppedAt = nil, 0
	}
	p.nmu.Unlock()
	return nil
}
