package scanner

import "github.com/indexer/indexer/events"

// State is the machine's scan state: what its events say each path looked
// like when last recorded. The scanner only reads it; it is a projection of
// the machine's own events, which indexer-scan catches up from the log
// before a scan and feeds the events the log acknowledges during one
// (projections/scanstate). Losing it costs a full re-read, never
// correctness.
//
// Methods are called from several goroutines at once and must be safe for
// that.
type State interface {
	// Dir calls fn for each file recorded directly in directory dir (an
	// absolute clean path), in name order. e is valid only during the call
	// and may lack Hashes: an unchanged rescan never needs them, and Get
	// returns them for the few paths that changed.
	Dir(dir string, fn func(name string, e *Entry)) error
	// Get returns the full recorded entry of path.
	Get(path string) (Entry, bool)
	// Dirs calls fn for every directory at or under root that directly
	// holds recorded files, in path order.
	Dirs(root string, fn func(dir string) error) error
	// Inode returns a path last recorded with this device and inode.
	Inode(dev, ino uint64) (path string, e Entry, ok bool)
	// Len returns the number of recorded files (members not counted).
	Len() int
	// Members calls fn for each member recorded under the archive file at
	// path (members of nested archives included), with its display path
	// (path::inner) and full entry, Archive and Hashes set, in path order.
	// Members are kept apart from files: Dir, Dirs and Inode never give
	// them.
	Members(archive string, fn func(path string, e *Entry)) error
	// Member returns the entry of the member at the display path under
	// the archive file at archive.
	Member(archive, path string) (Entry, bool)
}

// Entry is the recorded state of one path.
type Entry struct {
	Size   int64
	Mode   uint32
	MTime  int64
	CTime  int64
	BTime  int64 // birth time; 0 where the file system does not keep it
	Inode  uint64
	Device uint64
	Target string // symbolic links
	Hashes events.Hashes
	// Digests says which digests the record has; State.Dir sets it even
	// where it leaves Hashes out.
	Digests Digests
	// Archive is set for an archive member (see events.Archive); the
	// archive file's own entry has none.
	Archive *events.Archive
}

// Digests is a set of hash algorithms, one bit each in the order of
// KnownHashes: md5, sha1, sha256, blake3 (projections/scanstate stores
// the same bits).
type Digests uint8

// DigestsOf returns the set of digests h holds.
func DigestsOf(h events.Hashes) Digests {
	var d Digests
	for i, x := range []string{h.MD5, h.SHA1, h.SHA256, h.BLAKE3} {
		if x != "" {
			d |= 1 << i
		}
	}
	return d
}

// digestsNamed returns the set of the named algorithms (KnownHashes).
func digestsNamed(algos []string) Digests {
	var d Digests
	for i, k := range KnownHashes {
		for _, a := range algos {
			if a == k {
				d |= 1 << i
			}
		}
	}
	return d
}

// merge returns h with the digests it lacks taken from old: the same
// content, read with fewer algorithms this time.
func merge(h, old events.Hashes) events.Hashes {
	for _, p := range []struct {
		dst *string
		src string
	}{
		{&h.MD5, old.MD5}, {&h.SHA1, old.SHA1}, {&h.SHA256, old.SHA256}, {&h.BLAKE3, old.BLAKE3},
	} {
		if *p.dst == "" {
			*p.dst = p.src
		}
	}
	return h
}

// EntryOf returns the entry an event's File records.
func EntryOf(f *events.File) Entry {
	return Entry{Size: f.Size, Mode: f.Mode, MTime: f.MTime, CTime: f.CTime, BTime: f.BTime,
		Inode: f.Inode, Device: f.Device, Target: string(f.Target), Hashes: f.Hashes, Digests: DigestsOf(f.Hashes),
		Archive: member(f)}
}

// member returns f's Archive when f is an archive member, else nil.
func member(f *events.File) *events.Archive {
	if f.IsMember() {
		return f.Archive
	}
	return nil
}

// emptyState is the State of a machine never scanned.
type emptyState struct{}

func (emptyState) Dir(string, func(string, *Entry)) error     { return nil }
func (emptyState) Dirs(string, func(string) error) error      { return nil }
func (emptyState) Get(string) (Entry, bool)                   { return Entry{}, false }
func (emptyState) Members(string, func(string, *Entry)) error { return nil }
func (emptyState) Member(string, string) (Entry, bool)        { return Entry{}, false }
func (emptyState) Len() int                                   { return 0 }
func (emptyState) Inode(uint64, uint64) (string, Entry, bool) {
	return "", Entry{}, false
}
