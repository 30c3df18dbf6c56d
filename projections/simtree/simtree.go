package simtree

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
)

// Tree is one machine's simulated files.
type Tree struct {
	Machine string
	// Files is the truth: every path that exists and its state.
	Files map[events.Path]events.File
	// Untracked makes Walk forget what it made, for benchmarks of millions
	// of files; Step then knows only the other files.
	Untracked bool

	rng     *rand.Rand
	paths   []events.Path       // the keys of Files, for random picks
	index   map[events.Path]int // position in paths
	dirs    []string
	nextIno uint64
	content uint64
	scan    ulid.ULID
	t       time.Time
	n       uint64
	walkDir int // the next directory Walk fills
}

// New returns an empty tree whose randomness comes from seed.
func New(machine string, seed uint64) *Tree {
	return &Tree{
		Machine: machine, Files: map[events.Path]events.File{},
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		index: map[events.Path]int{}, dirs: []string{"/data/"},
		nextIno: 1000, t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		// Content numbers of different trees never meet: equal digests
		// mean equal content, so equal size.
		content: seed << 40,
	}
}

func (t *Tree) event(p events.Payload) events.Event {
	t.n++
	t.t = t.t.Add(time.Millisecond)
	return events.New(t.Machine, t.scan, t.t, p)
}

// StartScan returns a ScanStarted of a new scan; the events that follow
// belong to it.
func (t *Tree) StartScan() events.Event {
	t.scan = events.NewID()
	return t.event(&events.ScanStarted{Root: "/data", Options: events.ScanOptions{Hashes: []string{"md5", "sha1", "sha256"}}})
}

// EndScan returns the ScanCompleted of the current scan.
func (t *Tree) EndScan() events.Event {
	return t.event(&events.ScanCompleted{Root: "/data", Complete: true, Counts: events.ScanCounts{Seen: int64(len(t.Files))}})
}

// Hashes returns the digests of content number c.
func Hashes(c uint64) events.Hashes {
	b := binary.BigEndian.AppendUint64(nil, c)
	m, s1, s2 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b)
	return events.Hashes{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
}

var words = []string{"report", "photo", "IMG", "invoice", "notes", "backup", "Résumé", "data", "video", "song", "draft", "final"}
var exts = []string{".txt", ".jpg", ".pdf", ".go", ".mp4", ".tar.gz", ""}

func (t *Tree) name() string {
	return fmt.Sprintf("%s-%d%s", words[t.rng.IntN(len(words))], t.rng.IntN(100000), exts[t.rng.IntN(len(exts))])
}

func (t *Tree) dir() string {
	if t.rng.IntN(10) == 0 && len(t.dirs) < 200 {
		parent := t.dirs[t.rng.IntN(len(t.dirs))]
		d := parent + fmt.Sprintf("%s_%d/", words[t.rng.IntN(len(words))], t.rng.IntN(1000))
		t.dirs = append(t.dirs, d)
		return d
	}
	return t.dirs[t.rng.IntN(len(t.dirs))]
}

func (t *Tree) newFile(p events.Path, content uint64, size int64) events.File {
	t.nextIno++
	return events.File{
		Path: p, Size: size, Mode: 0o644, MTime: t.t.UnixNano(), CTime: t.t.UnixNano(),
		Inode: t.nextIno, Device: 42, Nlink: 1, UID: 1000, GID: 1000, Hashes: Hashes(content),
	}
}

func (t *Tree) put(f events.File) {
	if _, ok := t.index[f.Path]; !ok {
		t.index[f.Path] = len(t.paths)
		t.paths = append(t.paths, f.Path)
	}
	t.Files[f.Path] = f
}

func (t *Tree) drop(p events.Path) {
	i := t.index[p]
	last := t.paths[len(t.paths)-1]
	t.paths[i] = last
	t.index[last] = i
	t.paths = t.paths[:len(t.paths)-1]
	delete(t.index, p)
	delete(t.Files, p)
}

func (t *Tree) pick() (events.File, bool) {
	if len(t.paths) == 0 {
		return events.File{}, false
	}
	return t.Files[t.paths[t.rng.IntN(len(t.paths))]], true
}

func (t *Tree) freePath() events.Path {
	for {
		p := events.Path(t.dir() + t.name())
		if _, ok := t.Files[p]; !ok {
			return p
		}
	}
}

// Step makes one random change and returns its event.
func (t *Tree) Step() events.Event {
	f, ok := t.pick()
	r := t.rng.IntN(100)
	if !ok {
		r = 0
	}
	switch {
	case r < 35: // a new file
		t.content++
		nf := t.newFile(t.freePath(), t.content, int64(t.rng.IntN(1<<20)))
		t.put(nf)
		return t.event(&events.FileScanned{File: nf})
	case r < 45: // a copy of another file's content: a duplicate
		nf := t.newFile(t.freePath(), 0, f.Size)
		nf.Hashes = f.Hashes
		t.put(nf)
		return t.event(&events.FileScanned{File: nf})
	case r < 50: // a hard link: same inode, not waste
		nf := f
		nf.Path = t.freePath()
		nf.Nlink++
		t.put(nf)
		return t.event(&events.FileScanned{File: nf})
	case r < 60: // new content
		t.content++
		nf := f
		nf.Hashes, nf.Size, nf.MTime = Hashes(t.content), int64(t.rng.IntN(1<<20)), t.t.UnixNano()
		t.put(nf)
		return t.event(&events.FileChanged{File: nf, PrevSHA256: f.Hashes.SHA256, Reason: events.ReasonContent})
	case r < 65: // metadata only
		nf := f
		nf.Mode = 0o600
		nf.CTime = t.t.UnixNano()
		t.put(nf)
		return t.event(&events.FileChanged{File: nf, PrevSHA256: f.Hashes.SHA256, Reason: events.ReasonMetadata})
	case r < 80: // renamed or moved to another directory
		nf := f
		nf.Path = t.freePath()
		t.drop(f.Path)
		t.put(nf)
		return t.event(&events.FileMoved{From: f.Path, File: nf})
	case r < 95:
		t.drop(f.Path)
		return t.event(&events.FileDeleted{Path: f.Path, SHA256: f.Hashes.SHA256})
	default:
		return t.event(&events.FileUnreadable{Path: f.Path, Error: "permission denied"})
	}
}

// Forget returns the operator's FilesForgotten of a random directory
// just below /data/ (of /data itself while there is none) and drops the
// files under it from the truth. It belongs to no scan.
func (t *Tree) Forget() events.Event {
	root := t.dirs[0]
	var top []string
	for _, d := range t.dirs[1:] {
		if strings.Count(d, "/") == 3 {
			top = append(top, d)
		}
	}
	if len(top) > 0 {
		root = top[t.rng.IntN(len(top))]
	}
	var gone []events.Path
	for _, p := range t.paths {
		if strings.HasPrefix(string(p), root) {
			gone = append(gone, p)
		}
	}
	for _, p := range gone {
		t.drop(p)
	}
	e := t.event(&events.FilesForgotten{Root: events.Path(strings.TrimSuffix(root, "/")), Reason: "simulated"})
	e.Scan = ulid.ULID{}
	return e
}

// Walk returns n FileScanned events of new files in walk order: directories
// of up to 100 files, names sorted within each, random content with about
// dupPercent percent copies of earlier content.
func (t *Tree) Walk(n int, dupPercent int) []events.Event {
	out := make([]events.Event, 0, n)
	for ; len(out) < n; t.walkDir++ {
		d := t.walkDir
		dir := fmt.Sprintf("/data/%s_%03d/%s_%04d/", words[d%len(words)], d/100, words[(d/7)%len(words)], d)
		k := min(100, n-len(out)) // a directory may be cut between calls
		names := make([]string, k)
		for i := range names {
			names[i] = fmt.Sprintf("%s-%06d%s", words[t.rng.IntN(len(words))], len(out)+i, exts[t.rng.IntN(len(exts))])
		}
		sort.Strings(names)
		for _, name := range names {
			c := t.content + 1
			if first := t.content &^ (1<<40 - 1); t.content > first && t.rng.IntN(100) < dupPercent {
				c = first + 1 + t.rng.Uint64N(t.content-first)
			} else {
				t.content++
			}
			f := t.newFile(events.Path(dir+name), c, int64(c%(1<<20)))
			if !t.Untracked {
				t.put(f)
			}
			out = append(out, t.event(&events.FileScanned{File: f}))
		}
	}
	return out
}

// Paths returns the existing paths, sorted.
func (t *Tree) Paths() []events.Path {
	ps := append([]events.Path(nil), t.paths...)
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}
