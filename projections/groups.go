package projections

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// groupEnt is the identity-mapped duplicate group of one content: its
// record as loaded (orig) and as the batch leaves it (cur).
type groupEnt struct {
	orig, cur groupRec
	dirty     bool
	// solo is the by-hash key the content's one file would have, when the
	// index held exactly one (which has no by-hash key: see flushHash);
	// soloGone is set once that file is removed in the batch.
	solo     []byte
	soloGone bool
	// first is the content's one file while the index held none before
	// the batch and the batch has added just this one (most files): its
	// links count and by-hash key are worked out (settle) only if another
	// file of the content comes or it goes.
	first *fileEnt
}

// inodePrefix is the by-hash prefix that all hard links of f's inode share.
func inodePrefix(f *fileEnt) []byte {
	k := make([]byte, 0, 32+30)
	k = append(k, f.rec.sha256[:]...)
	k = binary.AppendUvarint(k, f.mach.rec.id)
	k = binary.AppendUvarint(k, f.rec.dev)
	return binary.AppendUvarint(k, f.rec.inode)
}

func byHashKey(f *fileEnt) []byte { return binary.AppendUvarint(inodePrefix(f), f.rec.fid) }

// group returns the identity-mapped duplicate group of sha. Without a dupes
// record the count is 0 or 1: the shaIndex says which, and which file. It is
// loaded before any change to sha's files in the batch.
func (u *unit) group(sha [32]byte) *groupEnt {
	if g := u.groupMap[sha]; g != nil {
		return g
	}
	g := &groupEnt{}
	if !u.seen.known(&sha) {
		// No file holds it, so no dupes record either.
	} else if v := u.dupes.Get(sha[:]); v != nil {
		var err error
		g.orig, err = decodeGroupRec(v)
		u.loaded(bucketDupes, sha[:], err)
	} else if g.solo = u.soloKey(sha); g.solo != nil {
		g.orig = groupRec{count: 1, inodes: 1}
	}
	g.cur = g.orig
	u.groupMap[sha] = g
	return g
}

// soloKey finds the file of the index that holds sha, when no dupes record
// says more do, among the shaIndex's candidates, and returns the by-hash key
// it would have; nil when no file holds sha.
func (u *unit) soloKey(sha [32]byte) []byte {
	r := newReader(u.tx)
	for _, id := range u.seen.candidates(&sha) {
		dirID, name, ok := r.fid(id)
		if !ok {
			continue
		}
		machine, _, ok := r.dirByID(dirID)
		if !ok {
			continue
		}
		k := fileKey(dirID, name)
		v := u.files.Get(k)
		if v == nil {
			continue
		}
		rec, err := decodeFileRec(v)
		if err != nil {
			u.loaded(bucketFiles, k, err)
			return nil
		}
		if rec.fid != id || rec.has&hasSHA256 == 0 || rec.sha256 != sha {
			continue
		}
		f := fileEnt{mach: u.machine(machine), rec: rec}
		return byHashKey(&f)
	}
	return nil
}

// links returns the identity-mapped number of f's inode's links with f's
// content: the by-hash keys under inodePrefix(f), or the group's solo file.
func (u *unit) links(f *fileEnt, g *groupEnt) *int {
	p := inodePrefix(f)
	if n := u.linkCounts[string(p)]; n != nil {
		return n
	}
	n := new(int)
	switch {
	case g.orig.count >= 2:
		c := u.byHash.Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			*n++
		}
	case g.solo != nil && bytes.HasPrefix(g.solo, p):
		// Uvarints are prefix-free: the solo file is a link of this inode.
		*n = 1
	}
	u.linkCounts[string(p)] = n
	return n
}

func (u *unit) addHash(f *fileEnt) error {
	if f.rec.has&hasSHA256 == 0 {
		return nil
	}
	g := u.group(f.rec.sha256)
	u.seen.add(&f.rec.sha256, f.rec.fid)
	if g.orig.count == 0 && g.cur.count == 0 {
		g.first = f
		g.cur.count, g.cur.inodes, g.cur.size, g.dirty = 1, 1, f.rec.size, true
		return nil
	}
	u.settle(g)
	n := u.links(f, g)
	u.pendHash.put(byHashKey(f), nil)
	*n++
	g.cur.count++
	// A file whose inode is unknown is an inode of its own (knownInode).
	if *n == 1 || !knownInode(f.rec.inode) {
		g.cur.inodes++
	}
	g.cur.size = f.rec.size
	g.dirty = true
	return nil
}

// settle gives g's deferred first file (see groupEnt.first) its links
// count and by-hash key, as addHash would have.
func (u *unit) settle(g *groupEnt) {
	f := g.first
	if f == nil {
		return
	}
	g.first = nil
	*u.links(f, g)++
	u.pendHash.put(byHashKey(f), nil)
}

func (u *unit) removeHash(f *fileEnt) error {
	if f.rec.has&hasSHA256 == 0 {
		return nil
	}
	g := u.group(f.rec.sha256)
	u.seen.drop()
	u.settle(g)
	n := u.links(f, g)
	k := byHashKey(f)
	u.pendHash.del(k)
	if bytes.Equal(k, g.solo) {
		g.soloGone = true
	}
	*n--
	if g.cur.count > 0 {
		g.cur.count--
	}
	if (*n == 0 || !knownInode(f.rec.inode)) && g.cur.inodes > 0 {
		g.cur.inodes--
	}
	g.dirty = true
	return nil
}

// groupKeys are the ordering keys of a group in the groups model.
func groupKeys(sha [32]byte, g groupRec) [3][]byte {
	mk := func(tag byte, x uint64) []byte {
		k := make([]byte, 0, 41)
		k = append(k, tag)
		k = binary.BigEndian.AppendUint64(k, x)
		return append(k, sha[:]...)
	}
	return [3][]byte{mk('w', g.wasted()), mk('c', g.count), mk('s', g.size)}
}

// flushHash writes the batch's by-hash changes. by-hash holds the keys of
// the files whose content two or more files hold, and only those: content
// held once (most of it) is found through the shaIndex, and by queries
// through the name index (altTrigram), so a new file costs an append there
// rather than an insert at a random page of a B-tree as large as the index. A content that
// becomes shared gains the keys of all its files, its solo file's too; one
// that stops being shared loses them all.
func (u *unit) flushHash() error {
	p := &pending{sorted: u.pendHash.sorted}
	for _, op := range u.pendHash.ops {
		if u.groupMap[[32]byte([]byte(op.k[:32]))].cur.count >= 2 {
			p.ops = append(p.ops, op)
		}
	}
	var shas [][32]byte // contents that become shared, or stop being
	for sha, g := range u.groupMap {
		if (g.orig.count >= 2) != (g.cur.count >= 2) {
			shas = append(shas, sha)
		}
	}
	slices.SortFunc(shas, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	for _, sha := range shas {
		g := u.groupMap[sha]
		if g.cur.count >= 2 {
			if g.solo != nil && !g.soloGone {
				p.put(g.solo, nil)
			}
			continue
		}
		// No longer shared: delete every key it had.
		var ks [][]byte
		c := u.byHash.Cursor()
		for k, _ := c.Seek(sha[:]); k != nil && bytes.HasPrefix(k, sha[:]); k, _ = c.Next() {
			ks = append(ks, bytes.Clone(k))
		}
		for _, k := range ks {
			p.del(k)
		}
	}
	return p.flush(u.byHash)
}

// groupWrites are a batch's changes of dupes and groups, worked out by
// groupChanges for flushGroups.
type groupWrites struct {
	dupes *pending // by content: the groups' records, in key order
	keys  *pending // groups' ordering keys, sorted
}

// groupChanges works out the batch's changes of dupes and groups, and of
// the totals. It reads only the unit, not the transaction (see
// prepareFlush).
func (u *unit) groupChanges() groupWrites {
	shas := make([][32]byte, 0, len(u.groupMap))
	for sha, g := range u.groupMap {
		// Content held by fewer than two files, before and after (most
		// content), has no group to write.
		if g.dirty && g.cur != g.orig && (g.orig.count >= 2 || g.cur.count >= 2) {
			shas = append(shas, sha)
		}
	}
	slices.SortFunc(shas, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	// The ordering keys go in key order, not the groups' (they lead with
	// a count or size), and one that a change leaves as it was (a group's
	// size, when a copy is added) is left alone.
	w := groupWrites{dupes: &pending{ops: make([]pendOp, 0, len(shas)), sorted: true}, keys: newPending()}
	for _, sha := range shas {
		g := u.groupMap[sha]
		was, is := g.orig.count >= 2, g.cur.count >= 2
		var old, cur [3][]byte
		if was {
			u.tot.groups--
			u.tot.wasted = satSub(u.tot.wasted, g.orig.wasted())
			u.tot.redundant = satSub(u.tot.redundant, g.orig.redundant())
			old = groupKeys(sha, g.orig)
		}
		if is {
			u.tot.groups++
			u.tot.wasted = satAdd(u.tot.wasted, g.cur.wasted())
			u.tot.redundant = satAdd(u.tot.redundant, g.cur.redundant())
			cur = groupKeys(sha, g.cur)
		}
		for i := range old {
			if was && is && bytes.Equal(old[i], cur[i]) {
				continue
			}
			if was {
				w.keys.del(old[i])
			}
			if is {
				w.keys.put(cur[i], nil)
			}
		}
		if is {
			w.dupes.put(sha[:], g.cur.encode())
		} else {
			w.dupes.del(sha[:])
		}
	}
	w.keys.sort()
	return w
}

// flushGroups writes w.
func (u *unit) flushGroups(w groupWrites) error {
	if err := w.dupes.flush(u.dupes); err != nil {
		return err
	}
	return w.keys.flush(u.groups)
}
