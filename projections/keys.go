package projections

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bucket names. Each read model is one bbolt bucket; see doc.go for the
// layout of keys and values.
var (
	bucketMeta     = []byte("meta")     // shared with store's checkpoint
	bucketFiles    = []byte("files")    // dirID(8) name -> fileRec
	bucketFIDs     = []byte("fids")     // fileID(8) -> uvarint dirID, name
	bucketByHash   = []byte("by-hash")  // sha256(32) uv(machineID) uv(dev) uv(inode) uv(fileID) -> nil
	bucketDupes    = []byte("dupes")    // sha256 -> groupRec, only for count >= 2
	bucketGroups   = []byte("groups")   // 'w'|'c'|'s' be64(wasted|count|size) sha256 -> nil
	bucketNames    = []byte("names")    // trigram(3) be64(first fileID) -> uvarint gaps; also md5/sha1 prefixes
	bucketDirs     = []byte("dirs")     // machine 0x00 dirpath -> dirRec (files, links, members apart)
	bucketDirIDs   = []byte("dirids")   // be64(dirID) -> machine 0x00 dirpath
	bucketHistory  = []byte("history")  // dirID(8) name 0x00 be64(seq) -> type code [uv(from dirID) from name]
	bucketMachines = []byte("machines") // machine -> machineRec
	bucketScans    = []byte("scans")    // scan ULID(16) -> scanRec
	bucketDead     = []byte("dead")     // be64(seq) -> deadRec
)

// modelBuckets lists every bucket a rebuild starts empty and Dump prints,
// in Dump's order.
var modelBuckets = [][]byte{
	bucketMachines, bucketScans, bucketDirs, bucketDirIDs, bucketFiles, bucketFIDs,
	bucketByHash, bucketDupes, bucketGroups, bucketNames, bucketNamesNew, bucketHistory, bucketDead,
}

// Keys of the projector's own counters in the meta bucket.
var (
	keyNextFileID    = []byte("next_file_id")
	keyNextDirID     = []byte("next_dir_id")
	keyNextMachineID = []byte("next_machine_id")
	keyTotals        = []byte("totals")
	keyBuildLimit    = []byte("build_limit")
)

// splitPath returns the directory of p including its trailing slash ("" when
// p has no slash) and the base name. dir+name == p for every byte string, so
// the split is reversible whatever the path holds.
func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

// parentDir returns the directory that holds directory d (a value returned
// as dir by splitPath) and d's name in it; ok is false for the root "".
func parentDir(d string) (parent, name string, ok bool) {
	if d == "" {
		return "", "", false
	}
	parent, name = splitPath(d[:len(d)-1])
	return parent, name, true
}

// normDir turns a directory as a user writes it ("/home/x") into the form
// the dirs model keys ("/home/x/"). "" stays "" (the machine's root).
func normDir(d string) string {
	if d != "" && !strings.HasSuffix(d, "/") {
		d += "/"
	}
	return d
}

// dirKey is the dirs model's key for machine and dir.
func dirKey(machine, dir string) []byte {
	k := make([]byte, 0, len(machine)+1+len(dir))
	k = append(k, machine...)
	k = append(k, 0)
	return append(k, dir...)
}

func splitDirKey(k []byte) (machine, dir string) {
	i := 0
	for i < len(k) && k[i] != 0 {
		i++
	}
	if i == len(k) {
		return string(k), ""
	}
	return string(k[:i]), string(k[i+1:])
}

func be64(x uint64) []byte { return binary.BigEndian.AppendUint64(nil, x) }

// fileKey is the files model's key: the directory's id and the base name.
func fileKey(dirID uint64, name string) []byte {
	k := make([]byte, 8, 8+len(name))
	binary.BigEndian.PutUint64(k, dirID)
	return append(k, name...)
}

// historyPrefix is the prefix of every history key of one path; names hold
// no 0x00, so no other path's keys share it.
func historyPrefix(dirID uint64, name string) []byte {
	return append(fileKey(dirID, name), 0)
}

func historyKey(dirID uint64, name string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(historyPrefix(dirID, name), seq)
}

// fold maps a name to the form the name index holds: lower case for valid
// UTF-8 runes (simple Unicode folding), other bytes unchanged, so any byte
// string folds and the result is deterministic.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	b := make([]byte, 0, len(s))
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 {
			b = append(b, s[0])
			s = s[1:]
			continue
		}
		b = utf8.AppendRune(b, unicode.ToLower(r))
		s = s[n:]
	}
	return string(b)
}

// trigram is three bytes of a folded name, or an altTrigram.
type trigram [3]byte

// altTrigram is the name index's key for files whose md5, sha1 or sha256
// begins with the 12 bits of h: a NUL first byte, which no name holds, and 4,096
// lists in all.
func altTrigram(h []byte) trigram { return trigram{0, h[0], h[1] & 0xf0} }

// trigrams returns the distinct trigrams of a folded string, in order of
// first appearance.
func trigrams(s string) []trigram {
	if len(s) < 3 {
		return nil
	}
	out := make([]trigram, 0, len(s)-2)
	for i := 0; i+3 <= len(s); i++ {
		t := trigram{s[i], s[i+1], s[i+2]}
		dup := false
		for _, o := range out {
			if o == t {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

// errCorrupt is returned when a stored value does not decode: the index file
// was damaged or written by an incompatible version. Rebuild it.
var errCorrupt = errors.New("corrupt read model value")

// dec reads the varint fields of a stored value, remembering the first
// error so callers check once.
type dec struct {
	b   []byte
	err error
}

func (d *dec) uv() uint64 {
	x, n := binary.Uvarint(d.b)
	d.skip(n)
	return x // 0 when n <= 0
}

func (d *dec) v() int64 {
	x, n := binary.Varint(d.b)
	d.skip(n)
	return x // 0 when n <= 0
}

// skip passes the n bytes a varint took; n <= 0 is a bad varint.
func (d *dec) skip(n int) {
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return
	}
	d.b = d.b[n:]
}

// bytes returns the next n bytes, or zeros (up to 64 of them) past the end.
func (d *dec) bytes(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.err = errCorrupt
		d.b = nil
		return make([]byte, min(max(n, 0), 64))
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *dec) byte1() byte {
	if b := d.bytes(1); len(b) == 1 {
		return b[0]
	}
	return 0
}

func (d *dec) str() string { return string(d.bytes(int(d.uv()))) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
