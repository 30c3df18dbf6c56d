package projections

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// ErrNotFound is returned by queries for a path, directory, group or
// machine the index does not hold. It is store.ErrNotFound.
var ErrNotFound = store.ErrNotFound

// ErrBadQuery is returned (wrapped, with the reason) for a query that cannot
// be run as given: a bad glob, a digest that is not hex. Tell the user.
var ErrBadQuery = errors.New("bad query")

// Index answers queries over the read models. Each call reads one
// consistent snapshot (one read transaction). It is safe for concurrent use.
type Index struct {
	view     func(func(*store.Tx) error) error
	ctx      context.Context // nil: never stopped (see WithContext)
	examined *atomic.Uint64
}

// NewIndex returns the queries over db, for example an index.db opened
// read-only while no projector runs.
func NewIndex(db *store.DB) *Index { return &Index{view: db.View, examined: new(atomic.Uint64)} }

// File is one file as the index knows it.
type File struct {
	Machine string `json:"machine"`
	events.File
	// Seq is the sequence of the event that last set this state.
	Seq uint64 `json:"seq"`
	// ID is the index's id of the file; it is kept across moves.
	ID uint64 `json:"id"`
	// BitRot is set when the file's last --verify found bit rot and it
	// holds what that verify read still: the sha256 recorded before, the
	// good content's (find the good copies by it).
	BitRot string `json:"bit_rot_recorded_sha256,omitempty"`
}

// fileOf is the File of a stored record at path.
func fileOf(machine string, path events.Path, rec *fileRec) File {
	f := File{Machine: machine, File: rec.file(path), Seq: rec.seq, ID: rec.fid}
	if rec.has&hasRot != 0 {
		f.BitRot = hex.EncodeToString(rec.x.rot[:])
	}
	return f
}

// reader reads one transaction with small caches.
type reader struct {
	tx                        *store.Tx
	files, fids, dirs, dirids *store.Bucket
	dirCache                  map[uint64][2]string
	bud                       *budget // nil: not counted
	lastDir                   struct {
		id           uint64
		machine, dir string
		ok           bool
	}
}

func newReader(tx *store.Tx) *reader {
	return &reader{
		tx: tx, files: tx.Bucket(bucketFiles), fids: tx.Bucket(bucketFIDs),
		dirs: tx.Bucket(bucketDirs), dirids: tx.Bucket(bucketDirIDs),
		dirCache: map[uint64][2]string{},
	}
}

// dirByID returns the machine and path of a directory id.
func (r *reader) dirByID(id uint64) (machine, dir string, ok bool) {
	if r.lastDir.ok && r.lastDir.id == id { // files of one directory come in runs
		return r.lastDir.machine, r.lastDir.dir, true
	}
	if md, ok := r.dirCache[id]; ok {
		machine, dir = md[0], md[1]
	} else {
		v := r.dirids.Get(be64(id))
		if v == nil {
			return "", "", false
		}
		machine, dir = splitDirKey(v)
		r.dirCache[id] = [2]string{machine, dir}
	}
	r.lastDir.id, r.lastDir.machine, r.lastDir.dir, r.lastDir.ok = id, machine, dir, true
	return machine, dir, true
}

func (r *reader) dirID(machine, dir string) (dirRec, bool) {
	v := r.dirs.Get(dirKey(machine, dir))
	if v == nil {
		return dirRec{}, false
	}
	d, err := decodeDirRec(v)
	return d, err == nil
}

// fid returns the directory id and name of a file id.
func (r *reader) fid(id uint64) (dirID uint64, name string, ok bool) {
	return decodeFID(r.fids.Get(be64(id)))
}

func (r *reader) fileAt(machine string, dirID uint64, dir, name string) (File, bool) {
	return fileValue(machine, dir, name, r.files.Get(fileKey(dirID, name)))
}

// fileValue decodes v, a files value (nil: none), as the file dir+name.
func fileValue(machine, dir, name string, v []byte) (File, bool) {
	if v == nil {
		return File{}, false
	}
	rec, err := decodeFileRec(v)
	if err != nil {
		return File{}, false
	}
	return fileOf(machine, events.Path(dir+name), &rec), true
}

// filesByIDs returns the file of each id (found[i] false where the index
// has none). It reads the fids and then the files model in key order, with
// cursors that step to a near key rather than seek it: the files of a page
// of duplicates (thousands, anywhere in the index) cost about one pass
// over each model, where a lookup per file cost two descents from the
// root each (a third of `indexer dupes --limit 0`'s CPU on tree S).
func (r *reader) filesByIDs(ids []uint64) (files []File, found []bool) {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	type loc struct {
		i     int
		dirID uint64
		name  string
	}
	locs := make([]loc, 0, len(ids))
	fc := fidCursor{keyCursor: keyCursor{c: r.fids.Cursor()}}
	for _, i := range order {
		if r.bud != nil && !r.bud.step() {
			break
		}
		if dirID, name, ok := decodeFID(fc.get(ids[i])); ok {
			locs = append(locs, loc{i, dirID, name})
		}
	}
	slices.SortFunc(locs, func(a, b loc) int {
		if c := cmp.Compare(a.dirID, b.dirID); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	files, found = make([]File, len(ids)), make([]bool, len(ids))
	kc := keyCursor{c: r.files.Cursor()}
	var key []byte
	for _, l := range locs {
		if r.bud != nil && !r.bud.step() {
			break
		}
		machine, dir, ok := r.dirByID(l.dirID)
		if !ok {
			continue
		}
		key = append(binary.BigEndian.AppendUint64(key[:0], l.dirID), l.name...)
		files[l.i], found[l.i] = fileValue(machine, dir, l.name, kc.get(key))
	}
	return files, found
}

// keyCursor reads a bucket's values for ascending keys, stepping to a key
// a few keys ahead (fidSteps) rather than seeking it.
type keyCursor struct {
	c       *store.Cursor
	k, v    []byte
	started bool
}

// get returns the value of key, or nil. Each key must be at or above the
// last.
func (kc *keyCursor) get(key []byte) []byte {
	if k := kc.seek(key); k != nil && bytes.Equal(k, key) {
		return kc.v
	}
	return nil
}

// seek moves to the first key at or above key and returns it (nil: none).
// Each key must be at or above the last.
func (kc *keyCursor) seek(key []byte) []byte {
	if kc.started {
		k, v := kc.k, kc.v // in locals: kc is on the heap, and each store to it costs a write barrier
		for i := 0; i < fidSteps && k != nil; i++ {
			if keyAtLeast(k, key) {
				kc.k, kc.v = k, v
				return k
			}
			k, v = kc.c.Next()
		}
		if k == nil {
			kc.k, kc.v = nil, nil
			return nil // past the last key
		}
	}
	kc.started = true
	kc.k, kc.v = kc.c.Seek(key)
	return kc.k
}

// keyAtLeast reports whether k sorts at or above key. The first 8 bytes
// are compared as one number first: they are an id in the fids and files
// models, and bytes.Compare's call was a tenth of reading the duplicates'
// files.
func keyAtLeast(k, key []byte) bool {
	if len(k) >= 8 && len(key) >= 8 {
		if a, b := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(key); a != b {
			return a > b
		}
	}
	return bytes.Compare(k, key) >= 0
}

// next moves to the key after the current one and returns it.
func (kc *keyCursor) next() []byte {
	kc.k, kc.v = kc.c.Next()
	return kc.k
}

func (r *reader) fileByID(id uint64) (File, bool) {
	dirID, name, ok := r.fid(id)
	if !ok {
		return File{}, false
	}
	machine, dir, ok := r.dirByID(dirID)
	if !ok {
		return File{}, false
	}
	return r.fileAt(machine, dirID, dir, name)
}

func (r *reader) lookup(machine string, p events.Path) (File, bool) {
	dir, name := splitPath(string(p))
	d, ok := r.dirID(machine, dir)
	if !ok {
		return File{}, false
	}
	return r.fileAt(machine, d.id, dir, name)
}

// Lookup returns the file at path on machine, or ErrNotFound.
func (ix *Index) Lookup(machine string, p events.Path) (File, error) {
	var f File
	err := ix.view(func(tx *store.Tx) error {
		var ok bool
		if f, ok = newReader(tx).lookup(machine, p); !ok {
			return fmt.Errorf("%s:%s: %w", machine, p, ErrNotFound)
		}
		return nil
	})
	return f, err
}

// ByHash returns every file whose content has the digest, given in hex. alg
// is "sha256", "md5", "sha1" or "" to tell by the length. sha256 uses the
// by-hash model. md5 and sha1 use the name index's list of files whose md5
// or sha1 starts with the same 12 bits (about 1 in 2,000 files), each checked
// against the full digest in files: about a millisecond at a million files.
// With alg "", a digest shorter than md5's is a prefix (at least
// minHashPrefix hex digits, as `indexer history` prints them) of any of
// the three.
func (ix *Index) ByHash(alg, digest string) ([]File, error) {
	digest = strings.ToLower(strings.TrimSpace(digest))
	if alg == "" && len(digest) < 32 {
		return ix.byHashPrefix(digest)
	}
	if alg == "" {
		switch len(digest) {
		case 64:
			alg = "sha256"
		case 40:
			alg = "sha1"
		case 32:
			alg = "md5"
		}
	}
	want := map[string]int{"sha256": 32, "sha1": 20, "md5": 16}[alg]
	raw, err := hex.DecodeString(digest)
	if err != nil || want == 0 || len(raw) != want {
		return nil, fmt.Errorf("%w: %q is not a hex md5, sha1 or sha256 digest", ErrBadQuery, digest)
	}
	var out []File
	err = ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		if alg == "sha256" {
			out = r.byHashMax([32]byte(raw), -1)
			return nil
		}
		ids, err := postingList(namesOf(tx), altTrigram(raw))
		if err != nil {
			return err
		}
		for _, fid := range ids {
			f, ok := r.fileByID(fid)
			if ok && (alg == "md5" && f.Hashes.MD5 == digest || alg == "sha1" && f.Hashes.SHA1 == digest) {
				out = append(out, f)
			}
		}
		return nil
	})
	return out, err
}

// minHashPrefix is the shortest digest prefix ByHash takes.
const minHashPrefix = 8

// byHashPrefix returns the files whose md5, sha1 or sha256 starts with the
// hex prefix, through the name index's list of files with a digest that
// starts with the same 12 bits.
func (ix *Index) byHashPrefix(prefix string) ([]File, error) {
	if len(prefix) < minHashPrefix || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: %q is not a hex md5, sha1 or sha256 digest, or a prefix of one of at least %d digits", ErrBadQuery, prefix, minHashPrefix)
	}
	raw, _ := hex.DecodeString(prefix[:4])
	var out []File
	err := ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		ids, err := postingList(namesOf(tx), altTrigram(raw))
		if err != nil {
			return err
		}
		for _, fid := range ids {
			f, ok := r.fileByID(fid)
			if ok && (strings.HasPrefix(f.Hashes.SHA256, prefix) || strings.HasPrefix(f.Hashes.MD5, prefix) || strings.HasPrefix(f.Hashes.SHA1, prefix)) {
				out = append(out, f)
			}
		}
		return nil
	})
	return out, err
}

// byHashMax returns the files with content sha, at most most of them
// (negative: all): those of its by-hash keys, in key order, when two or
// more files hold it; otherwise the one file found through the name
// index's list for altTrigram(sha), if any.
func (r *reader) byHashMax(sha [32]byte, most int) []File {
	var out []File
	for _, fid := range r.hashIDs(sha, most) {
		if f, ok := r.fileByID(fid); ok {
			out = append(out, f)
		}
	}
	if len(out) > 0 {
		return out
	}
	return r.byHashNames(sha)
}

// hashIDs returns the file ids of content sha's by-hash keys, in key
// order, at most most of them (negative: all).
func (r *reader) hashIDs(sha [32]byte, most int) []uint64 {
	return r.hashIDsOf([][32]byte{sha}, most)[0]
}

// hashIDsOf returns hashIDs of each of shas. It reads the by-hash keys in
// key order with one cursor that steps to a near key rather than seeking
// it (see filesByIDs): every group's files cost about one pass over the
// model instead of a descent from the root per group.
func (r *reader) hashIDsOf(shas [][32]byte, most int) [][]uint64 {
	order := make([]int, len(shas))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(shas[a][:], shas[b][:]) })
	out := make([][]uint64, len(shas))
	kc := keyCursor{c: r.tx.Bucket(bucketByHash).Cursor()}
	for _, i := range order {
		sha := shas[i][:]
		var ids []uint64
		for k := kc.seek(sha); k != nil && bytes.HasPrefix(k, sha); k = kc.next() {
			if r.bud != nil && !r.bud.step() || most >= 0 && len(ids) >= most {
				break
			}
			d := dec{b: k[32:]}
			d.uv()
			d.uv()
			d.uv()
			fid := d.uv()
			if d.err == nil {
				ids = append(ids, fid)
			}
		}
		out[i] = ids
	}
	return out
}

// byHashNames returns the one file of content sha found through the name
// index's list for altTrigram(sha), if any.
func (r *reader) byHashNames(sha [32]byte) []File {
	var out []File
	ids, err := postingList(namesOf(r.tx), altTrigram(sha[:]))
	if err != nil {
		return nil
	}
	want := hex.EncodeToString(sha[:])
	for _, fid := range ids {
		if f, ok := r.fileByID(fid); ok && f.Hashes.SHA256 == want {
			out = append(out, f)
		}
	}
	return out
}

// Counts are the recursive counts of a directory, a machine or the index:
// files on disk and their bytes; symbolic links, which are neither files
// nor bytes (a link's size is its target's length); and the members of
// archives with their uncompressed bytes, apart from files, since the
// archive file itself is counted in Files and Bytes.
type Counts struct {
	Files       uint64 `json:"files"`
	Bytes       uint64 `json:"bytes"`
	Links       uint64 `json:"links"`
	Members     uint64 `json:"archive_members"`
	MemberBytes uint64 `json:"archive_member_bytes"`
}

func countsOf(d dirRec) Counts {
	return Counts{Files: d.files, Bytes: d.bytes, Links: d.links, Members: d.members, MemberBytes: d.memberBytes}
}

func (c *Counts) add(o Counts) {
	c.Files, c.Bytes, c.Links = satAdd(c.Files, o.Files), satAdd(c.Bytes, o.Bytes), satAdd(c.Links, o.Links)
	c.Members, c.MemberBytes = satAdd(c.Members, o.Members), satAdd(c.MemberBytes, o.MemberBytes)
}

// Stats are index-wide totals.
type Stats struct {
	Counts
	// UniqueBytes is the bytes of files and archive members less every
	// copy beyond the first of each content (hard links included): the
	// duplicate groups hold both.
	UniqueBytes uint64    `json:"unique_bytes"`
	Groups      uint64    `json:"duplicate_groups"`
	Wasted      uint64    `json:"wasted_bytes"`
	Machines    []Machine `json:"machines"`
	Checkpoint  uint64    `json:"checkpoint"`
	DeadLetters int       `json:"dead_letters"`
}

// Stats returns the totals, per machine too.
func (ix *Index) Stats() (Stats, error) {
	var s Stats
	err := ix.view(func(tx *store.Tx) error {
		ms, err := machines(tx)
		if err != nil {
			return err
		}
		s.Machines = ms
		for _, m := range ms {
			s.Counts.add(m.Counts)
		}
		t := decodeTotals(tx.Bucket(bucketMeta).Get(keyTotals))
		s.Groups, s.Wasted = t.groups, t.wasted
		all := satAdd(s.Bytes, s.MemberBytes)
		s.UniqueBytes = all - min(t.redundant, all)
		s.Checkpoint = tx.Checkpoint().Seq
		s.DeadLetters = tx.Count(bucketDead)
		return nil
	})
	return s, err
}

// Machine summarizes one machine's files and scans.
type Machine struct {
	Name string `json:"name"`
	Counts
	Events        uint64    `json:"events"`
	Scans         uint64    `json:"scans"`
	Unreadable    uint64    `json:"unreadable"`
	FirstSeq      uint64    `json:"first_seq"`
	LastSeq       uint64    `json:"last_seq"`
	FirstEvent    time.Time `json:"first_event"`
	LastEvent     time.Time `json:"last_event"`
	LastScan      string    `json:"last_scan,omitempty"`
	LastScanStart time.Time `json:"last_scan_start,omitzero"`
	LastScanEnd   time.Time `json:"last_scan_end,omitzero"`
	// LastScanState is running, complete, interrupted or none.
	LastScanState string `json:"last_scan_state"`
}

// Machines lists the machines by name.
func (ix *Index) Machines() ([]Machine, error) {
	var ms []Machine
	err := ix.view(func(tx *store.Tx) error {
		var err error
		ms, err = machines(tx)
		return err
	})
	return ms, err
}

func machines(tx *store.Tx) ([]Machine, error) {
	var out []Machine
	r := newReader(tx)
	c := tx.Bucket(bucketMachines).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := decodeMachineRec(v)
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w", k, err)
		}
		m := Machine{
			Name: string(k), Events: rec.events, Scans: rec.scans, Unreadable: rec.unreadable,
			FirstSeq: rec.firstSeq, LastSeq: rec.lastSeq, FirstEvent: timeOf(rec.firstTime), LastEvent: timeOf(rec.lastTime),
			LastScanStart: timeOf(rec.lastScanStart), LastScanEnd: timeOf(rec.lastScanEnd),
			LastScanState: scanStateNames[min(int(rec.lastScanState), len(scanStateNames)-1)],
		}
		if rec.lastScanState != scanNone {
			m.LastScan = rec.lastScan.String()
		}
		if root, ok := r.dirID(m.Name, ""); ok {
			m.Counts = countsOf(root)
		}
		out = append(out, m)
	}
	return out, nil
}

// Scan summarizes one scan.
type Scan struct {
	ID      string      `json:"id"`
	Machine string      `json:"machine"`
	Root    events.Path `json:"root"`
	Hashes  []string    `json:"hashes,omitempty"`
	// State is running, complete or interrupted: stopped before it
	// finished, or never closed (killed) and followed by another scan of
	// its machine.
	State    string            `json:"state"`
	StartSeq uint64            `json:"start_seq,omitempty"`
	EndSeq   uint64            `json:"end_seq,omitempty"`
	Started  time.Time         `json:"started,omitzero"`
	Ended    time.Time         `json:"ended,omitzero"`
	Duration time.Duration     `json:"duration_ns,omitempty"`
	Counts   events.ScanCounts `json:"counts"`
	// Seen counts the scan's events the projector applied, by type.
	Seen ScanSeen `json:"seen"`
}

// ScanSeen counts a scan's file events in the log.
type ScanSeen struct {
	Scanned, Changed, Moved, Deleted, Unreadable uint64
}

// Scans returns the newest scans first, of one machine or all ("").
// limit <= 0 returns all.
func (ix *Index) Scans(machine string, limit int) ([]Scan, error) {
	var out []Scan
	bud := ix.budget()
	err := ix.view(func(tx *store.Tx) error {
		c := tx.Bucket(bucketScans).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit) && bud.step(); k, v = c.Prev() {
			rec, err := decodeScanRec(v)
			if err != nil || len(k) != 16 {
				return fmt.Errorf("scan %x: %w", k, errCorrupt)
			}
			if machine != "" && rec.machine != machine {
				continue
			}
			out = append(out, scanOf(k, rec))
		}
		return nil
	})
	if err == nil {
		err = bud.end("scans")
	}
	return out, err
}

func scanOf(k []byte, rec scanRec) Scan {
	s := Scan{
		ID: ulidString(k), Machine: rec.machine, Root: events.Path(rec.root),
		State:    scanStateNames[min(int(rec.state), len(scanStateNames)-1)],
		StartSeq: rec.startSeq, EndSeq: rec.endSeq, Started: timeOf(rec.startTime), Ended: timeOf(rec.endTime),
		Duration: time.Duration(rec.durationNS), Counts: rec.counts,
		Seen: ScanSeen{rec.scanned, rec.changed, rec.moved, rec.deleted, rec.unreadable},
	}
	if rec.hashes != "" {
		s.Hashes = strings.Split(rec.hashes, ",")
	}
	return s
}

// HistoryEntry is one event of a path's timeline. Read the event itself
// from the log by its sequence (store.Log.Get).
type HistoryEntry struct {
	Seq  uint64      `json:"seq"`
	Type events.Type `json:"type"`
	// MovedAway is set on the FileMoved that took the file from this path.
	MovedAway bool `json:"moved_away,omitempty"`
	// Path is set on an event of another path: one the file was at before
	// a move brought it to the path asked about.
	Path events.Path `json:"path,omitempty"`
}

// maxHistoryMoves bounds how many moves History follows back.
const maxHistoryMoves = 1000

// History returns the events of a path in log order, including those from
// before it was deleted or moved away; empty when the path never appeared.
// It follows the file back across its moves: where a FileMoved brought a
// file to the path, the events of the path it came from, before that move
// and back to where the file was first seen there (or, further back, moved
// in from yet another path), are in the timeline too, with their Path set.
func (ix *Index) History(machine string, p events.Path) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		dir, name := splitPath(string(p))
		d, ok := r.dirID(machine, dir)
		if !ok {
			return nil
		}
		hb := tx.Bucket(bucketHistory)
		// read returns the path's entries in log order, with their values.
		read := func(dirID uint64, name string) ([]HistoryEntry, []histVal) {
			var es []HistoryEntry
			var hs []histVal
			prefix := historyPrefix(dirID, name)
			c := hb.Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				h, ok := decodeHistory(v)
				if len(k) != len(prefix)+8 || !ok {
					continue
				}
				es = append(es, HistoryEntry{
					Seq: binary.BigEndian.Uint64(k[len(prefix):]), Type: typeOfCode(h.code), MovedAway: h.code&movedAway != 0,
				})
				hs = append(hs, h)
			}
			return es, hs
		}
		es, hs := read(d.id, name)
		out = append(out, es...)
		// Follow the latest arrival back: the file's life at the path it
		// came from, from the move back to its start there.
		type key struct {
			seq   uint64
			path  string
			code  events.Type
			moved bool
		}
		have := map[key]bool{}
		for _, e := range out {
			have[key{e.Seq, "", e.Type, e.MovedAway}] = true
		}
		type todo struct {
			before, dirID uint64
			name          string
		}
		var queue []todo
		for i := len(hs) - 1; i >= 0; i-- {
			if hs[i].from {
				queue = append(queue, todo{es[i].Seq, hs[i].fromDir, hs[i].fromName})
				break
			}
			if es[i].Type == events.TypeFileDeleted || es[i].MovedAway || es[i].Type == events.TypeFilesForgotten {
				break // an earlier life of the path: not this file's
			}
		}
		for moves := 0; len(queue) > 0 && moves < maxHistoryMoves; moves++ {
			t := queue[0]
			queue = queue[1:]
			mach, dpath, ok := r.dirByID(t.dirID)
			if !ok || mach != machine {
				continue
			}
			from := events.Path(dpath + t.name)
			fes, fhs := read(t.dirID, t.name)
			for i := len(fes) - 1; i >= 0; i-- {
				e := fes[i]
				if e.Seq >= t.before {
					continue
				}
				if e.Type == events.TypeFileDeleted || e.MovedAway || e.Type == events.TypeFilesForgotten {
					break // the end of an earlier file's life there
				}
				if from == p {
					e.Path = ""
				} else {
					e.Path = from
				}
				if k := (key{e.Seq, string(e.Path), e.Type, e.MovedAway}); !have[k] {
					have[k] = true
					out = append(out, e)
				}
				if fhs[i].from {
					queue = append(queue, todo{e.Seq, fhs[i].fromDir, fhs[i].fromName})
					break
				}
			}
		}
		slices.SortStableFunc(out, func(a, b HistoryEntry) int {
			if a.Seq != b.Seq {
				if a.Seq < b.Seq {
					return -1
				}
				return 1
			}
			// A move: the file leaves one path, then arrives at the other.
			if a.MovedAway != b.MovedAway {
				if a.MovedAway {
					return -1
				}
				return 1
			}
			return 0
		})
		return nil
	})
	return out, err
}

// TreeEntry is a subdirectory in a Tree, with its recursive counts.
type TreeEntry struct {
	Name events.Path `json:"name"` // exact bytes, as Path is
	Path events.Path `json:"path"`
	Counts
}

// Tree is one directory: its totals, its subdirectories and a page of its
// files.
type Tree struct {
	Machine string      `json:"machine"`
	Path    events.Path `json:"path"`
	// Counts are of everything below, recursively.
	Counts
	Dirs    []TreeEntry `json:"dirs"`
	Entries []File      `json:"entries"`
	// More is set when files beyond the page exist.
	More bool `json:"more,omitempty"`
}

// scannedRoot reports whether a scan of machine had dir as its root: a
// directory the index knows though no file under it was ever recorded.
func scannedRoot(tx *store.Tx, machine, dir string) bool {
	c := tx.Bucket(bucketScans).Cursor()
	for _, v := c.First(); v != nil; _, v = c.Next() {
		if s, err := decodeScanRec(v); err == nil && s.machine == machine && normDir(s.root) == dir {
			return true
		}
	}
	return false
}

// Tree lists dir on machine ("/home/x" or "/home/x/"; "" is the machine's
// root above "/"): subdirectories holding files, with recursive totals, and
// up to limit files (0: 1000; negative: all) after skipping offset. It reads
// only the directory's own keys, never the files below its subdirectories.
func (ix *Index) Tree(machine, dir string, limit, offset int) (Tree, error) {
	dir = normDir(dir)
	if limit == 0 {
		limit = 1000
	}
	t := Tree{Machine: machine, Path: events.Path(dir), Dirs: []TreeEntry{}, Entries: []File{}}
	bud := ix.budget()
	err := ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		d, ok := r.dirID(machine, dir)
		if !ok {
			if scannedRoot(tx, machine, dir) {
				return nil // scanned, and empty
			}
			return fmt.Errorf("%s:%s: %w", machine, dir, ErrNotFound)
		}
		t.Counts = countsOf(d)
		// Subdirectories: keys machine 0x00 dir X '/', skipping each one's
		// own subtree with a seek past it.
		prefix := dirKey(machine, dir)
		c := r.dirs.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); {
			if !bud.step() {
				return nil
			}
			rest := k[len(prefix):]
			i := bytes.IndexByte(rest, '/')
			if i < 0 { // not a directory key below dir
				k, v = c.Next()
				continue
			}
			if i == len(rest)-1 {
				sub, err := decodeDirRec(v)
				if err != nil {
					return err
				}
				if !sub.empty() {
					t.Dirs = append(t.Dirs, TreeEntry{Name: events.Path(rest[:i]), Path: events.Path(dir + string(rest)), Counts: countsOf(sub)})
				}
			}
			// Past every key that starts with prefix+rest[:i]+"/": '0' is
			// the byte after '/'.
			skip := append(append(bytes.Clone(prefix), rest[:i]...), '0')
			k, v = c.Seek(skip)
		}
		fc := r.files.Cursor()
		fp := be64(d.id)
		n := 0
		for k, v := fc.Seek(fp); k != nil && bytes.HasPrefix(k, fp); k, v = fc.Next() {
			if !bud.step() {
				return nil
			}
			if n < offset {
				n++
				continue
			}
			if limit >= 0 && len(t.Entries) >= limit {
				t.More = true
				break
			}
			rec, err := decodeFileRec(v)
			if err != nil {
				return err
			}
			t.Entries = append(t.Entries, fileOf(machine, events.Path(dir+string(k[8:])), &rec))
			n++
		}
		return nil
	})
	if err == nil {
		err = bud.end("tree " + dir)
	}
	return t, err
}

// DeadLetter is an event the projector could not apply.
type DeadLetter struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
}

// DeadLetters returns up to limit dead letters (<= 0: all), oldest first.
func (ix *Index) DeadLetters(limit int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := ix.view(func(tx *store.Tx) error {
		c := tx.Bucket(bucketDead).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			d := decodeDeadRec(v)
			out = append(out, DeadLetter{Seq: binary.BigEndian.Uint64(k), Subject: d.subject, Reason: d.reason})
		}
		return nil
	})
	return out, err
}

// Checkpoint returns the index's checkpoint.
func (ix *Index) Checkpoint() (store.Checkpoint, error) {
	var cp store.Checkpoint
	err := ix.view(func(tx *store.Tx) error { cp = tx.Checkpoint(); return nil })
	return cp, err
}
