package projections

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"

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
	unitMap       map[string]*int // by-hash unit prefix -> links with that content
	post          []posting       // name index changes, in order (see flushPostings)

	// Index entries written at flush, sorted: bbolt grows a node in memory
	// until commit, so unsorted puts into one node cost O(n) each.
	pendHash, pendFID, pendHist *pending

	applied, skipped, deadN int
	cur                     *item // the event being applied
}

type fileEnt struct {
	key     string // fileKey
	dir     *dirEnt
	name    string
	mach    *machEnt
	exists  bool // after the events applied so far
	existed bool // in the file when loaded
	dirty   bool
	rec     fileRec
}

type dirEnt struct {
	machine, path string
	rec           dirRec
	orig          dirRec
	isNew         bool
	parent        *dirEnt
}

type machEnt struct {
	name  string
	rec   machineRec
	dirty bool
}

type scanEnt struct {
	rec   scanRec
	dirty bool
}

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

func newUnit(tx *store.Tx, seen *shaIndex) *unit {
	u := &unit{
		tx:       tx,
		seen:     seen,
		files:    tx.Bucket(bucketFiles),
		fids:     tx.Bucket(bucketFIDs),
		byHash:   tx.Bucket(bucketByHash),
		dupes:    tx.Bucket(bucketDupes),
		groups:   tx.Bucket(bucketGroups),
		names:    tx.Bucket(bucketNames),
		namesNew: tx.Bucket(bucketNamesNew),
		dirs:     tx.Bucket(bucketDirs),
		dirids:   tx.Bucket(bucketDirIDs),
		history:  tx.Bucket(bucketHistory),
		machines: tx.Bucket(bucketMachines),
		scans:    tx.Bucket(bucketScans),
		dead:     tx.Bucket(bucketDead),
		fileMap:  map[string]*fileEnt{},
		dirMap:   map[string]*dirEnt{},
		machMap:  map[string]*machEnt{},
		scanMap:  map[ulid.ULID]*scanEnt{},
		groupMap: map[[32]byte]*groupEnt{},
		unitMap:  map[string]*int{},
		pendHash: newPending(), pendFID: newPending(), pendHist: newPending(),
	}
	// Buckets whose keys mostly arrive in order pack their pages fuller.
	u.fids.SetFillPercent(1.0)
	u.dirids.SetFillPercent(1.0)
	u.files.SetFillPercent(0.9)
	u.history.SetFillPercent(0.9)
	u.names.SetFillPercent(0.9)
	u.namesNew.SetFillPercent(0.9)
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

func (p *pending) flush(b *store.Bucket) error {
	if !p.sorted {
		slices.SortStableFunc(p.ops, func(a, b pendOp) int { return strings.Compare(a.k, b.k) })
	}
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

// item is one record of the log, decoded.
type item struct {
	rec store.Record
	ev  events.Event
	err error // from decoding

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
		err = u.fileSeen(m, &d.File, it.file, seq, typeCodes[e.Type])
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
	}
	if err != nil {
		return fmt.Errorf("apply seq %d: %w", seq, err)
	}
	u.applied++
	return nil
}

// validate checks what the read models rely on beyond what Decode checks,
// and returns the file record of an event that carries a file.
func validate(e *events.Event) (fileRec, error) {
	checkPath := func(what string, p events.Path) error {
		switch {
		case p == "":
			return fmt.Errorf("%s: empty path", what)
		case len(p) > maxPathLen:
			return fmt.Errorf("%s: path of %d bytes", what, len(p))
		case strings.IndexByte(string(p), 0) >= 0:
			return fmt.Errorf("%s: path %q holds a NUL byte, which no file system allows", what, clip(p.String()))
		}
		if _, name := splitPath(string(p)); len(name) > maxNameLen {
			return fmt.Errorf("%s: name of %d bytes", what, len(name))
		}
		return nil
	}
	var none fileRec
	switch d := e.Data.(type) {
	case *events.FileScanned:
		if err := checkPath("path", d.Path); err != nil {
			return none, err
		}
		return fileRecOf(&d.File)
	case *events.FileChanged:
		if err := checkPath("path", d.Path); err != nil {
			return none, err
		}
		return fileRecOf(&d.File)
	case *events.FileMoved:
		if err := checkPath("from", d.From); err != nil {
			return none, err
		}
		if err := checkPath("path", d.Path); err != nil {
			return none, err
		}
		return fileRecOf(&d.File)
	case *events.FileDeleted:
		return none, checkPath("path", d.Path)
	case *events.FileUnreadable:
		return none, checkPath("path", d.Path)
	case *events.ScanStarted:
		if len(d.Root) > maxPathLen {
			return none, fmt.Errorf("root of %d bytes", len(d.Root))
		}
	case *events.ScanCompleted:
		if len(d.Root) > maxPathLen {
			return none, fmt.Errorf("root of %d bytes", len(d.Root))
		}
	}
	return none, nil
}

func (u *unit) deadLetter(r store.Record, reason string) error {
	u.deadN++
	return u.dead.Put(be64(r.Seq), deadRec{subject: r.Subject, reason: reason}.encode())
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
		if err := u.removeFile(from, true); err != nil {
			return err
		}
	}
	if err := u.addFile(to, rec); err != nil {
		return err
	}
	return u.addHistory(to, seq, code)
}

// machine returns the identity-mapped machine, creating it on first sight.
func (u *unit) machine(name string) *machEnt {
	if m := u.machMap[name]; m != nil {
		return m
	}
	m := &machEnt{name: name}
	if v := u.machines.Get([]byte(name)); v != nil {
		m.rec, _ = decodeMachineRec(v)
	} else {
		m.rec.id = u.nextMID
		u.nextMID++
		m.dirty = true
	}
	u.machMap[name] = m
	return m
}

func (u *unit) scan(id ulid.ULID, machine string) *scanEnt {
	if id == (ulid.ULID{}) {
		return nil
	}
	if s := u.scanMap[id]; s != nil {
		return s
	}
	s := &scanEnt{}
	if v := u.scans.Get(id[:]); v != nil {
		s.rec, _ = decodeScanRec(v)
	} else {
		s.rec.machine = machine
	}
	u.scanMap[id] = s
	return s
}

// dir returns the identity-mapped directory, creating it (with a new id) when
// the model has none.
func (u *unit) dir(machine, path string) *dirEnt {
	k := string(dirKey(machine, path))
	if d := u.dirMap[k]; d != nil {
		return d
	}
	d := &dirEnt{machine: machine, path: path}
	if v := u.dirs.Get([]byte(k)); v != nil {
		d.rec, _ = decodeDirRec(v)
		d.orig = d.rec
	} else {
		d.rec.id = u.nextDirID
		u.nextDirID++
		d.isNew = true
	}
	u.dirMap[k] = d
	return d
}

// bump adds files and bytes to d and every directory above it.
func (u *unit) bump(d *dirEnt, files, bytes int64) {
	for d != nil {
		d.rec.files = uint64(int64(d.rec.files) + files)
		d.rec.bytes = uint64(int64(d.rec.bytes) + bytes)
		if d.parent == nil {
			parent, _, ok := parentDir(d.path)
			if !ok {
				return
			}
			d.parent = u.dir(d.machine, parent)
		}
		d = d.parent
	}
}

// file returns the identity-mapped file at path of machine m.
func (u *unit) file(m *machEnt, path string) *fileEnt {
	dpath, name := splitPath(path)
	d := u.dir(m.name, dpath)
	k := string(fileKey(d.rec.id, name))
	if f := u.fileMap[k]; f != nil {
		return f
	}
	f := &fileEnt{key: k, dir: d, name: name, mach: m}
	// A directory new to the index has an id never given out before (dirs
	// are never removed), so no file under it is in the files model: a
	// first scan's files cost no lookup.
	if !d.isNew {
		if v := u.files.Get([]byte(k)); v != nil {
			f.rec, _ = decodeFileRec(v)
			f.exists, f.existed = true, true
		}
	}
	u.fileMap[k] = f
	if n := len(u.fileList); n > 0 && u.fileList[n-1].key > k {
		u.filesUnsorted = true
	}
	u.fileList = append(u.fileList, f)
	return f
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
	if !rec.isDir() {
		u.bump(f.dir, 1, int64(rec.size))
	}
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
	if !rec.isDir() {
		u.bump(f.dir, -1, -int64(rec.size))
	}
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

// unitPrefix is the by-hash prefix that all hard links of f's inode share.
func unitPrefix(f *fileEnt) []byte {
	k := make([]byte, 0, 32+30)
	k = append(k, f.rec.sha256[:]...)
	k = binary.AppendUvarint(k, f.mach.rec.id)
	k = binary.AppendUvarint(k, f.rec.dev)
	return binary.AppendUvarint(k, f.rec.inode)
}

func byHashKey(f *fileEnt) []byte { return binary.AppendUvarint(unitPrefix(f), f.rec.fid) }

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
		g.orig, _ = decodeGroupRec(v)
	} else if g.solo = u.soloKey(sha); g.solo != nil {
		g.orig = groupRec{count: 1, units: 1}
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
		rec, err := decodeFileRec(u.files.Get(fileKey(dirID, name)))
		if err != nil || rec.fid != id || rec.has&hasSHA256 == 0 || rec.sha256 != sha {
			continue
		}
		f := fileEnt{mach: u.machine(machine), rec: rec}
		return byHashKey(&f)
	}
	return nil
}

// links returns the identity-mapped number of f's inode's links with f's
// content: the by-hash keys under unitPrefix(f), or the group's solo file.
func (u *unit) links(f *fileEnt, g *groupEnt) *int {
	p := unitPrefix(f)
	if n := u.unitMap[string(p)]; n != nil {
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
	u.unitMap[string(p)] = n
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
		g.cur.count, g.cur.units, g.cur.size, g.dirty = 1, 1, f.rec.size, true
		return nil
	}
	u.settle(g)
	n := u.links(f, g)
	u.pendHash.put(byHashKey(f), nil)
	*n++
	g.cur.count++
	// An inode of 0 is unknown: such a file is its own unit.
	if *n == 1 || f.rec.inode == 0 {
		g.cur.units++
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
	if (*n == 0 || f.rec.inode == 0) && g.cur.units > 0 {
		g.cur.units--
	}
	g.dirty = true
	return nil
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

// flush writes every entity the batch changed, each once, in key order.
func (u *unit) flush() error {
	// Files mostly come in key order (walk order), so sorting is rarely
	// needed.
	if u.filesUnsorted {
		slices.SortFunc(u.fileList, func(a, b *fileEnt) int { return strings.Compare(a.key, b.key) })
	}
	for _, f := range u.fileList {
		switch {
		case !f.dirty:
		case f.exists:
			if err := u.files.Put(keyBytes(f.key), f.rec.encode()); err != nil {
				return fmt.Errorf("write file: %w", err)
			}
		case f.existed:
			if err := u.files.Delete(keyBytes(f.key)); err != nil {
				return fmt.Errorf("delete file: %w", err)
			}
		}
	}
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
	if err := u.flushGroups(); err != nil {
		return err
	}
	if err := u.flushPostings(); err != nil {
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

func (u *unit) flushGroups() error {
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
	keys := newPending()
	for _, sha := range shas {
		g := u.groupMap[sha]
		was, is := g.orig.count >= 2, g.cur.count >= 2
		var old, cur [3][]byte
		if was {
			u.tot.groups--
			u.tot.wasted -= g.orig.wasted()
			u.tot.redundant -= g.orig.redundant()
			old = groupKeys(sha, g.orig)
		}
		if is {
			u.tot.groups++
			u.tot.wasted += g.cur.wasted()
			u.tot.redundant += g.cur.redundant()
			cur = groupKeys(sha, g.cur)
		}
		for i := range old {
			if was && is && bytes.Equal(old[i], cur[i]) {
				continue
			}
			if was {
				keys.del(old[i])
			}
			if is {
				keys.put(cur[i], nil)
			}
		}
		var err error
		if is {
			err = u.dupes.Put(sha[:], g.cur.encode())
		} else if was {
			err = u.dupes.Delete(sha[:])
		}
		if err != nil {
			return err
		}
	}
	return keys.flush(u.groups)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
