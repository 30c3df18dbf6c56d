package projections

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/indexer/indexer/store"
)

// The name index maps each trigram of a folded base name to the sorted ids
// of the files whose names hold it, as plocate does. A posting list is cut
// into chunks: the key is the trigram and the chunk's first file id (8 bytes,
// big-endian), the value the uvarint gaps to the following ids. New files get
// ever larger ids, so additions land in a trigram's last chunk and a batch
// rewrites one small chunk per trigram it touches.

// The index is kept in two parts. names holds the ids below a split id (the
// meta key names_split), names-new those at or above it; a list is its
// chunks in names followed by its chunks in names-new. New files get the
// largest ids, so the lists' tails, which every batch touches (ten thousand
// of them for a few hundred new names), sit together in names-new, which
// stays small, instead of on most pages of names: at a million files that
// made each small commit, while a scan trickles in, rewrite tens of MB.
// Once the ids given out since the split reach namesMergeFiles, names-new is
// appended to names in one pass and emptied, and the split moves up.
var (
	bucketNamesNew = []byte("names-new")
	keyNamesSplit  = []byte("names_split")
)

// namesMergeFiles is how many file ids names-new covers before a merge (a
// variable for the tests).
var namesMergeFiles uint64 = 1 << 16

// nameIndex is the two parts of the name index in one transaction.
type nameIndex struct{ main, recent *store.Bucket }

func namesOf(tx *store.Tx) nameIndex {
	return nameIndex{tx.Bucket(bucketNames), tx.Bucket(bucketNamesNew)}
}

// chunkCursor walks the chunks of one trigram's posting list, in id order,
// across both parts. The keys and values it returns stay valid for the
// transaction (read-only ones; a writer must not change the buckets).
type chunkCursor struct {
	cs   [2]*store.Cursor
	part int
	t    trigram
}

func (n nameIndex) chunks(t trigram) *chunkCursor {
	return &chunkCursor{cs: [2]*store.Cursor{n.main.Cursor(), n.recent.Cursor()}, t: t}
}

// first returns the list's first chunk; k is nil when it has none.
func (c *chunkCursor) first() (k, v []byte) {
	c.part = 0
	return c.seek()
}

// next returns the chunk after the one last returned; k is nil past the
// last.
func (c *chunkCursor) next() (k, v []byte) {
	if c.part >= 2 {
		return nil, nil
	}
	if k, v = c.cs[c.part].Next(); k != nil && bytes.HasPrefix(k, c.t[:]) {
		return k, v
	}
	c.part++
	return c.seek()
}

// seek returns the list's first chunk in the parts from c.part on.
func (c *chunkCursor) seek() (k, v []byte) {
	for ; c.part < 2; c.part++ {
		if k, v = c.cs[c.part].Seek(c.t[:]); k != nil && bytes.HasPrefix(k, c.t[:]) {
			return k, v
		}
	}
	return nil, nil
}

// postingChunk is the size in bytes at which a chunk is cut. Small chunks
// keep a batch's rewrites small; large ones cost fewer keys. Measured.
const postingChunk = 384

func chunkKey(t trigram, first uint64) []byte {
	k := make([]byte, 3, 11)
	copy(k, t[:])
	return binary.BigEndian.AppendUint64(k, first)
}

// decodeChunk appends the ids of one chunk to ids.
func decodeChunk(ids []uint64, k, v []byte) ([]uint64, error) {
	if len(k) != 11 {
		return ids, errCorrupt
	}
	id := binary.BigEndian.Uint64(k[3:])
	ids = append(ids, id)
	for len(v) > 0 {
		gap, n := binary.Uvarint(v)
		if n <= 0 {
			return ids, errCorrupt
		}
		v = v[n:]
		id += gap
		ids = append(ids, id)
	}
	return ids, nil
}

// encodeChunks writes ids (sorted, non-empty) as chunks of at most
// postingChunk bytes, filling each before starting the next.
func encodeChunks(t trigram, ids []uint64, put func(k, v []byte) error) error {
	for len(ids) > 0 {
		v := make([]byte, 0, postingChunk)
		i := 1
		for ; i < len(ids); i++ {
			gap := ids[i] - ids[i-1]
			if len(v)+uvarintLen(gap) > postingChunk {
				break
			}
			v = binary.AppendUvarint(v, gap)
		}
		if err := put(chunkKey(t, ids[0]), v); err != nil {
			return err
		}
		ids = ids[i:]
	}
	return nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// chunkEdit is one chunk loaded for a batch's changes.
type chunkEdit struct {
	key   []byte // as stored; nil for a new chunk
	start uint64
	ids   []uint64
}

// posting is one change of the name index, in 8 bytes (a batch holds about
// twenty per file): the trigram in the top 24 bits, then a bit set when the
// file is removed from its list, then the file id.
type posting uint64

const postingFIDBits = 39

// maxFileID is the largest file id the name index can record: half a
// trillion files, which addFile refuses to pass.
const maxFileID = 1<<postingFIDBits - 1

func makePosting(t trigram, fid uint64, remove bool) posting {
	p := uint64(t[0])<<56 | uint64(t[1])<<48 | uint64(t[2])<<40 | fid
	if remove {
		p |= 1 << postingFIDBits
	}
	return posting(p)
}

func (p posting) trigram() trigram {
	return trigram{byte(p >> 56), byte(p >> 48), byte(p >> 40)}
}

func (p posting) fid() uint64             { return uint64(p) & maxFileID }
func (p posting) removed() bool           { return p&(1<<postingFIDBits) != 0 }
func (p posting) sameList(q posting) bool { return p>>40 == q>>40 }

// sortPostings returns ps sorted by trigram, keeping the order of each
// trigram's changes: a radix sort, one stable pass per byte. Sorting the
// batch's changes flat costs a fraction of keeping a list per trigram in a
// map.
func sortPostings(ps []posting) []posting {
	if len(ps) == 0 {
		return ps
	}
	src, dst := ps, make([]posting, len(ps))
	for shift := 40; shift <= 56; shift += 8 {
		var count [257]int
		for _, p := range src {
			count[int(byte(p>>shift))+1]++
		}
		if count[int(byte(src[0]>>shift))+1] == len(src) {
			continue // all share this byte
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, p := range src {
			c := byte(p >> shift)
			dst[count[c]] = p
			count[c]++
		}
		src, dst = dst, src
	}
	return src
}

// flushPostings applies the batch's name index changes, ps (u.post sorted
// by sortPostings), one edit per trigram, in trigram order. Changes are
// netted: a name added and removed in one batch costs nothing.
func (u *unit) flushPostings(ps []posting) error {
	var ids []uint64
	delta := map[uint64]int8{}
	for len(ps) > 0 {
		n := 1
		for n < len(ps) && ps[n].sameList(ps[0]) {
			n++
		}
		t, ops := ps[0].trigram(), ps[:n]
		ps = ps[n:]
		ids = ids[:0]
		if onlyNewIDs(ops) {
			// The common case, new files in walk order: no netting needed.
			for _, p := range ops {
				ids = append(ids, p.fid())
			}
			if err := u.editSplit(t, ids, nil); err != nil {
				return fmt.Errorf("name index %q: %w", t[:], err)
			}
			continue
		}
		clear(delta)
		for _, p := range ops {
			id, d := p.fid(), int8(1)
			if p.removed() {
				d = -1
			}
			if _, seen := delta[id]; !seen {
				ids = append(ids, id)
			}
			delta[id] += d
		}
		live := ids[:0]
		for _, id := range ids {
			if delta[id] != 0 {
				live = append(live, id)
			}
		}
		if len(live) == 0 {
			continue
		}
		slices.Sort(live)
		if err := u.editSplit(t, live, delta); err != nil {
			return fmt.Errorf("name index %q: %w", t[:], err)
		}
	}
	return u.mergeNamesIfDue()
}

// mergeNamesIfDue merges names-new into names once it covers
// namesMergeFiles file ids.
func (u *unit) mergeNamesIfDue() error {
	if u.nextFID-u.namesSplit >= namesMergeFiles {
		return u.mergeNames()
	}
	return nil
}

// editSplit applies the changes of ids (sorted) to t's list: those below the
// split in names, the others in names-new.
func (u *unit) editSplit(t trigram, ids []uint64, delta map[uint64]int8) error {
	i, _ := slices.BinarySearch(ids, u.namesSplit)
	if i > 0 {
		if err := editTrigram(u.names, t, ids[:i], delta); err != nil {
			return err
		}
	}
	if i < len(ids) {
		return editTrigram(u.namesNew, t, ids[i:], delta)
	}
	return nil
}

// mergeNames appends every list of names-new to its list in names (all its
// ids are above the split, so they go at the lists' ends), empties
// names-new and moves the split up to the next file id.
func (u *unit) mergeNames() error {
	type list struct {
		t   trigram
		ids []uint64
	}
	var lists []list
	c := u.namesNew.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 11 {
			return errCorrupt
		}
		t := trigram(k[:3])
		if len(lists) == 0 || lists[len(lists)-1].t != t {
			lists = append(lists, list{t: t})
		}
		l := &lists[len(lists)-1]
		var err error
		if l.ids, err = decodeChunk(l.ids, k, v); err != nil {
			return err
		}
	}
	for _, l := range lists {
		if err := editTrigram(u.names, l.t, l.ids, nil); err != nil {
			return fmt.Errorf("merge name index %q: %w", l.t[:], err)
		}
	}
	if err := u.tx.DeleteBucket(bucketNamesNew); err != nil {
		return err
	}
	u.namesNew = u.tx.Bucket(bucketNamesNew)
	u.namesSplit = u.nextFID
	return nil
}

// onlyNewIDs reports whether ops (of one list) only add ids, in increasing
// order.
func onlyNewIDs(ops []posting) bool {
	for i, p := range ops {
		if p.removed() || i > 0 && p <= ops[i-1] {
			return false
		}
	}
	return true
}

// editTrigram applies the changes of ids (sorted) to t's posting list: each
// is added or removed as delta says (nil: all are added).
// Consecutive ids mostly fall in one chunk, so the B-tree is searched once
// per chunk, not once per id.
func editTrigram(b *store.Bucket, t trigram, ids []uint64, delta map[uint64]int8) error {
	c := b.Cursor()
	if delta == nil {
		if done, err := appendTrigram(b, c, t, ids); done || err != nil {
			return err
		}
	}
	var edits []*chunkEdit
	var target *chunkEdit
	var limit uint64 // ids in [target.start, limit) belong to target
	for _, id := range ids {
		if target == nil || id < target.start || id >= limit {
			k, v, next, err := locateChunk(c, t, id)
			if err != nil {
				return err
			}
			limit = next
			target = nil
			for _, e := range edits {
				if k != nil && bytes.Equal(e.key, k) || k == nil && e.key == nil {
					target = e
				}
			}
			if target == nil && k != nil {
				ids, err := decodeChunk(nil, k, v)
				if err != nil {
					return err
				}
				target = &chunkEdit{key: bytes.Clone(k), start: ids[0], ids: ids}
				edits = append(edits, target)
			}
			if target == nil {
				if delta != nil && delta[id] < 0 {
					continue // removing what is not there
				}
				target = &chunkEdit{start: id}
				edits = append(edits, target)
			}
		}
		add := delta == nil || delta[id] > 0
		if n := len(target.ids); add && (n == 0 || id > target.ids[n-1]) {
			target.ids = append(target.ids, id) // after the chunk's last id
		} else {
			i, found := slices.BinarySearch(target.ids, id)
			switch {
			case add && !found:
				target.ids = slices.Insert(target.ids, i, id)
			case !add && found:
				target.ids = slices.Delete(target.ids, i, i+1)
			}
		}
		if id < target.start {
			target.start = id
		}
	}
	for _, e := range edits {
		if e.key != nil {
			if err := b.Delete(e.key); err != nil {
				return err
			}
		}
	}
	for _, e := range edits {
		if len(e.ids) == 0 {
			continue
		}
		if err := encodeChunks(t, e.ids, b.Put); err != nil {
			return err
		}
	}
	return nil
}

// appendTrigram adds ids (sorted) at the end of t's list when they all come
// after its last id, the common case (new files), without decoding the
// list's last chunk: the gaps are appended to its bytes, as editTrigram's
// re-encoding would write them. done is false when it does not apply.
func appendTrigram(b *store.Bucket, c *store.Cursor, t trigram, ids []uint64) (done bool, err error) {
	k, v, next, err := locateChunk(c, t, ids[0])
	if err != nil || k == nil || next != math.MaxUint64 {
		return false, err
	}
	last, err := lastInChunk(k, v)
	if err != nil || ids[0] <= last {
		return false, err
	}
	v = slices.Grow(v, postingChunk-len(v)) // v is locateChunk's copy
	i := 0
	for ; i < len(ids); i++ {
		gap := ids[i] - last
		if len(v)+uvarintLen(gap) > postingChunk {
			break
		}
		v, last = binary.AppendUvarint(v, gap), ids[i]
	}
	if err := b.Put(k, v); err != nil {
		return true, err
	}
	if i < len(ids) {
		return true, encodeChunks(t, ids[i:], b.Put)
	}
	return true, nil
}

// lastInChunk returns the last id of a chunk.
func lastInChunk(k, v []byte) (uint64, error) {
	if len(k) != 11 {
		return 0, errCorrupt
	}
	id := binary.BigEndian.Uint64(k[3:])
	for len(v) > 0 {
		gap, n := binary.Uvarint(v)
		if n <= 0 {
			return 0, errCorrupt
		}
		v, id = v[n:], id+gap
	}
	return id, nil
}

// locateChunk finds the stored chunk of t that id belongs to: the one with
// the greatest first id <= id, else t's first chunk (k is nil when t has
// none). next is the first id of the chunk after it, or MaxUint64.
func locateChunk(c *store.Cursor, t trigram, id uint64) (k, v []byte, next uint64, err error) {
	startOf := func(k []byte) uint64 {
		if k == nil || !bytes.HasPrefix(k, t[:]) {
			return math.MaxUint64
		}
		return binary.BigEndian.Uint64(k[3:])
	}
	seek := chunkKey(t, id)
	k, v = c.Seek(seek)
	if k != nil && bytes.Equal(k, seek) {
		nk, _ := c.Next()
		return bytes.Clone(k), bytes.Clone(v), startOf(nk), nil
	}
	after := bytes.Clone(k) // first key > seek, maybe another trigram's
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k != nil && bytes.HasPrefix(k, t[:]) {
		if len(k) != 11 {
			return nil, nil, 0, errCorrupt
		}
		return bytes.Clone(k), bytes.Clone(v), startOf(after), nil
	}
	if after != nil && bytes.HasPrefix(after, t[:]) {
		// id is below t's first chunk, which takes it.
		k, v = c.Seek(after)
		nk, _ := c.Next()
		return bytes.Clone(k), bytes.Clone(v), startOf(nk), nil
	}
	return nil, nil, math.MaxUint64, nil
}

// postingList returns every file id whose folded name holds t, sorted.
func postingList(n nameIndex, t trigram) ([]uint64, error) {
	var ids []uint64
	c := n.chunks(t)
	for k, v := c.first(); k != nil; k, v = c.next() {
		var err error
		if ids, err = decodeChunk(ids, k, v); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// postingSize returns an upper bound on the length of t's posting list
// from the size of its chunks, without decoding them: each id takes at
// least a byte.
func postingSize(n nameIndex, t trigram) int {
	size := 0
	c := n.chunks(t)
	for k, v := c.first(); k != nil; k, v = c.next() {
		size += 1 + len(v)
	}
	return size
}

// postingIter filters ascending file ids by one trigram's posting list. It
// reads the list's chunks in order and decodes only those whose id range
// [first id, next chunk's first id) holds one of the ids asked about.
type postingIter struct {
	c       *chunkCursor // its own
	k, v    []byte       // the current chunk; k is nil past the last
	nk, nv  []byte       // the chunk after it; nk is nil when none
	ids     []uint64
	decoded bool // ids holds the current chunk
	j       int  // ids[:j] are below every id still to come
}

func newPostingIter(n nameIndex, t trigram) *postingIter {
	it := &postingIter{c: n.chunks(t)}
	if it.k, it.v = it.c.first(); it.k != nil {
		it.peek()
	}
	return it
}

func (it *postingIter) peek() { it.nk, it.nv = it.c.next() }

// keep returns, in place, the ids (sorted) the list holds. Each call must
// pass ids above those of the calls before.
func (it *postingIter) keep(ids []uint64) ([]uint64, error) {
	out := ids[:0] // written behind i
	for i := 0; i < len(ids) && it.k != nil; {
		if len(it.k) != 11 || it.nk != nil && len(it.nk) != 11 {
			return nil, errCorrupt
		}
		first, next := binary.BigEndian.Uint64(it.k[3:]), uint64(math.MaxUint64)
		if it.nk != nil {
			next = binary.BigEndian.Uint64(it.nk[3:])
		}
		switch id := ids[i]; {
		case id < first:
			i++
		case id >= next:
			it.k, it.v, it.decoded, it.j = it.nk, it.nv, false, 0
			if it.k != nil {
				it.peek()
			}
		default:
			if !it.decoded {
				var err error
				if it.ids, err = decodeChunk(it.ids[:0], it.k, it.v); err != nil {
					return nil, err
				}
				it.decoded = true
			}
			for it.j < len(it.ids) && it.ids[it.j] < id {
				it.j++
			}
			if it.j < len(it.ids) && it.ids[it.j] == id {
				out = append(out, id)
			}
			i++
		}
	}
	return out, nil
}
