package projections

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/store"
)

// pending is a batch's puts (value non-nil, maybe empty) and deletes
// (nil value) of one bucket, in order; for a key the last one wins. Most
// arrive already in key order (walk order), which flush checks first.
type pending struct {
	ops    []pendOp
	sorted bool
}

type pendOp struct {
	k string
	v []byte
}

func newPending() *pending { return &pending{sorted: true} }

func (p *pending) add(k string, v []byte) {
	if n := len(p.ops); n > 0 && p.sorted && p.ops[n-1].k > k {
		p.sorted = false
	}
	p.ops = append(p.ops, pendOp{k, v})
}

func (p *pending) put(k, v []byte) {
	if v == nil {
		v = []byte{}
	}
	p.add(string(k), v)
}

func (p *pending) del(k []byte) { p.add(string(k), nil) }

// keyBytes passes a string key to Put or Delete without copying it: bbolt
// copies a key it keeps and never writes to one.
func keyBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// sort puts the ops in key order, keeping the order of each key's.
func (p *pending) sort() {
	if !p.sorted {
		slices.SortStableFunc(p.ops, func(a, b pendOp) int { return strings.Compare(a.k, b.k) })
		p.sorted = true
	}
}

func (p *pending) flush(b *store.Bucket) error {
	p.sort()
	for i, op := range p.ops {
		if i+1 < len(p.ops) && p.ops[i+1].k == op.k {
			continue // a later change of the same key wins
		}
		var err error
		if op.v == nil {
			err = b.Delete(keyBytes(op.k))
		} else {
			err = b.Put(keyBytes(op.k), op.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// flush writes every entity the batch changed, each once, in key order.
// What needs no transaction, sorting and encoding the files, the name
// index changes and the groups (prepareFlush), runs on another goroutine while
// this one writes the buckets that need none: a rebuild's batch goroutine
// is its bottleneck, and the decoders leave the other core idle in part.
func (u *unit) flush() error {
	var prep flushPrep
	var wg sync.WaitGroup
	wg.Go(func() { prep = u.prepareFlush() })
	defer wg.Wait() // on an early return too: prepareFlush reads the unit
	for _, k := range sortedKeys(u.dirMap) {
		d := u.dirMap[k]
		if !d.isNew && d.rec == d.orig {
			continue
		}
		if err := u.dirs.Put(keyBytes(k), d.rec.encode()); err != nil {
			return fmt.Errorf("write dir: %w", err)
		}
		if d.isNew {
			if err := u.dirids.Put(be64(d.rec.id), []byte(k)); err != nil {
				return fmt.Errorf("write dir id: %w", err)
			}
		}
	}
	for _, k := range sortedKeys(u.machMap) {
		if m := u.machMap[k]; m.dirty {
			if err := u.machines.Put([]byte(k), m.rec.encode()); err != nil {
				return fmt.Errorf("write machine: %w", err)
			}
		}
	}
	scanIDs := make([]ulid.ULID, 0, len(u.scanMap))
	for id := range u.scanMap {
		scanIDs = append(scanIDs, id)
	}
	slices.SortFunc(scanIDs, func(a, b ulid.ULID) int { return a.Compare(b) })
	for _, id := range scanIDs {
		if s := u.scanMap[id]; s.dirty {
			if err := u.scans.Put(id[:], s.rec.encode()); err != nil {
				return fmt.Errorf("write scan: %w", err)
			}
		}
	}
	for _, pb := range []struct {
		p *pending
		b *store.Bucket
	}{{u.pendFID, u.fids}, {u.pendHist, u.history}} {
		if err := pb.p.flush(pb.b); err != nil {
			return err
		}
	}
	if err := u.flushHash(); err != nil {
		return err
	}
	wg.Wait()
	for i, f := range u.fileList {
		switch {
		case !f.dirty:
		case f.exists:
			if err := u.files.Put(keyBytes(f.key), prep.files[i]); err != nil {
				return fmt.Errorf("write file: %w", err)
			}
		case f.existed:
			if err := u.files.Delete(keyBytes(f.key)); err != nil {
				return fmt.Errorf("delete file: %w", err)
			}
		}
	}
	if err := u.flushGroups(prep.groups); err != nil {
		return err
	}
	if err := u.flushPostings(prep.post); err != nil {
		return err
	}
	meta := u.tx.Bucket(bucketMeta)
	for _, c := range []struct {
		k []byte
		v uint64
	}{{keyNextFileID, u.nextFID}, {keyNextDirID, u.nextDirID}, {keyNextMachineID, u.nextMID}, {keyNamesSplit, u.namesSplit}} {
		if err := meta.Put(c.k, be64(c.v)); err != nil {
			return err
		}
	}
	if u.tot != u.origTot {
		return meta.Put(keyTotals, u.tot.encode())
	}
	return nil
}

// flushPrep is what prepareFlush works out for flush.
type flushPrep struct {
	files  [][]byte  // the records of fileList's files to write, by index
	post   []posting // u.post sorted (see sortPostings)
	groups groupWrites
}

// prepareFlush sorts and encodes, for flush, what it can without the
// transaction. It reads the unit and writes only u.fileList's order,
// u.tot and u.seen, which flush leaves alone until it is done.
func (u *unit) prepareFlush() flushPrep {
	// Files mostly come in key order (walk order), so sorting is rarely
	// needed.
	if u.filesUnsorted {
		slices.SortFunc(u.fileList, func(a, b *fileEnt) int { return strings.Compare(a.key, b.key) })
	}
	p := flushPrep{files: make([][]byte, len(u.fileList))}
	for i, f := range u.fileList {
		if f.dirty && f.exists {
			p.files[i] = f.rec.encode()
		}
	}
	p.post = sortPostings(u.post)
	p.groups = u.groupChanges()
	u.seen.mergeIfDue()
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
