package scanstate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/store"
)

// State is one machine's scan state: the scanner's memory of what each
// path looked like when last recorded (scanner.State). It is a projection of
// the machine's own events (idx.<machine>.>), kept in its own bbolt file in
// the data directory, and rebuilt from the log when missing, damaged or
// stale. It is written without fsync: losing it costs a re-read, never a
// wrong answer, since CatchUp checks it against the log.
//
// Buckets: files (dir 0x00 name -> entry), inodes (device, inode -> path),
// dirs (dir -> number of files recorded directly in it), members (archive
// path 0x00 member display path -> archive field as JSON, entry): archive
// members are kept apart, so that a directory's listing, the directories
// that hold files and the inodes are those of the disk alone.
type State struct {
	Machine string
	// Discarded is why Open removed the file it found (damaged, or left
	// unsynced by an earlier boot: see store.DB.NoSync) and started anew;
	// nil when it did not. CatchUp then reads the machine's events again.
	Discarded error
	db        *store.DB
	created   time.Time     // the stream incarnation CatchUp last saw
	syncing   chan struct{} // closed when SyncBehind's sync is done
}

var (
	bucketFiles  = []byte("files")
	bucketInodes = []byte("inodes")
	bucketDirs   = []byte("dirs")
	bucketMember = []byte("members")
)

// scanStateVersion changes when the file's layout does; an older file is
// rebuilt.
const scanStateVersion = 3

// Open opens (or creates) the scan state file at path. A file that
// cannot be opened is damaged: it is removed and started anew.
func Open(path, machine string) (*State, error) {
	// DropPages: the pages a scan's reads and writes touch would otherwise
	// stay in its resident memory (35-40 MiB at 100,000 files).
	db := &store.DB{Path: path, NoSync: true, SyncFreelist: true, DropPages: true}
	discarded := db.Open()
	if discarded != nil {
		if errors.Is(discarded, store.ErrLocked) {
			return nil, fmt.Errorf("scan state: %w", discarded)
		}
		if rmErr := os.Remove(path); rmErr != nil {
			return nil, fmt.Errorf("scan state: %w", discarded)
		}
		if err := db.Open(); err != nil {
			return nil, fmt.Errorf("scan state: %w", err)
		}
	}
	// A file from before the count was kept is counted here, once.
	if err := db.Update(func(tx *store.Tx) error { tx.Count(bucketFiles); return nil }); err != nil {
		db.Close()
		return nil, fmt.Errorf("scan state: %w", err)
	}
	return &State{Machine: machine, db: db, Discarded: discarded}, nil
}

// SyncBehind starts writing the file's pages to disk in the background,
// so that Close, which syncs the file (store.DB.Close syncs a NoSync
// file), has little left to write: the file is written without fsync, so
// at the end of a scan all it wrote is still to be written, 30-40 MB at
// 100,000 files. Call it, then Close, from one goroutine.
func (s *State) SyncBehind() {
	if s.syncing != nil {
		return
	}
	done := make(chan struct{})
	s.syncing = done
	go func() {
		defer close(done)
		s.db.Sync() // Close syncs again, and reports an error
	}()
}

// Close syncs and closes the file.
func (s *State) Close() error {
	if s.syncing != nil {
		<-s.syncing
		s.syncing = nil
	}
	return s.db.Close()
}

// CatchUp applies the machine's events that the state has not seen. A state
// from another incarnation of the stream, or ahead of the log (a lost tail),
// is wiped and rebuilt from the start.
func (s *State) CatchUp(ctx context.Context, log *store.Log, logger *slog.Logger) (int, error) {
	info, err := log.Info(ctx)
	if err != nil {
		return 0, err
	}
	cp, err := s.db.Checkpoint()
	if err != nil {
		return 0, fmt.Errorf("read scan state: %w", err)
	}
	if reason := cp.Stale(info, scanStateVersion); reason != "" {
		if logger != nil {
			logger.Info("rebuilding scan state", "machine", s.Machine, "checkpoint", cp.Seq, "stream_last", info.LastSeq, "reason", reason)
		}
		if err := s.db.Update(func(tx *store.Tx) error {
			for _, b := range [][]byte{bucketFiles, bucketInodes, bucketDirs, bucketMember} {
				if err := tx.DeleteBucket(b); err != nil {
					return err
				}
			}
			return tx.SetCheckpoint(store.Checkpoint{})
		}); err != nil {
			return 0, fmt.Errorf("reset scan state: %w", err)
		}
		cp = store.Checkpoint{}
	}
	s.created = info.Created
	if cp.Seq >= info.LastSeq {
		return 0, nil
	}
	const batch = 8192
	var buf []store.Record
	applied := 0
	flush := func(last uint64) error {
		err := s.db.Update(func(tx *store.Tx) error {
			denser(tx)
			var c counts
			for _, r := range buf {
				e, err := events.Decode(r.Data)
				if err != nil || e.Machine != s.Machine || store.CheckSource(r) != nil {
					// The projector reports malformed events and those a
					// laptop's source does not take; the state skips them.
					continue
				}
				if err := s.apply(tx, &c, e); err != nil {
					return fmt.Errorf("apply seq %d: %w", r.Seq, err)
				}
				applied++
			}
			if err := c.flush(tx); err != nil {
				return err
			}
			return tx.SetCheckpoint(store.Checkpoint{Seq: last, StreamCreated: info.Created, ModelVersion: scanStateVersion})
		})
		buf = buf[:0]
		return err
	}
	last, err := log.Replay(ctx, cp.Seq+1, events.MachineSubjects(s.Machine), func(r store.Record) error {
		buf = append(buf, r)
		if len(buf) == batch {
			return flush(r.Seq)
		}
		return nil
	})
	if err != nil {
		return applied, fmt.Errorf("catch up scan state: %w", err)
	}
	// Everything up to the stream's last sequence at the start has been
	// seen, even where the filter matched nothing.
	if last < info.LastSeq {
		last = info.LastSeq
	}
	if err := flush(last); err != nil {
		return applied, err
	}
	return applied, nil
}

// denser packs pages fuller than bbolt's default half: a scan's paths
// arrive almost in key order (a depth-first walk in name order), so half
// full pages would double the file for nothing.
func denser(tx *store.Tx) {
	for _, b := range [][]byte{bucketFiles, bucketInodes, bucketDirs, bucketMember} {
		tx.Bucket(b).SetFillPercent(0.9)
	}
}

// apply applies e in tx, its changes to the counts of files gathered in c
// (flush c before tx commits).
func (s *State) apply(tx *store.Tx, c *counts, e events.Event) error {
	switch d := e.Data.(type) {
	case *events.FileScanned:
		return s.put(tx, c, &d.File)
	case *events.FileChanged:
		return s.put(tx, c, &d.File)
	case *events.FileMoved:
		if err := s.remove(tx, c, string(d.From)); err != nil {
			return err
		}
		return s.put(tx, c, &d.File)
	case *events.FileDeleted:
		return s.remove(tx, c, string(d.Path))
	case *events.FilesForgotten:
		// forget finds the directories in their counts.
		if err := c.flush(tx); err != nil {
			return err
		}
		return s.forget(tx, c, string(d.Root))
	}
	return nil
}

// counts gathers a transaction's changes to the counts of files, the
// state's (store.Tx.Count) and each directory's (bucketDirs), and writes
// each once, at the end (flush), instead of a read and a write of both for
// every file.
type counts struct {
	files int
	dirs  map[string]int64
}

// add counts a file added (delta 1) or removed (-1) in dir.
func (c *counts) add(tx *store.Tx, dir []byte, delta int64) {
	if c.dirs == nil {
		c.dirs = map[string]int64{}
		// A state written before files were counted is counted now, as it
		// stands before this transaction's changes (store.Tx.AddCount).
		tx.Count(bucketFiles)
	}
	c.files += int(delta)
	c.dirs[string(dir)] += delta
}

// flush writes the changes gathered, directories in key order.
func (c *counts) flush(tx *store.Tx) error {
	if c.dirs == nil {
		return nil
	}
	if c.files != 0 {
		if err := tx.AddCount(bucketFiles, c.files); err != nil {
			return err
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(c.dirs)) {
		if delta := c.dirs[dir]; delta != 0 {
			if err := addDirCount(tx, []byte(dir), delta); err != nil {
				return err
			}
		}
	}
	*c = counts{}
	return nil
}

// forget drops every path under root ("" or "/": all of them), archive
// members too, as the index does on a FilesForgotten: the next scan finds
// them again as new files (FileScanned), and deletes nothing the index no
// longer shows.
func (s *State) forget(tx *store.Tx, c *counts, root string) error {
	root = strings.TrimSuffix(root, "/")
	all := root == ""
	under := func(dir string) bool { return all || dir == root || strings.HasPrefix(dir, root+"/") }
	var dirs []string
	dc := tx.Bucket(bucketDirs).Cursor()
	seek := []byte(root)
	for k, _ := dc.Seek(seek); k != nil && bytes.HasPrefix(k, seek); k, _ = dc.Next() {
		if under(string(k)) {
			dirs = append(dirs, string(k))
		}
	}
	for _, dir := range dirs {
		var paths []string
		prefix := append([]byte(dir), 0)
		fc := tx.Bucket(bucketFiles).Cursor()
		for k, _ := fc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = fc.Next() {
			name := string(k[len(prefix):])
			if dir == "/" {
				paths = append(paths, "/"+name)
			} else {
				paths = append(paths, dir+"/"+name)
			}
		}
		for _, p := range paths {
			if err := s.remove(tx, c, p); err != nil {
				return err
			}
		}
	}
	// Members, keyed by their archive's path.
	var members [][]byte
	mc := tx.Bucket(bucketMember).Cursor()
	for k, _ := mc.Seek(seek); k != nil && bytes.HasPrefix(k, seek); k, _ = mc.Next() {
		if i := bytes.IndexByte(k, 0); i >= 0 && (all || strings.HasPrefix(string(k[:i]), root+"/")) {
			members = append(members, bytes.Clone(k))
		}
	}
	for _, k := range members {
		if err := tx.Bucket(bucketMember).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// memberKey is the members key of the member at display path under the
// archive file at archive.
func memberKey(archive, path string) []byte {
	k := make([]byte, 0, len(archive)+1+len(path))
	k = append(k, archive...)
	k = append(k, 0)
	return append(k, path...)
}

func (s *State) putMember(tx *store.Tx, f *events.File) error {
	aj, err := json.Marshal(f.Archive)
	if err != nil {
		return err
	}
	v := binary.AppendUvarint(nil, uint64(len(aj)))
	v = append(v, aj...)
	v = append(v, encodeEntry(scanner.EntryOf(f))...)
	return tx.Bucket(bucketMember).Put(memberKey(string(f.Archive.Path), string(f.Path)), v)
}

// removeMember deletes the member at the display path p, whose archive is
// the part before one of its "::" (a FileDeleted names only the path).
func (s *State) removeMember(tx *store.Tx, p string) error {
	b := tx.Bucket(bucketMember)
	for i := 0; ; {
		j := strings.Index(p[i:], events.MemberSep)
		if j < 0 {
			return nil
		}
		i += j
		if k := memberKey(p[:i], p); b.Get(k) != nil {
			return b.Delete(k)
		}
		i += len(events.MemberSep)
	}
}

func decodeMember(v []byte) (scanner.Entry, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || uint64(len(v)-k) < n {
		return scanner.Entry{}, errBadEntry
	}
	a := &events.Archive{}
	if err := json.Unmarshal(v[k:k+int(n)], a); err != nil {
		return scanner.Entry{}, fmt.Errorf("%w: %v", errBadEntry, err)
	}
	e, err := decodeEntry(v[k+int(n):])
	e.Archive = a
	return e, err
}

// Member implements scanner.State.
func (s *State) Member(archive, path string) (scanner.Entry, bool) {
	var e scanner.Entry
	ok := false
	s.db.View(func(tx *store.Tx) error {
		if v := tx.Bucket(bucketMember).Get(memberKey(archive, path)); v != nil {
			var err error
			e, err = decodeMember(v)
			ok = err == nil
		}
		return nil
	})
	return e, ok
}

// Members implements scanner.State.
func (s *State) Members(archive string, fn func(path string, e *scanner.Entry)) error {
	return s.scan(bucketMember, archive, decodeMember, fn)
}

// scan calls fn for each entry of bucket under the key prefix p 0x00, with
// the rest of its key, decoded by decode.
func (s *State) scan(bucket []byte, p string, decode func([]byte) (scanner.Entry, error), fn func(string, *scanner.Entry)) error {
	prefix := append([]byte(p), 0)
	return s.db.View(func(tx *store.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		n := 0
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e, err := decode(v)
			if err != nil {
				return fmt.Errorf("scan state %s %q: %w", bucket, k, err)
			}
			fn(string(k[len(prefix):]), &e)
			if n++; n%dropEvery == 0 {
				tx.DropPages()
			}
		}
		return nil
	})
}

// dropEvery is how many entries a scan of the state reads between two
// unmappings of the pages it went through (store.Tx.DropPages): the
// members of an archive of 100,000 would map 35 MiB of the file; a
// directory's few are not worth the system call.
const dropEvery = 4096

func fileKey(path string) []byte {
	dir, name := filepath.Split(path)
	if len(dir) > 1 {
		dir = dir[:len(dir)-1]
	}
	k := make([]byte, 0, len(path)+1)
	k = append(k, dir...)
	k = append(k, 0)
	return append(k, name...)
}

func inodeKey(dev, ino uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, dev), ino)
}

func (s *State) put(tx *store.Tx, c *counts, f *events.File) error {
	if f.IsMember() {
		return s.putMember(tx, f)
	}
	path := string(f.Path)
	k := fileKey(path)
	files := tx.Bucket(bucketFiles)
	if old := files.Get(k); old == nil {
		c.add(tx, k[:bytes.IndexByte(k, 0)], 1)
	} else if oe, err := decodeEntry(old); err == nil && (oe.Inode != f.Inode || oe.Device != f.Device) {
		dropInode(tx, oe.Device, oe.Inode, path)
	}
	if err := files.Put(k, encodeEntry(scanner.EntryOf(f))); err != nil {
		return err
	}
	if f.Target == "" && f.Inode != 0 {
		return tx.Bucket(bucketInodes).Put(inodeKey(f.Device, f.Inode), []byte(path))
	}
	return nil
}

func (s *State) remove(tx *store.Tx, c *counts, path string) error {
	k := fileKey(path)
	files := tx.Bucket(bucketFiles)
	old := files.Get(k)
	if old == nil {
		if strings.Contains(path, events.MemberSep) {
			return s.removeMember(tx, path)
		}
		return nil
	}
	if oe, err := decodeEntry(old); err == nil {
		dropInode(tx, oe.Device, oe.Inode, path)
	}
	c.add(tx, k[:bytes.IndexByte(k, 0)], -1)
	return files.Delete(k)
}

// dropInode removes the inode entry if it still names path (another hard
// link may have taken it since).
func dropInode(tx *store.Tx, dev, ino uint64, path string) {
	b := tx.Bucket(bucketInodes)
	k := inodeKey(dev, ino)
	if string(b.Get(k)) == path {
		b.Delete(k)
	}
}

func addDirCount(tx *store.Tx, dir []byte, delta int64) error {
	b := tx.Bucket(bucketDirs)
	var n int64
	if v := b.Get(dir); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n <= 0 {
		return b.Delete(dir)
	}
	return b.Put(append([]byte(nil), dir...), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// Dir implements scanner.State. Entries come without hashes.
func (s *State) Dir(dir string, fn func(name string, e *scanner.Entry)) error {
	return s.scan(bucketFiles, dir, decodeMeta, fn)
}

// Get implements scanner.State.
func (s *State) Get(path string) (scanner.Entry, bool) {
	var e scanner.Entry
	ok := false
	s.db.View(func(tx *store.Tx) error {
		if v := tx.Bucket(bucketFiles).Get(fileKey(path)); v != nil {
			var err error
			e, err = decodeEntry(v)
			ok = err == nil
		}
		return nil
	})
	return e, ok
}

// Dirs implements scanner.State.
func (s *State) Dirs(root string, fn func(dir string) error) error {
	return s.db.View(func(tx *store.Tx) error {
		c := tx.Bucket(bucketDirs).Cursor()
		sub := []byte(root + "/")
		if root == "/" {
			sub = []byte("/")
		}
		if k, _ := c.Seek([]byte(root)); k != nil && string(k) == root {
			if err := fn(root); err != nil {
				return err
			}
		}
		for k, _ := c.Seek(sub); k != nil && bytes.HasPrefix(k, sub); k, _ = c.Next() {
			if err := fn(string(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Inode implements scanner.State. An inode number of 0 is unknown (a file
// system that reports none): it names no file, so that files of such a
// file system are never taken for moves or hard links of each other, as
// the duplicates model never takes them for links.
func (s *State) Inode(dev, ino uint64) (string, scanner.Entry, bool) {
	var path string
	var e scanner.Entry
	var ok bool
	if ino == 0 {
		return path, e, ok
	}
	s.db.View(func(tx *store.Tx) error {
		p := tx.Bucket(bucketInodes).Get(inodeKey(dev, ino))
		if p == nil {
			return nil
		}
		v := tx.Bucket(bucketFiles).Get(fileKey(string(p)))
		if v == nil {
			return nil
		}
		var err error
		if e, err = decodeEntry(v); err == nil {
			path, ok = string(p), true
		}
		return nil
	})
	return path, e, ok
}

// Len returns the number of recorded paths: a count kept as they change,
// so it reads one key.
func (s *State) Len() int {
	n := 0
	s.db.View(func(tx *store.Tx) error { n = tx.Count(bucketFiles); return nil })
	return n
}

// The entry encoding: uvarint size, mode, varint mtime, ctime, uvarint
// inode, device, varint btime, uvarint target length and bytes, then one flag byte whose bit i says digest i
// follows, in the order md5 (16 raw bytes), sha1 (20), sha256 (32),
// blake3 (32).

func encodeEntry(e scanner.Entry) []byte {
	b := make([]byte, 0, 64+len(e.Target)+100)
	b = binary.AppendUvarint(b, uint64(e.Size))
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendVarint(b, e.MTime)
	b = binary.AppendVarint(b, e.CTime)
	b = binary.AppendUvarint(b, e.Inode)
	b = binary.AppendUvarint(b, e.Device)
	b = binary.AppendVarint(b, e.BTime)
	b = binary.AppendUvarint(b, uint64(len(e.Target)))
	b = append(b, e.Target...)
	flagAt := len(b)
	b = append(b, 0)
	for i, h := range []string{e.Hashes.MD5, e.Hashes.SHA1, e.Hashes.SHA256, e.Hashes.BLAKE3} {
		if raw, err := hex.DecodeString(h); err == nil && len(raw) > 0 {
			b[flagAt] |= 1 << i
			b = append(b, raw...)
		}
	}
	return b
}

var errBadEntry = errors.New("bad scan state entry")

// decodeEntry decodes a whole entry, hashes included.
func decodeEntry(b []byte) (scanner.Entry, error) {
	e, rest, err := decodeMetaRest(b)
	if err != nil {
		return e, err
	}
	b = rest
	flags := b[0]
	b = b[1:]
	e.Digests = scanner.Digests(flags & 0x0f)
	for i, dst := range []*string{&e.Hashes.MD5, &e.Hashes.SHA1, &e.Hashes.SHA256, &e.Hashes.BLAKE3} {
		if flags&(1<<i) == 0 {
			continue
		}
		n := []int{16, 20, 32, 32}[i]
		if len(b) < n {
			return e, errBadEntry
		}
		*dst = hex.EncodeToString(b[:n])
		b = b[n:]
	}
	return e, nil
}

// decodeMeta decodes an entry without its hashes, but with the set of
// digests it has (the flag byte's bits are scanner.Digests).
func decodeMeta(b []byte) (scanner.Entry, error) {
	e, rest, err := decodeMetaRest(b)
	if err == nil {
		e.Digests = scanner.Digests(rest[0] & 0x0f)
	}
	return e, err
}

// decodeMetaRest decodes the metadata and returns the bytes from the
// digest flags on.
func decodeMetaRest(b []byte) (scanner.Entry, []byte, error) {
	var e scanner.Entry
	var vals [8]uint64
	for i := range vals {
		var n int
		if i == 2 || i == 3 || i == 6 { // the times
			var v int64
			v, n = binary.Varint(b)
			vals[i] = uint64(v)
		} else {
			vals[i], n = binary.Uvarint(b)
		}
		if n <= 0 {
			return e, nil, errBadEntry
		}
		b = b[n:]
	}
	e.Size, e.Mode, e.MTime, e.CTime = int64(vals[0]), uint32(vals[1]), int64(vals[2]), int64(vals[3])
	e.Inode, e.Device, e.BTime = vals[4], vals[5], int64(vals[6])
	n := vals[7]
	if uint64(len(b)) < n+1 {
		return e, nil, errBadEntry
	}
	if n > 0 {
		e.Target = string(b[:n])
	}
	return e, b[n:], nil
}

// Writer applies a scan's own events to the state as the log acknowledges
// them, so the next scan need not read them back from the log. Applying is
// idempotent: if the scan fails before Commit, the checkpoint stays where it
// was and the next CatchUp applies the same events again from the log.
type Writer struct {
	s    *State
	ch   chan []events.Event
	buf  []events.Event
	last uint64
	done chan error
}

// NewWriter starts a Writer; call it after CatchUp. Add and Commit must be
// called from one goroutine.
func (s *State) NewWriter() *Writer {
	w := &Writer{s: s, ch: make(chan []events.Event, 4), done: make(chan error, 1)}
	go func() {
		var err error
		for batch := range w.ch {
			if err != nil {
				continue
			}
			err = s.db.Update(func(tx *store.Tx) error {
				denser(tx)
				var c counts
				for _, e := range batch {
					if err := s.apply(tx, &c, e); err != nil {
						return err
					}
				}
				return c.flush(tx)
			})
		}
		w.done <- err
	}()
	return w
}

// Add records one acknowledged event of this machine stored at seq.
func (w *Writer) Add(seq uint64, e events.Event) {
	if e.Machine != w.s.Machine {
		return
	}
	w.last = max(w.last, seq)
	w.buf = append(w.buf, e)
	if len(w.buf) == 4096 {
		w.ch <- w.buf
		w.buf = make([]events.Event, 0, 4096)
	}
}

// Commit applies what is buffered and, when ok, moves the checkpoint to the
// last sequence added: every event of this machine up to it is applied,
// given that the scan lease kept other writers of this machine out. With ok
// false it only applies.
func (w *Writer) Commit(ok bool) error {
	if len(w.buf) > 0 {
		w.ch <- w.buf
	}
	close(w.ch)
	if err := <-w.done; err != nil {
		return fmt.Errorf("scan state: %w", err)
	}
	if !ok || w.last == 0 {
		return nil
	}
	return w.s.db.Update(func(tx *store.Tx) error {
		if cp := tx.Checkpoint(); cp.Seq >= w.last {
			return nil
		}
		return tx.SetCheckpoint(store.Checkpoint{Seq: w.last, StreamCreated: w.s.created, ModelVersion: scanStateVersion})
	})
}
