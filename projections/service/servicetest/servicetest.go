package servicetest

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// Env is a data directory with an embedded server, the log and a projector
// following it into index.db.
type Env struct {
	Dir       string
	Server    *embedded.Server
	Log       *store.Log
	Projector *projections.Projector
	// Local answers queries from the projector's index, with the log.
	Local *service.Local

	once    sync.Once
	closers []func()
}

// Close stops the projector and the server and releases the directory, as
// the test's cleanup would; for tests that use the directory afterwards.
func (e *Env) Close() {
	e.once.Do(func() {
		for i := len(e.closers) - 1; i >= 0; i-- {
			e.closers[i]()
		}
	})
}

// Options say how MustOpen sets up an Env.
type Options struct {
	// Listen serves the embedded server on a loopback port and writes
	// server.url into Dir, as indexer-project does; otherwise it is
	// in-process only.
	Listen bool
	// Dir is the data directory; default a new temp dir.
	Dir string
	// Lock takes the data directory's lock, as an owning process does.
	Lock bool
	// Keyring, when set, makes the server accept only its credentials.
	Keyring *store.Keyring
}

// MustOpen starts an Env; everything stops at the test's cleanup, and the
// index's consistency is checked.
func MustOpen(tb testing.TB, opt Options) *Env {
	tb.Helper()
	dir := opt.Dir
	if dir == "" {
		dir = tb.TempDir()
	}
	ctx := context.Background()
	e := &Env{Dir: dir}
	tb.Cleanup(e.Close)
	fail := func(err error) {
		tb.Helper()
		e.Close()
		tb.Fatal(err)
	}
	if opt.Lock {
		lock, err := store.LockDir(dir, "servicetest")
		if err != nil {
			fail(err)
		}
		e.closers = append(e.closers, func() { lock.Close() })
	}
	srv := &embedded.Server{DataDir: dir, InProcess: !opt.Listen, Keyring: opt.Keyring}
	if err := srv.Open(ctx); err != nil {
		fail(err)
	}
	e.closers = append(e.closers, func() { srv.Close() })
	nc, err := srv.Connect("servicetest")
	if err != nil {
		fail(err)
	}
	e.closers = append(e.closers, nc.Close)
	log := &store.Log{Conn: nc}
	if err := log.Open(ctx); err != nil {
		fail(err)
	}
	p := &projections.Projector{Log: log, Path: store.Dir(dir).IndexPath()}
	if err := p.Open(); err != nil {
		fail(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.Run(runCtx); err != nil && runCtx.Err() == nil {
			tb.Errorf("projector: %v", err)
		}
	}()
	e.closers = append(e.closers, func() {
		cancel()
		wg.Wait()
		checkIndex(tb, p)
		p.Close()
	})
	e.Server, e.Log, e.Projector = srv, log, p
	e.Local = &service.Local{Index: p.Index(), Log: log, Checkpoint: p.Checkpoint}
	return e
}

// checkIndex runs bbolt's consistency check through a read transaction.
func checkIndex(tb testing.TB, p *projections.Projector) {
	tb.Helper()
	path := p.Path
	if err := p.Close(); err != nil {
		tb.Errorf("close index: %v", err)
		return
	}
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		tb.Errorf("reopen index: %v", err)
		return
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		tb.Errorf("index check: %v", err)
	}
}

// Publish appends evs and waits until the projector applied them,
// returning the log's last sequence.
func (e *Env) Publish(tb testing.TB, evs ...events.Event) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := e.Log.NewAppender()
	for _, ev := range evs {
		if err := a.Append(ctx, ev); err != nil {
			tb.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	info, err := e.Log.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Projector.WaitFor(ctx, info.LastSeq); err != nil {
		tb.Fatal(err)
	}
	return info.LastSeq
}

// Hashes returns the digests of content, as a scanner would record them.
func Hashes(content string) events.Hashes {
	m, s1, s256 := md5.Sum([]byte(content)), sha1.Sum([]byte(content)), sha256.Sum256([]byte(content))
	return events.Hashes{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:])}
}

// Scan builds the events of one scan of a machine.
type Scan struct {
	Machine string
	ID      ulid.ULID
	Root    string
	T       time.Time
	Events  []events.Event
	inode   uint64
}

// NewScan starts a scan of root on machine at time t.
func NewScan(machine, root string, t time.Time) *Scan {
	s := &Scan{Machine: machine, ID: ulid.MustNew(ulid.Timestamp(t), nil), Root: root, T: t, inode: 1000}
	s.add(&events.ScanStarted{Root: events.Path(root), Options: events.ScanOptions{Hashes: []string{"md5", "sha1", "sha256"}}})
	return s
}

func (s *Scan) add(p events.Payload) {
	s.T = s.T.Add(time.Second)
	s.Events = append(s.Events, events.New(s.Machine, s.ID, s.T, p))
}

// File returns a file's state with the digests of content and a new inode.
func (s *Scan) File(path string, size int64, content string) events.File {
	s.inode++
	return events.File{
		Path: events.Path(path), Size: size, Mode: 0o644,
		MTime: s.T.Add(-72 * time.Hour).UnixNano(), CTime: s.T.Add(-72 * time.Hour).UnixNano(),
		Inode: s.inode, Device: 2049, Nlink: 1, UID: 1000, GID: 1000, Hashes: Hashes(content),
	}
}

// Scanned records f as seen for the first time.
func (s *Scan) Scanned(f events.File) { s.add(&events.FileScanned{File: f}) }

// Changed records f's new state.
func (s *Scan) Changed(f events.File, prev string, reason events.ChangeReason) {
	s.add(&events.FileChanged{File: f, PrevSHA256: prev, Reason: reason})
}

// Moved records f, now at f.Path, as moved from from.
func (s *Scan) Moved(from string, f events.File) {
	s.add(&events.FileMoved{From: events.Path(from), File: f})
}

// Deleted records path as gone.
func (s *Scan) Deleted(path, sha string) {
	s.add(&events.FileDeleted{Path: events.Path(path), SHA256: sha})
}

// Unreadable records path as unreadable.
func (s *Scan) Unreadable(path, why string) {
	s.add(&events.FileUnreadable{Path: events.Path(path), Error: why})
}

// Complete ends the scan.
func (s *Scan) Complete(counts events.ScanCounts) []events.Event {
	s.add(&events.ScanCompleted{Root: events.Path(s.Root), Complete: true, Counts: counts, DurationNS: int64(len(s.Events)) * int64(time.Millisecond)})
	return s.Events
}

// MiB is a mebibyte.
const MiB = 1 << 20

// Fixture paths that tests look for.
const (
	ReportPath   = "/home/ana/docs/report-2025.pdf"
	ReportCopy   = "/home/ana/docs/report-2025 (copy).pdf"
	PhotoPath    = "/home/ana/photos/IMG_0001.jpg"
	PhotoLink    = "/home/ana/photos/IMG_0001-hardlink.jpg"
	NotesPath    = "/home/ana/notes.txt"
	MovedFrom    = "/home/ana/draft.md"
	MovedTo      = "/home/ana/docs/final.md"
	DeletedPath  = "/home/ana/old.txt"
	Latin1Path   = "/home/ana/weird/caf\xe9-latin1.txt" // not UTF-8
	NewlinePath  = "/home/ana/weird/line\nbreak.txt"
	ScriptPath   = "/home/ana/weird/<img src=x onerror=alert(1)>.html"
	ArchivePath  = "/home/ana/backup.zip"
	ArchiveInner = "/home/ana/backup.zip::docs/report-2025.pdf"
	MoviePath    = "/srv/share/video/movie.mkv"
	MovieCopy    = "/srv/share/video/movie-copy.mkv"
	NASReport    = "/srv/share/backup/report-2025.pdf"
)

// LongPath is a path of many long directory names, for layouts that must
// not break on it.
var LongPath = "/home/ana/deep/" + longDirs() + "a-file-with-a-rather-long-name-that-goes-on-and-on-and-on.txt"

func longDirs() string {
	s := ""
	for i := 0; i < 12; i++ {
		s += fmt.Sprintf("level-%02d-a-directory-name-that-is-quite-long/", i)
	}
	return s
}

// Fixture returns the events of two machines' scans, laptop then nas1,
// covering what the queries must get right:
//
//   - report-2025.pdf (3 MiB): on laptop twice, inside backup.zip, and on
//     nas1: 4 copies, 4 inodes, 9 MiB wasted.
//   - IMG_0001.jpg (2 MiB) and a hard link to it: 2 paths, 1 inode, no waste.
//   - movie.mkv (100 MiB) twice on nas1: 100 MiB wasted.
//   - song.flac (5 MiB) on both machines: 5 MiB wasted.
//   - notes.txt changed, draft.md moved to docs/final.md, old.txt deleted.
//   - names that are not UTF-8, hold a newline or HTML, and a very long path.
func Fixture() []events.Event {
	t := time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC)
	l := NewScan("laptop", "/home/ana", t)
	report := l.File(ReportPath, 3*MiB, "report")
	l.Scanned(report)
	l.Scanned(l.File(ReportCopy, 3*MiB, "report"))
	photo := l.File(PhotoPath, 2*MiB, "photo")
	photo.Nlink = 2
	l.Scanned(photo)
	link := photo
	link.Path = PhotoLink
	l.Scanned(link)
	l.Scanned(l.File("/home/ana/music/song.flac", 5*MiB, "song"))
	notes := l.File(NotesPath, 1200, "notes v1")
	l.Scanned(notes)
	l.Scanned(l.File(DeletedPath, 10, "old"))
	draft := l.File(MovedFrom, 4000, "draft")
	l.Scanned(draft)
	l.Scanned(l.File(Latin1Path, 2048, "latin1"))
	l.Scanned(l.File(NewlinePath, 99, "newline"))
	l.Scanned(l.File(ScriptPath, 512, "script"))
	l.Scanned(l.File("/home/ana/weird/spaces  and ünïcödé 日本語.txt", 777, "unicode"))
	l.Scanned(l.File(LongPath, 4096, "long"))
	zip := l.File(ArchivePath, 4*MiB, "zip")
	zip.Archive = &events.Archive{Format: "zip", Members: 1}
	l.Scanned(zip)
	// A member as the scanner records it: no inode, device or owner.
	inner := l.File(ArchiveInner, 3*MiB, "report")
	inner.Inode, inner.Device, inner.Nlink, inner.UID, inner.GID, inner.CTime = 0, 0, 0, 0, 0, 0
	inner.Archive = &events.Archive{Path: ArchivePath, Member: []events.Path{"docs/report-2025.pdf"}, Format: "zip",
		Encoding: "utf-8", CRC32: "0badf00d", Packed: 3*MiB - 1000}
	l.Scanned(inner)
	l.Scanned(l.File("/home/ana/empty-1", 0, ""))
	l.Scanned(l.File("/home/ana/empty-2", 0, ""))
	for i := 0; i < 30; i++ {
		l.Scanned(l.File(fmt.Sprintf("/home/ana/photos/2025/IMG_%04d.jpg", 100+i), int64(1+i)*300_000, fmt.Sprintf("img %d", i)))
	}
	l.Unreadable("/home/ana/private", "permission denied")
	laptop := l.Complete(events.ScanCounts{Seen: 50, Read: 49, Added: 49, Unreadable: 1, BytesRead: 40 * MiB})

	// A second laptop scan: a change, a move and a deletion.
	l2 := NewScan("laptop", "/home/ana", t.Add(24*time.Hour))
	l2.inode = 5000
	notes2 := notes
	notes2.Size, notes2.Hashes, notes2.MTime = 1500, Hashes("notes v2"), l2.T.UnixNano()
	l2.Changed(notes2, notes.Hashes.SHA256, events.ReasonContent)
	moved := draft
	moved.Path = MovedTo
	l2.Moved(MovedFrom, moved)
	l2.Deleted(DeletedPath, Hashes("old").SHA256)
	laptop2 := l2.Complete(events.ScanCounts{Seen: 49, Changed: 1, Moved: 1, Deleted: 1, BytesRead: 1500})

	n := NewScan("nas1", "/srv/share", t.Add(2*time.Hour))
	n.Scanned(n.File(NASReport, 3*MiB, "report"))
	n.Scanned(n.File("/srv/share/music/song.flac", 5*MiB, "song"))
	n.Scanned(n.File(MoviePath, 100*MiB, "movie"))
	n.Scanned(n.File(MovieCopy, 100*MiB, "movie"))
	n.Scanned(n.File("/srv/share/readme.txt", 300, "readme"))
	nas := n.Complete(events.ScanCounts{Seen: 5, Read: 5, Added: 5, BytesRead: 208 * MiB})

	out := append(laptop, nas...)
	return append(out, laptop2...)
}
