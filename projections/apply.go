package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// unit is one batch's unit of work: an identity map of every entity the
// batch touches, loaded once from the transaction, changed in memory by each
// event and written once by flush, in key order. Index entries that are only
// ever added or removed (by-hash, fids, history) are kept as pending
// puts and deletes and written sorted at flush too; what apply needs to know
// of them (how many files share a content, or an inode's content) lives in
// identity-mapped counts.
//
// apply is deterministic: the same events in the same order give the same
// bytes whatever the batch boundaries, so live projection and rebuild agree.
//
// A unit's work is split by job: apply.go applies each event to the file,
// machine and scan records; identity.go loads the entities (the identity
// maps); groups.go keeps the duplicate groups and by-hash, with the states
// it defers; names.go the name index; flush.go writes it all.
type unit struct {
	tx   *store.Tx
	seen *shaIndex // the digests of the file's files

	files, fids, byHash, dupes, groups, names    *store.Bucket
	dirs, dirids, history, machines, scans, dead *store.Bucket
	namesNew                                     *store.Bucket // see names.go
	namesSplit                                   uint64

	nextFID, nextDirID, nextMID uint64
	tot, origTot                totals

	fileMap       map[string]*fileEnt
	fileList      []*fileEnt // fileMap's entities as loaded; in key order unless filesUnsorted
	filesUnsorted bool
	dirMap        map[string]*dirEnt
	machMap       map[string]*machEnt
	scanMap       map[ulid.ULID]*scanEnt
	groupMap      map[[32]byte]*groupEnt
	linkCounts    map[string]*int // inodePrefix -> the inode's links with that content
	post          []posting       // name index changes, in order (see flushPostings)

	// Index entries written at flush, sorted: bbolt grows a node in memory
	// until commit, so unsorted puts into one node cost O(n) each.
	pendHash, pendFID, pendHist *pending

	applied, skipped, deadN int
	cur                     *item // the event being applied

	// corrupt is the first stored record the batch could not decode (see
	// loaded): apply returns it, so the batch does not commit.
	corrupt error
}

func newUnit(tx *store.Tx, seen *shaIndex) *unit {
	u := &unit{
		tx:         tx,
		seen:       seen,
		files:      tx.Bucket(bucketFiles),
		fids:       tx.Bucket(bucketFIDs),
		byHash:     tx.Bucket(bucketByHash),
		dupes:      tx.Bucket(bucketDupes),
		groups:     tx.Bucket(bucketGroups),
		names:      tx.Bucket(bucketNames),
		namesNew:   tx.Bucket(bucketNamesNew),
		dirs:       tx.Bucket(bucketDirs),
		dirids:     tx.Bucket(bucketDirIDs),
		history:    tx.Bucket(bucketHistory),
		machines:   tx.Bucket(bucketMachines),
		scans:      tx.Bucket(bucketScans),
		dead:       tx.Bucket(bucketDead),
		fileMap:    map[string]*fileEnt{},
		dirMap:     map[string]*dirEnt{},
		machMap:    map[string]*machEnt{},
		scanMap:    map[ulid.ULID]*scanEnt{},
		groupMap:   map[[32]byte]*groupEnt{},
		linkCounts: map[string]*int{},
		pendHash:   newPending(), pendFID: newPending(), pendHist: newPending(),
	}
	// Buckets whose keys mostly arrive in order pack their pages fuller.
	u.fids.SetFillPercent(1.0)
	u.dirids.SetFillPercent(1.0)
	u.files.SetFillPercent(0.9)
	u.history.SetFillPercent(0.9)
	u.names.SetFillPercent(0.9)
	u.namesNew.SetFillPercent(0.9)
	tx.Count(bucketDead) // stores the count of an index written before it was kept
	meta := tx.Bucket(bucketMeta)
	u.nextFID = counter(meta.Get(keyNextFileID))
	u.nextDirID = counter(meta.Get(keyNextDirID))
	u.nextMID = counter(meta.Get(keyNextMachineID))
	u.namesSplit = counter(meta.Get(keyNamesSplit))
	u.tot = decodeTotals(meta.Get(keyTotals))
	u.origTot = u.tot
	return u
}

func counter(v []byte) uint64 {
	if len(v) != 8 {
		return 1
	}
	return binary.BigEndian.Uint64(v)
}

// item is one record of the log, decoded.
type item struct {
	rec store.Record
	ev  events.Event
	err error // from decoding
	// decoded: ev came with the record (a Tap's), not from decoding Data.
	decoded bool

	// Worked out by the decoding goroutines (see prepareItem), so the
	// batch's one writing goroutine does less.
	bad             string    // why the event is a dead letter, or ""
	file            fileRec   // of a FileScanned, FileChanged or FileMoved
	name, fromName  string    // the base names of the path and a move's source
	grams, fromGrms []trigram // their trigrams (see postings)
}

// prepareItem checks a decoded event and works out what apply needs that
// depends on the event alone: its file record and its names' trigrams. It
// drops what apply does not need (the raw JSON, the digests in hex, which
// the record holds in binary), as a batch and the read-ahead hold tens of
// thousands of items.
func prepareItem(it *item) {
	it.rec.Data = nil
	if it.err != nil {
		return
	}
	e := &it.ev
	if want := events.Subject(e.Machine, e.Type); it.rec.Subject != want {
		it.bad = fmt.Sprintf("published on %s but the event is a %s of machine %s (subject %s)", it.rec.Subject, e.Type, e.Machine, want)
		return
	}
	if err := store.CheckSource(it.rec); err != nil {
		// A laptop's source delivered another machine's event (or one
		// it does not take): its server is not the one we know.
		it.bad = err.Error()
		return
	}
	rec, err := validate(e)
	if err != nil {
		it.bad = err.Error()
		return
	}
	it.file = rec
	var p, from events.Path
	switch d := e.Data.(type) {
	case *events.FileScanned:
		p, d.Hashes = d.Path, events.Hashes{}
	case *events.FileChanged:
		p, d.Hashes = d.Path, events.Hashes{}
	case *events.FileMoved:
		p, from, d.Hashes = d.Path, d.From, events.Hashes{}
	case *events.FileDeleted:
		p = d.Path
	}
	if p != "" {
		_, it.name = splitPath(string(p))
		it.grams = trigrams(fold(it.name))
	}
	if from != "" {
		_, it.fromName = splitPath(string(from))
		it.fromGrms = trigrams(fold(it.fromName))
	}
}

// apply applies one event. A returned error is fatal for the transaction
// (a write failed); a bad event becomes a dead letter and returns nil.
func (u *unit) apply(it *item) error {
	if it.err != nil {
		return u.deadLetter(it.rec, it.err.Error())
	}
	if it.bad != "" {
		return u.deadLetter(it.rec, it.bad)
	}
	u.cur = it // for postings; the next apply replaces it
	e := &it.ev
	if reason := u.unknownScan(e); reason != "" {
		return u.deadLetter(it.rec, reason)
	}
	m := u.machine(e.Machine)
	seq := it.rec.Seq
	if seq <= m.rec.lastSeq {
		// Applied already: a machine's events are applied in log order, so
		// its last sequence covers every entity it owns.
		u.skipped++
		return nil
	}
	m.dirty = true
	m.rec.lastSeq = seq
	m.rec.events++
	t := unixNano(e.Time)
	if m.rec.firstSeq == 0 {
		m.rec.firstSeq, m.rec.firstTime = seq, t
	}
	m.rec.lastTime = t
	s := u.scan(e.Scan, e.Machine)
	if s != nil {
		s.dirty = true
		s.rec.lastSeq = seq
	}
	var err error
	switch d := e.Data.(type) {
	case *events.ScanStarted:
		u.scanStarted(m, s, e, d, seq)
	case *events.ScanCompleted:
		u.scanCompleted(m, s, e, d, seq)
	case *events.FileScanned:
		err = u.fileSeen(m, &d.File, it.file, seq, typeCodes[e.Type])
		if s != nil {
			s.rec.scanned++
		}
	case *events.FileChanged:
		rec := it.file
		if d.Reason == events.ReasonBitRot {
			setRot(&rec, d.PrevSHA256)
		}
		err = u.fileSeen(m, &d.File, rec, seq, typeCodes[e.Type])
		if s != nil {
			s.rec.changed++
		}
	case *events.FileMoved:
		err = u.fileMoved(m, d, it.file, seq)
		if s != nil {
			s.rec.moved++
		}
	case *events.FileDeleted:
		f := u.file(m, string(d.Path))
		if f.exists {
			err = u.removeFile(f, false)
		}
		if err == nil {
			err = u.addHistory(f, seq, typeCodes[e.Type])
		}
		if s != nil {
			s.rec.deleted++
		}
	case *events.FileUnreadable:
		m.rec.unreadable++
		if s != nil {
			s.rec.unreadable++
		}
		err = u.addHistory(u.file(m, string(d.Path)), seq, typeCodes[e.Type])
	case *events.FilesForgotten:
		err = u.forget(m, string(d.Root), seq)
	}
	if err == nil {
		err = u.corrupt
	}
	if err != nil {
		return fmt.Errorf("apply seq %d: %w", seq, err)
	}
	u.applied++
	return nil
}

func (u *unit) deadLetter(r store.Record, reason string) error {
	u.deadN++
	k := be64(r.Seq)
	if u.dead.Get(k) == nil {
		if err := u.tx.AddCount(bucketDead, 1); err != nil {
			return err
		}
	}
	return u.dead.Put(k, deadRec{subject: r.Subject, reason: reason}.encode())
}

func (u *unit) scanStarted(m *machEnt, s *scanEnt, e *events.Event, d *events.ScanStarted, seq uint64) {
	if s == nil {
		return
	}
	// One scan of a machine runs at a time (indexer-scan holds a lease), so
	// a scan still running when the next starts was stopped without its
	// ScanCompleted (killed, or its machine lost power): it is interrupted.
	if m.rec.lastScan != e.Scan && m.rec.lastScanState == scanRunning {
		if p := u.scan(m.rec.lastScan, m.name); p != nil && p.rec.state == scanRunning {
			p.rec.state, p.dirty = scanInterrupted, true
		}
	}
	if s.rec.startSeq == 0 {
		s.rec.startSeq, s.rec.startTime = seq, unixNano(e.Time)
		m.rec.scans++
	}
	s.rec.root, s.rec.hashes = string(d.Root), hashList(d.Options.Hashes)
	if s.rec.state == scanNone {
		s.rec.state = scanRunning
	}
	m.rec.lastScan, m.rec.lastScanStart, m.rec.lastScanEnd, m.rec.lastScanState = e.Scan, unixNano(e.Time), 0, scanRunning
}

func (u *unit) scanCompleted(m *machEnt, s *scanEnt, e *events.Event, d *events.ScanCompleted, seq uint64) {
	if s == nil {
		return
	}
	state := uint8(scanInterrupted)
	if d.Complete {
		state = scanComplete
	}
	s.rec.endSeq, s.rec.endTime, s.rec.state = seq, unixNano(e.Time), state
	s.rec.counts, s.rec.durationNS = d.Counts, d.DurationNS
	if s.rec.root == "" {
		s.rec.root = string(d.Root)
	}
	if m.rec.lastScan == e.Scan || m.rec.lastScanState == scanNone {
		m.rec.lastScan, m.rec.lastScanEnd, m.rec.lastScanState = e.Scan, unixNano(e.Time), state
		if m.rec.lastScanStart == 0 {
			m.rec.lastScanStart = s.rec.startTime
		}
	}
}

// fileSeen records the state of a path, new or known: FileScanned and
// FileChanged both set it, so a rescan after lost scan state is harmless.
func (u *unit) fileSeen(m *machEnt, ef *events.File, rec fileRec, seq uint64, code byte) error {
	rec.seq = seq
	f := u.file(m, string(ef.Path))
	if f.exists {
		rec.fid = f.rec.fid
		keepRot(&rec, &f.rec)
		if err := u.removeFile(f, true); err != nil {
			return err
		}
	}
	if err := u.addFile(f, rec); err != nil {
		return err
	}
	return u.addHistory(f, seq, code)
}

func (u *unit) fileMoved(m *machEnt, d *events.FileMoved, rec fileRec, seq uint64) error {
	rec.seq = seq
	code := typeCodes[events.TypeFileMoved]
	from, to := u.file(m, string(d.From)), u.file(m, string(d.Path))
	if from != to {
		if to.exists { // moved over an existing file, which is gone
			if err := u.removeFile(to, false); err != nil {
				return err
			}
		}
		if err := u.addHistory(from, seq, code|movedAway); err != nil {
			return err
		}
	}
	if from.exists {
		rec.fid = from.rec.fid
		keepRot(&rec, &from.rec)
		if err := u.removeFile(from, true); err != nil {
			return err
		}
	}
	if err := u.addFile(to, rec); err != nil {
		return err
	}
	if from == to {
		return u.addHistory(to, seq, code)
	}
	// Where the file came from, so its history can be followed back.
	v := binary.AppendUvarint([]byte{code}, from.dir.rec.id)
	u.pendHist.put(historyKey(to.dir.rec.id, to.name, seq), append(v, from.name...))
	return nil
}

// setRot marks rec, the state a --verify read, as bit rot of the content
// whose sha256 was recorded before (prev, in hex). A digest that does not
// decode marks nothing.
func setRot(rec *fileRec, prev string) {
	var good [32]byte
	if len(prev) != 64 {
		return
	}
	if _, err := hex.Decode(good[:], []byte(prev)); err != nil {
		return
	}
	rec.own().rot = good
	rec.has |= hasRot
}

// keepRot carries the bit rot mark of old, the path's previous state, to
// rec while rec still holds the content the verify read: a change of
// metadata, a digest added or a move keep it; new content (a restore, a
// rewrite) ends it.
func keepRot(rec, old *fileRec) {
	if rec.has&hasRot != 0 || old.has&hasRot == 0 {
		return
	}
	if rec.has&hasSHA256 != 0 && old.has&hasSHA256 != 0 && rec.sha256 == old.sha256 {
		rec.own().rot, rec.has = old.x.rot, rec.has|hasRot
	}
}

// forget takes every file of m under root ("": all of them) out of the
// current view, each with a FilesForgotten in its history, in key order.
// The directories stay (with nothing counted below them), as after
// deletions; a later scan adds what it finds again.
func (u *unit) forget(m *machEnt, root string, seq uint64) error {
	root = normDir(root)
	if root == "/" {
		root = "" // "/" and "" both mean every file of the machine
	}
	// The files of the model, then those the batch has added or loaded:
	// u.file returns the one identity-mapped entity of each path.
	prefix := dirKey(m.name, root)
	var dirs []string
	c := u.dirs.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		_, d := splitDirKey(k)
		dirs = append(dirs, d)
	}
	var fs []*fileEnt
	for _, dpath := range dirs {
		d := u.dir(m.name, dpath)
		if d.isNew {
			continue
		}
		fp := be64(d.rec.id)
		fc := u.files.Cursor()
		var names []string
		for k, _ := fc.Seek(fp); k != nil && bytes.HasPrefix(k, fp); k, _ = fc.Next() {
			names = append(names, string(k[8:]))
		}
		for _, name := range names {
			fs = append(fs, u.file(m, dpath+name))
		}
	}
	for _, f := range u.fileList {
		if f.mach == m && strings.HasPrefix(f.dir.path, root) {
			fs = append(fs, f)
		}
	}
	slices.SortFunc(fs, func(a, b *fileEnt) int { return strings.Compare(a.key, b.key) })
	fs = slices.Compact(fs)
	code := typeCodes[events.TypeFilesForgotten]
	for _, f := range fs {
		if !f.exists {
			continue
		}
		if err := u.removeFile(f, false); err != nil {
			return err
		}
		if err := u.addHistory(f, seq, code); err != nil {
			return err
		}
	}
	return nil
}

// addFile makes f exist with rec, giving it a new file id unless rec has one
// (a move or change keeps its id), and adds it to every model.
func (u *unit) addFile(f *fileEnt, rec fileRec) error {
	if rec.fid == 0 {
		if u.nextFID > maxFileID {
			return fmt.Errorf("the index has given out all %d file ids its name index can hold", uint64(maxFileID))
		}
		rec.fid = u.nextFID
		u.nextFID++
	}
	f.rec, f.exists, f.dirty = rec, true, true
	u.bump(f.dir, true, &rec)
	v := binary.AppendUvarint(nil, f.dir.rec.id)
	u.pendFID.put(be64(rec.fid), append(v, f.name...))
	u.postings(f.name, rec.fid, 1)
	if err := u.addHash(f); err != nil {
		return err
	}
	return u.altHashes(f, true)
}

// removeFile takes f out of every model. keepID keeps its file id's entry
// for the addFile that follows (a change or a move).
func (u *unit) removeFile(f *fileEnt, keepID bool) error {
	rec := &f.rec
	u.bump(f.dir, false, rec)
	if !keepID {
		u.pendFID.del(be64(rec.fid))
	}
	u.postings(f.name, rec.fid, -1)
	if err := u.removeHash(f); err != nil {
		return err
	}
	if err := u.altHashes(f, false); err != nil {
		return err
	}
	f.exists, f.dirty = false, true
	return nil
}

func (u *unit) addHistory(f *fileEnt, seq uint64, code byte) error {
	u.pendHist.put(historyKey(f.dir.rec.id, f.name, seq), []byte{code})
	return nil
}

// postings records a change to the name index, netted per batch: a name
// added and removed in one batch costs nothing.
func (u *unit) postings(name string, fid uint64, delta int8) {
	var ts []trigram
	switch {
	case u.cur != nil && name == u.cur.name && u.cur.grams != nil:
		ts = u.cur.grams
	case u.cur != nil && name == u.cur.fromName && u.cur.fromGrms != nil:
		ts = u.cur.fromGrms
	default:
		ts = trigrams(fold(name))
	}
	for _, t := range ts {
		u.post1(t, fid, delta)
	}
}

func (u *unit) post1(t trigram, fid uint64, delta int8) {
	u.post = append(u.post, makePosting(t, fid, delta < 0))
}

// altHashes adds (or removes) f's digests to the name index, under the
// pseudo-trigrams of their first 12 bits (altTrigram): posting lists grow by
// appends like names do, where a by-digest B-tree would rewrite random pages
// in every batch. A lookup checks the full digest in files.
func (u *unit) altHashes(f *fileEnt, add bool) error {
	var ts []trigram
	if f.rec.has&hasSHA256 != 0 {
		ts = append(ts, altTrigram(f.rec.sha256[:]))
	}
	if t := altTrigram(f.rec.md5[:]); f.rec.has&hasMD5 != 0 && !slices.Contains(ts, t) {
		ts = append(ts, t)
	}
	if t := altTrigram(f.rec.sha1[:]); f.rec.has&hasSHA1 != 0 && !slices.Contains(ts, t) {
		ts = append(ts, t)
	}
	delta := int8(1)
	if !add {
		delta = -1
	}
	for _, t := range ts {
		u.post1(t, f.rec.fid, delta)
	}
	return nil
}
