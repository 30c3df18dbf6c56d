package projections

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
)

// fileRec is the files model's value: an events.File without its path,
// with binary digests, its file id and the sequence that last changed it.
// Encoded it is about 100 bytes with md5, sha1 and sha256.
type fileRec struct {
	fid, seq          uint64
	size              uint64
	mode              uint32
	mtime, ctime      int64
	btime             int64
	inode, dev, nlink uint64
	uid, gid          uint32
	target            string
	has               uint8 // hasMD5 | hasSHA1 | ...
	md5               [16]byte
	sha1              [20]byte
	sha256, blake3    [32]byte
	// x holds what few records have (hasMember, hasRot), apart, so the
	// records a batch holds stay small. It is shared by copies of the
	// record: change it only through own.
	x *fileExt
}

// fileExt is the rare part of a fileRec.
type fileExt struct {
	// With hasMember: the file is a member of an archive (its event's
	// archive field names one), whatever its path holds. archLen is the
	// length of the archive file's path, which the member's path begins
	// with (then "::"); member the raw member names, one per level.
	archLen   uint64
	format    string
	member    []string
	encrypted bool
	rot       [32]byte // with hasRot: the sha256 recorded before bit rot
}

// own returns r's fileExt to change: a copy of the one r shares with
// other copies of the record, or a new one.
func (r *fileRec) own() *fileExt {
	x := &fileExt{}
	if r.x != nil {
		*x = *r.x
	}
	r.x = x
	return x
}

const (
	hasMD5 = 1 << iota
	hasSHA1
	hasSHA256
	hasBLAKE3
	hasTarget
	hasMember
	hasRot
)

func (r *fileRec) encode() []byte {
	b := make([]byte, 1, 128+len(r.target))
	b[0] = r.has
	b = binary.AppendUvarint(b, r.fid)
	b = binary.AppendUvarint(b, r.seq)
	b = binary.AppendUvarint(b, r.size)
	b = binary.AppendUvarint(b, uint64(r.mode))
	b = binary.AppendVarint(b, r.mtime)
	b = binary.AppendVarint(b, r.ctime)
	b = binary.AppendVarint(b, r.btime)
	b = binary.AppendUvarint(b, r.inode)
	b = binary.AppendUvarint(b, r.dev)
	b = binary.AppendUvarint(b, r.nlink)
	b = binary.AppendUvarint(b, uint64(r.uid))
	b = binary.AppendUvarint(b, uint64(r.gid))
	if r.has&hasMD5 != 0 {
		b = append(b, r.md5[:]...)
	}
	if r.has&hasSHA1 != 0 {
		b = append(b, r.sha1[:]...)
	}
	if r.has&hasSHA256 != 0 {
		b = append(b, r.sha256[:]...)
	}
	if r.has&hasBLAKE3 != 0 {
		b = append(b, r.blake3[:]...)
	}
	if r.has&hasTarget != 0 {
		b = appendStr(b, r.target)
	}
	if r.has&hasMember != 0 {
		x := r.x
		b = binary.AppendUvarint(b, x.archLen)
		b = appendStr(b, x.format)
		enc := byte(0)
		if x.encrypted {
			enc = 1
		}
		b = append(b, enc)
		b = binary.AppendUvarint(b, uint64(len(x.member)))
		for _, m := range x.member {
			b = appendStr(b, m)
		}
	}
	if r.has&hasRot != 0 {
		b = append(b, r.x.rot[:]...)
	}
	return b
}

func decodeFileRec(v []byte) (fileRec, error) {
	d := dec{b: v}
	var r fileRec
	r.has = d.byte1()
	r.fid, r.seq, r.size = d.uv(), d.uv(), d.uv()
	r.mode = uint32(d.uv())
	r.mtime, r.ctime, r.btime = d.v(), d.v(), d.v()
	r.inode, r.dev, r.nlink = d.uv(), d.uv(), d.uv()
	r.uid, r.gid = uint32(d.uv()), uint32(d.uv())
	if r.has&hasMD5 != 0 {
		copy(r.md5[:], d.bytes(16))
	}
	if r.has&hasSHA1 != 0 {
		copy(r.sha1[:], d.bytes(20))
	}
	if r.has&hasSHA256 != 0 {
		copy(r.sha256[:], d.bytes(32))
	}
	if r.has&hasBLAKE3 != 0 {
		copy(r.blake3[:], d.bytes(32))
	}
	if r.has&hasTarget != 0 {
		r.target = d.str()
	}
	if r.has&hasMember != 0 {
		x := r.own()
		x.archLen = d.uv()
		x.format = d.str()
		x.encrypted = d.byte1() != 0
		n := d.uv()
		if n > maxDepth || n > uint64(len(d.b)) {
			return fileRec{}, errCorrupt
		}
		x.member = make([]string, n)
		for i := range x.member {
			x.member[i] = d.str()
		}
	}
	if r.has&hasRot != 0 {
		if r.x == nil {
			r.x = &fileExt{}
		}
		copy(r.x.rot[:], d.bytes(32))
	}
	if d.err != nil {
		return fileRec{}, d.err
	}
	return r, nil
}

// fileRecOf validates f's fields that the read models rely on and converts
// it. An error here makes the event a dead letter.
func fileRecOf(f *events.File) (fileRec, error) {
	r := fileRec{
		mode: f.Mode, mtime: f.MTime, ctime: f.CTime, btime: f.BTime,
		inode: f.Inode, dev: f.Device, nlink: f.Nlink, uid: f.UID, gid: f.GID,
	}
	if f.Size < 0 {
		return r, fmt.Errorf("negative size %d", f.Size)
	}
	r.size = uint64(f.Size)
	if f.Target != "" {
		if len(f.Target) > maxPathLen {
			return r, fmt.Errorf("link target of %d bytes", len(f.Target))
		}
		r.target, r.has = string(f.Target), r.has|hasTarget
	}
	for _, h := range []struct {
		name, hex string
		dst       []byte
		bit       uint8
	}{
		{"md5", f.Hashes.MD5, r.md5[:], hasMD5},
		{"sha1", f.Hashes.SHA1, r.sha1[:], hasSHA1},
		{"sha256", f.Hashes.SHA256, r.sha256[:], hasSHA256},
		{"blake3", f.Hashes.BLAKE3, r.blake3[:], hasBLAKE3},
	} {
		if h.hex == "" {
			continue
		}
		if len(h.hex) != 2*len(h.dst) {
			return r, fmt.Errorf("%s digest %q is not %d hex digits", h.name, clip(h.hex), 2*len(h.dst))
		}
		if _, err := hex.Decode(h.dst, []byte(h.hex)); err != nil {
			return r, fmt.Errorf("%s digest %q: %v", h.name, clip(h.hex), err)
		}
		r.has |= h.bit
	}
	if f.IsMember() {
		a := f.Archive
		if a.Path == "" || !strings.HasPrefix(string(f.Path), string(a.Path)+events.MemberSep) {
			return r, fmt.Errorf("archive member %q: its path does not begin with its archive's path %q and %q", clip(f.Path.String()), clip(a.Path.String()), events.MemberSep)
		}
		if len(a.Member) > maxDepth {
			return r, fmt.Errorf("archive member nested %d levels deep, over the limit of %d", len(a.Member), maxDepth)
		}
		r.has |= hasMember
		x := r.own()
		x.archLen, x.format, x.encrypted = uint64(len(a.Path)), a.Format, a.Encrypted
		x.member = make([]string, len(a.Member))
		for i, m := range a.Member {
			x.member[i] = string(m)
		}
	}
	if r.isLink() {
		// A link has no content of its own: it is in no duplicate group.
		r.has &^= hasMD5 | hasSHA1 | hasSHA256 | hasBLAKE3
	}
	return r, nil
}

// file converts a stored record back to the event form.
func (r *fileRec) file(path events.Path) events.File {
	f := events.File{
		Path: path, Size: int64(r.size), Mode: r.mode, MTime: r.mtime, CTime: r.ctime, BTime: r.btime,
		Inode: r.inode, Device: r.dev, Nlink: r.nlink, UID: r.uid, GID: r.gid, Target: events.Path(r.target),
	}
	// The digests' hex share one string: one allocation, not four (a page
	// of duplicates reads thousands of files).
	var hx [2 * (16 + 20 + 32 + 32)]byte
	var ends [4]int
	n := 0
	for i, d := range [4]struct {
		bit byte
		sum []byte
	}{{hasMD5, r.md5[:]}, {hasSHA1, r.sha1[:]}, {hasSHA256, r.sha256[:]}, {hasBLAKE3, r.blake3[:]}} {
		if r.has&d.bit != 0 {
			n += hex.Encode(hx[n:], d.sum)
		}
		ends[i] = n
	}
	if n > 0 {
		all := string(hx[:n])
		f.Hashes.MD5, f.Hashes.SHA1 = all[:ends[0]], all[ends[0]:ends[1]]
		f.Hashes.SHA256, f.Hashes.BLAKE3 = all[ends[1]:ends[2]], all[ends[2]:ends[3]]
	}
	if x := r.x; r.has&hasMember != 0 && x.archLen <= uint64(len(path)) {
		a := &events.Archive{Path: path[:x.archLen], Format: x.format, Encrypted: x.encrypted}
		a.Member = make([]events.Path, len(x.member))
		for i, m := range x.member {
			a.Member[i] = events.Path(m)
		}
		f.Archive = a
	}
	return f
}

// isDir reports whether the record is of a directory, which counts in no
// aggregate.
func (r *fileRec) isDir() bool { return r.mode&dirModeBit != 0 }

// isLink reports whether the record is of a symbolic link: counted apart
// from files, with no size in any sum.
//
// A target without the mode bit is a link too, outside archives; a member
// of an archive with a target and no mode bit is a hard link entry of a
// tar, which names another member: a member.
func (r *fileRec) isLink() bool {
	return r.mode&linkModeBit != 0 || r.has&hasTarget != 0 && r.has&hasMember == 0
}

// isMember reports whether the record is of a file inside an archive, as
// its event's archive field said: counted apart from files on disk.
func (r *fileRec) isMember() bool { return r.has&hasMember != 0 }

// dirModeBit is io/fs.ModeDir, linkModeBit io/fs.ModeSymlink.
const (
	dirModeBit  = 1 << 31
	linkModeBit = 1 << 27
)

// What a record counts as in the directory aggregates.
const (
	kindNone   = iota // a directory: counted nowhere
	kindFile          // a file on disk
	kindLink          // a symbolic link: counted, no bytes
	kindMember        // a file inside an archive
)

func (r *fileRec) kind() int {
	switch {
	case r.isDir():
		return kindNone
	case r.isLink():
		return kindLink
	case r.isMember():
		return kindMember
	}
	return kindFile
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// dirRec is the dirs model's value: the directory's id and its recursive
// counts: files on disk and their bytes, symbolic links (no bytes: a link's
// size is its target's length), and members of archives with their
// (uncompressed) bytes, which are apart from files so that an archive and
// what it holds are not counted twice. The last three are left out of the
// value while all are zero (most directories).
type dirRec struct {
	id                   uint64
	files, bytes         uint64
	links                uint64
	members, memberBytes uint64
}

// empty reports whether nothing is counted below the directory.
func (r dirRec) empty() bool { return r.files == 0 && r.links == 0 && r.members == 0 }

func (r dirRec) encode() []byte {
	b := binary.AppendUvarint(nil, r.id)
	b = binary.AppendUvarint(b, r.files)
	b = binary.AppendUvarint(b, r.bytes)
	if r.links == 0 && r.members == 0 && r.memberBytes == 0 {
		return b
	}
	b = binary.AppendUvarint(b, r.links)
	b = binary.AppendUvarint(b, r.members)
	return binary.AppendUvarint(b, r.memberBytes)
}

func decodeDirRec(v []byte) (dirRec, error) {
	d := dec{b: v}
	r := dirRec{id: d.uv(), files: d.uv(), bytes: d.uv()}
	if d.err == nil && len(d.b) > 0 {
		r.links, r.members, r.memberBytes = d.uv(), d.uv(), d.uv()
	}
	return r, d.err
}

// Scan states, as kept in machine and scan records.
const (
	scanNone = iota
	scanRunning
	scanComplete
	scanInterrupted
)

var scanStateNames = []string{"none", "running", "complete", "interrupted"}

// machineRec is the machines model's value.
type machineRec struct {
	id                  uint64
	firstSeq, lastSeq   uint64
	firstTime, lastTime int64 // event times, Unix ns
	events, scans       uint64
	unreadable          uint64
	lastScan            ulid.ULID
	lastScanStart       int64
	lastScanEnd         int64
	lastScanState       uint8
}

func (r *machineRec) encode() []byte {
	b := binary.AppendUvarint(nil, r.id)
	b = binary.AppendUvarint(b, r.firstSeq)
	b = binary.AppendUvarint(b, r.lastSeq)
	b = binary.AppendVarint(b, r.firstTime)
	b = binary.AppendVarint(b, r.lastTime)
	b = binary.AppendUvarint(b, r.events)
	b = binary.AppendUvarint(b, r.scans)
	b = binary.AppendUvarint(b, r.unreadable)
	b = append(b, r.lastScan[:]...)
	b = binary.AppendVarint(b, r.lastScanStart)
	b = binary.AppendVarint(b, r.lastScanEnd)
	return append(b, r.lastScanState)
}

func decodeMachineRec(v []byte) (machineRec, error) {
	d := dec{b: v}
	var r machineRec
	r.id, r.firstSeq, r.lastSeq = d.uv(), d.uv(), d.uv()
	r.firstTime, r.lastTime = d.v(), d.v()
	r.events, r.scans, r.unreadable = d.uv(), d.uv(), d.uv()
	copy(r.lastScan[:], d.bytes(16))
	r.lastScanStart, r.lastScanEnd = d.v(), d.v()
	r.lastScanState = d.byte1()
	return r, d.err
}

// scanRec is the scans model's value.
type scanRec struct {
	machine, root string
	hashes        string // the scan's hash algorithms, comma-separated
	startSeq      uint64
	startTime     int64
	endSeq        uint64
	endTime       int64
	state         uint8
	counts        events.ScanCounts // as the scanner reported them
	durationNS    int64
	// What the projector saw of the scan's file events.
	scanned, changed, moved, deleted, unreadable uint64
	lastSeq                                      uint64
}

func (r *scanRec) encode() []byte {
	b := appendStr(nil, r.machine)
	b = appendStr(b, r.root)
	b = appendStr(b, r.hashes)
	b = binary.AppendUvarint(b, r.startSeq)
	b = binary.AppendVarint(b, r.startTime)
	b = binary.AppendUvarint(b, r.endSeq)
	b = binary.AppendVarint(b, r.endTime)
	b = append(b, r.state)
	c := r.counts
	for _, x := range []int64{c.Seen, c.Read, c.Added, c.Changed, c.Moved, c.Deleted, c.Unreadable, c.BytesRead, r.durationNS} {
		b = binary.AppendVarint(b, x)
	}
	for _, x := range []uint64{r.scanned, r.changed, r.moved, r.deleted, r.unreadable, r.lastSeq} {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

func decodeScanRec(v []byte) (scanRec, error) {
	d := dec{b: v}
	var r scanRec
	r.machine, r.root, r.hashes = d.str(), d.str(), d.str()
	r.startSeq, r.startTime = d.uv(), d.v()
	r.endSeq, r.endTime = d.uv(), d.v()
	r.state = d.byte1()
	c := &r.counts
	for _, p := range []*int64{&c.Seen, &c.Read, &c.Added, &c.Changed, &c.Moved, &c.Deleted, &c.Unreadable, &c.BytesRead, &r.durationNS} {
		*p = d.v()
	}
	for _, p := range []*uint64{&r.scanned, &r.changed, &r.moved, &r.deleted, &r.unreadable, &r.lastSeq} {
		*p = d.uv()
	}
	return r, d.err
}

// groupRec is the dupes model's value: a content hash held by two or more
// files. inodes counts distinct (machine, device, inode): hard links of one
// inode are one copy on disk and waste nothing (see knownInode).
type groupRec struct {
	count, inodes, size uint64
}

func (g groupRec) wasted() uint64 { return wastedBytes(g.size, g.inodes) }

// redundant is the bytes beyond one copy, hard links included.
func (g groupRec) redundant() uint64 {
	if g.count < 2 {
		return 0
	}
	return satMul(g.size, g.count-1)
}

func (g groupRec) encode() []byte {
	b := binary.AppendUvarint(nil, g.count)
	b = binary.AppendUvarint(b, g.inodes)
	return binary.AppendUvarint(b, g.size)
}

func decodeGroupRec(v []byte) (groupRec, error) {
	d := dec{b: v}
	g := groupRec{count: d.uv(), inodes: d.uv(), size: d.uv()}
	return g, d.err
}

// totals are index-wide sums kept in meta so Stats reads one key.
type totals struct {
	groups, wasted, redundant uint64
}

func (t totals) encode() []byte {
	b := binary.AppendUvarint(nil, t.groups)
	b = binary.AppendUvarint(b, t.wasted)
	return binary.AppendUvarint(b, t.redundant)
}

func decodeTotals(v []byte) totals {
	if v == nil {
		return totals{}
	}
	d := dec{b: v}
	return totals{groups: d.uv(), wasted: d.uv(), redundant: d.uv()}
}

// deadRec is why an event was not applied.
type deadRec struct {
	subject, reason string
}

func (r deadRec) encode() []byte { return appendStr(appendStr(nil, r.subject), r.reason) }

func decodeDeadRec(v []byte) deadRec {
	d := dec{b: v}
	return deadRec{subject: d.str(), reason: d.str()}
}

// History values: the event type's code, with movedAway set on the From side
// of a FileMoved; on the To side (the path the file arrived at) the code is
// followed by where it came from: uvarint(the From path's directory id) and
// its name, so a path's history can follow its file back across moves. The
// codes are on disk, in every index's history: a code never changes
// meaning, and a new event type takes the next unused one. (They were once
// each type's position in events.Types, plus one; the values are those, so
// indexes built then read the same.)
const (
	codeScanStarted    byte = 1
	codeFileScanned    byte = 2
	codeFileChanged    byte = 3
	codeFileMoved      byte = 4
	codeFileDeleted    byte = 5
	codeFileUnreadable byte = 6
	codeScanCompleted  byte = 7
	codeFilesForgotten byte = 8

	movedAway = 0x80
)

// histVal is a decoded history value.
type histVal struct {
	code     byte
	from     bool // the To side of a move, with where it came from
	fromDir  uint64
	fromName string
}

// decodeHistory decodes a history value; ok is false for one it cannot
// read (then code is 0, an unknown type).
func decodeHistory(v []byte) (histVal, bool) {
	if len(v) == 0 {
		return histVal{}, false
	}
	h := histVal{code: v[0]}
	if len(v) == 1 {
		return h, true
	}
	d := dec{b: v[1:]}
	h.fromDir = d.uv()
	if d.err != nil {
		return histVal{code: h.code}, false
	}
	h.from, h.fromName = true, string(d.b)
	return h, true
}

var typeCodes = map[events.Type]byte{
	events.TypeScanStarted:    codeScanStarted,
	events.TypeFileScanned:    codeFileScanned,
	events.TypeFileChanged:    codeFileChanged,
	events.TypeFileMoved:      codeFileMoved,
	events.TypeFileDeleted:    codeFileDeleted,
	events.TypeFileUnreadable: codeFileUnreadable,
	events.TypeScanCompleted:  codeScanCompleted,
	events.TypeFilesForgotten: codeFilesForgotten,
}

var codeTypes = func() map[byte]events.Type {
	m := make(map[byte]events.Type, len(typeCodes))
	for t, c := range typeCodes {
		m[c] = t
	}
	return m
}()

func typeOfCode(c byte) events.Type {
	if t, ok := codeTypes[c&^movedAway]; ok {
		return t
	}
	return events.Type(fmt.Sprintf("unknown(%d)", c))
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func hashList(h []string) string { return strings.Join(h, ",") }
