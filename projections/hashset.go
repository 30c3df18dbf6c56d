package projections

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/indexer/indexer/store"
)

// shaIndex maps the first 8 bytes of the sha256 of every file of one index
// file to the file's id, in memory, for the projector: is a new file's
// content held already, and by which file? Content never seen before (most
// files, as hashes are random) then costs no B-tree lookup at all, and
// content held once is found without a by-hash key (see flushHash).
//
// It may name files that no longer hold the content (removed, changed, or
// added by a batch that rolled back: file ids of a rolled-back batch are
// given out again), so every candidate is checked against the files model;
// it never misses a file that holds it: ids are added when a batch adds
// them, before it commits. It belongs to one file: a swapped-in index starts
// a new one, loaded from the file's files model on its first batch, and it
// is reloaded when stale entries may have piled up: when the files that
// stopped holding their content since the load (drop) reach half of it
// (a batch that rolls back ends the follow or build that owns the table,
// so its entries are never left behind uncounted).
// Counting them, not the table's growth, spares a rebuild or a first scan,
// which only add files, the reloads: at ten million files, one reload read
// and sorted about 8.3 million entries (5.2 s of a rebuild's last tenth).
//
// At 16 bytes a file it costs 16 MB per million files.
type shaIndex struct {
	sorted  []shaEntry          // by key, then id
	dir     []uint32            // dir[p]: the first sorted entry whose key's top 16 bits are >= p
	recent  map[uint64]uint64   // key -> id, added since the last merge
	more    map[uint64][]uint64 // further ids of keys in recent
	nRecent int
	stale   int // files that stopped holding their content since the load
	loaded  bool
}

type shaEntry struct{ key, fid uint64 }

func cmpEntry(a, b shaEntry) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.fid, b.fid)
}

// shaIndexMerge is how many recent ids are kept in the map before they are
// merged into the sorted entries, at least: a table of more than 16 times
// that merges when the recent ids are a sixteenth of it, so the merges'
// work grows with the table's size times the log of it, not its square (at
// ten million files, 152 merges of the whole table took 16 s of a
// rebuild's 128 s of CPU).
const shaIndexMerge = 1 << 16

func shaKey(sha *[32]byte) uint64 { return binary.BigEndian.Uint64(sha[:8]) }

// prepare loads the index from tx's files model on first use, and again
// once the stale entries may be half of it, dropping them.
func (x *shaIndex) prepare(tx *store.Tx) {
	if x.loaded && x.stale <= max(shaIndexMerge, (len(x.sorted)+x.nRecent)/2) {
		return
	}
	x.sorted, x.recent, x.more, x.nRecent, x.stale = x.sorted[:0], map[uint64]uint64{}, map[uint64][]uint64{}, 0, 0
	c := tx.Bucket(bucketFiles).Cursor()
	for _, v := c.First(); v != nil; _, v = c.Next() {
		if rec, err := decodeFileRec(v); err == nil && rec.has&hasSHA256 != 0 {
			x.sorted = append(x.sorted, shaEntry{shaKey(&rec.sha256), rec.fid})
		}
	}
	slices.SortFunc(x.sorted, cmpEntry)
	x.index()
	x.loaded = true
}

// index makes dir, so a lookup is one step into the directory and a short
// search among the ~n/65536 entries of one prefix, not ~20 cache misses.
func (x *shaIndex) index() {
	if x.dir == nil {
		x.dir = make([]uint32, 1<<16+1)
	}
	p := 0
	for i, e := range x.sorted {
		for top := int(e.key >> 48); p <= top; p++ {
			x.dir[p] = uint32(i)
		}
	}
	for ; p <= 1<<16; p++ {
		x.dir[p] = uint32(len(x.sorted))
	}
}

// add records that file fid holds sha.
func (x *shaIndex) add(sha *[32]byte, fid uint64) {
	k := shaKey(sha)
	if _, ok := x.recent[k]; ok {
		x.more[k] = append(x.more[k], fid)
	} else {
		x.recent[k] = fid
	}
	x.nRecent++
}

// mergeIfDue merges the recent entries into the sorted ones once there
// are enough of them (see shaIndexMerge). A batch calls it when it has
// applied its events (see prepareFlush), not per file: the merge then runs
// beside the batch's writes, which do not use the index.
func (x *shaIndex) mergeIfDue() {
	if x.nRecent >= max(shaIndexMerge, len(x.sorted)/16) {
		x.merge()
	}
}

// drop records that a file stopped holding the content it was added with
// (removed, changed, moved away): its entry is stale.
func (x *shaIndex) drop() { x.stale++ }

// merge moves the recent entries into the sorted ones, in one pass.
func (x *shaIndex) merge() {
	run := make([]shaEntry, 0, x.nRecent)
	for k, id := range x.recent {
		run = append(run, shaEntry{k, id})
	}
	for k, ids := range x.more {
		for _, id := range ids {
			run = append(run, shaEntry{k, id})
		}
	}
	slices.SortFunc(run, cmpEntry)
	// In place, from the back, into room grown at the end: a merge into
	// a new slice allocated the whole table each time (160 MB at ten
	// million files, every 65,536 files: 11.5 GB over a projection of
	// ten million, and two tables at once at the peak).
	n := len(x.sorted)
	x.sorted = slices.Grow(x.sorted, len(run))[:n+len(run)]
	i, j := n-1, len(run)-1
	for k := len(x.sorted) - 1; j >= 0; k-- {
		if i >= 0 && cmpEntry(x.sorted[i], run[j]) > 0 {
			x.sorted[k] = x.sorted[i]
			i--
		} else {
			x.sorted[k] = run[j]
			j--
		}
	}
	x.recent, x.more, x.nRecent = map[uint64]uint64{}, map[uint64][]uint64{}, 0
	x.index()
}

// search returns the index of the first sorted entry with key k, or of the
// first with a greater key.
func (x *shaIndex) search(k uint64) int {
	lo, hi := x.dir[k>>48], x.dir[k>>48+1]
	i, _ := slices.BinarySearchFunc(x.sorted[lo:hi], k, func(e shaEntry, k uint64) int { return cmp.Compare(e.key, k) })
	return int(lo) + i
}

// known is false only if no file of the index holds sha.
func (x *shaIndex) known(sha *[32]byte) bool {
	k := shaKey(sha)
	if _, ok := x.recent[k]; ok {
		return true
	}
	i := x.search(k)
	return i < len(x.sorted) && x.sorted[i].key == k
}

// candidates returns the ids of the files that may hold sha.
func (x *shaIndex) candidates(sha *[32]byte) []uint64 {
	var ids []uint64
	k := shaKey(sha)
	for i := x.search(k); i < len(x.sorted) && x.sorted[i].key == k; i++ {
		ids = append(ids, x.sorted[i].fid)
	}
	if id, ok := x.recent[k]; ok {
		ids = append(append(ids, id), x.more[k]...)
	}
	return ids
}
