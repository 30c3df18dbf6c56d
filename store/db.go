package store

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DB is a bbolt file of read models. Set the fields, then Open.
//
// Readers run concurrently with one writer (bbolt's MVCC); a View sees the
// state of the last committed Update, never half of one.
type DB struct {
	Path string
	// ReadOnly opens the file shared, for queries while no writer runs.
	ReadOnly bool
	// NoSync skips fsync on commit, for a file that can be made again: a
	// rebuild into a new file, the scan state. Never for the live index.
	// It skips, too, the fsync bbolt makes each time the file grows by 16
	// MiB, which writes out every page dirtied since the last: 24 of them
	// took 2.7 s of a 25 s rebuild of a million events.
	//
	// Close syncs the file. A process killed before that leaves its writes
	// whole in the page cache, but a machine that loses power may keep a
	// meta page and lose pages it points to. So while open, a NoSync file
	// holds the boot it is written in, and Open refuses one that an
	// earlier boot left so (ErrCorrupt): its owner makes it again.
	NoSync bool
	// SyncFreelist writes bbolt's freelist on every commit. Without it
	// commits are cheaper but Open rebuilds the freelist by reading the
	// whole file: choose it for files opened often (the scan state is
	// opened by every scan).
	SyncFreelist bool
	// LockTimeout is how long Open waits for another process's lock on the
	// file before returning ErrLocked. Default 1 second.
	LockTimeout time.Duration
	// DropPages unmaps the file's pages from this process after every
	// committed Update (Tx.DropPages). bbolt reads the file through a
	// memory map, and every page a transaction touched stays mapped and
	// counts in the process's resident memory: at 100,000 files, 35-40 MiB for
	// the scan state and as much for index.db, a fifth of a standalone
	// scan's peak. For a writer whose memory matters more than the minor
	// faults of reading pages again (the scan state, a standalone scan's
	// index update).
	DropPages bool

	db *bolt.DB
}

// Open opens or creates the file.
func (d *DB) Open() error {
	timeout := d.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	if err := checkFile(d.Path); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	var db *bolt.DB
	err := guard(d.Path, func() error {
		var err error
		db, err = bolt.Open(d.Path, 0o600, &bolt.Options{
			Timeout:         timeout,
			ReadOnly:        d.ReadOnly,
			NoSync:          d.NoSync,
			NoGrowSync:      d.NoSync,
			NoFreelistSync:  !d.SyncFreelist,
			FreelistType:    bolt.FreelistMapType,
			InitialMmapSize: 256 << 20,
		})
		return err
	})
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == d.Path {
		err = pe.Err // bbolt's error already names the path: say it once
	}
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("open %s: %w (another process has it open)", d.Path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum):
		return fmt.Errorf("open %s: %w: %v", d.Path, ErrCorrupt, err)
	case err != nil:
		return fmt.Errorf("open %s: %w", d.Path, err)
	}
	if err := guard(d.Path, func() error { return checkBuckets(db, d.Path) }); err != nil {
		db.Close()
		return fmt.Errorf("open: %w", err)
	}
	d.db = db
	if d.NoSync && !d.ReadOnly {
		if err := d.markUnsynced(); err != nil {
			db.Close()
			d.db = nil
			return fmt.Errorf("open: %w", err)
		}
	}
	return nil
}

// Close closes the file; a NoSync file is synced first.
func (d *DB) Close() error {
	if d.db == nil {
		return nil
	}
	var err error
	if d.NoSync && !d.ReadOnly {
		err = d.markSynced()
	}
	if cerr := d.db.Close(); err == nil {
		err = cerr
	}
	d.db = nil
	return err
}

// keyUnsyncedBoot, in the meta bucket, holds the boot a NoSync file is
// open in (see NoSync).
var keyUnsyncedBoot = []byte("unsynced_boot")

// bootID identifies this boot of the machine (Linux's boot_id); "" where
// it cannot be read, where a NoSync file that was not closed is never
// opened again.
var bootID = func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// markUnsynced records the boot a NoSync file is written in, unless an
// earlier boot left it unsynced.
func (d *DB) markUnsynced() error {
	boot := bootID()
	return d.Update(func(tx *Tx) error {
		b, err := tx.tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if left := b.Get(keyUnsyncedBoot); left != nil && (boot == "" || string(left) != boot) {
			return fmt.Errorf("%s: %w: it was written without fsync and not synced before the machine restarted, so some of its pages may not be on disk", d.Path, ErrCorrupt)
		}
		return b.Put(keyUnsyncedBoot, []byte(cmp.Or(boot, "unknown")))
	})
}

// markSynced removes the mark in a commit that fsyncs the file, the pages
// written before it included, before its meta page is written.
func (d *DB) markSynced() error {
	d.db.NoSync = false
	return d.Update(func(tx *Tx) error {
		if b := tx.tx.Bucket(metaBucket); b != nil {
			return b.Delete(keyUnsyncedBoot)
		}
		return nil
	})
}

// Sync fsyncs the file; after a NoSync build it makes the data durable.
func (d *DB) Sync() error { return d.db.Sync() }

// Size returns the file's size in bytes.
func (d *DB) Size() int64 {
	fi, err := os.Stat(d.Path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Used returns the bytes of the file in use: up to bbolt's high water
// mark. The file is larger by the room bbolt keeps to grow into (up to 16
// MiB).
func (d *DB) Used() int64 {
	var n int64
	if d.db != nil {
		guard(d.Path, func() error {
			return d.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
		})
	}
	return n
}

// Update runs fn in a read-write transaction, committed when fn returns nil
// and rolled back otherwise. Only one Update runs at a time.
func (d *DB) Update(fn func(*Tx) error) error {
	if d.db == nil {
		return ErrClosed
	}
	err := guard(d.Path, func() error {
		return d.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
	})
	if err == nil && d.DropPages {
		d.dropPages()
	}
	return err
}

// dropPages unmaps the pages of the file's memory map from this process
// (Tx.DropPages) in a read transaction of its own.
func (d *DB) dropPages() {
	_ = d.db.View(func(tx *bolt.Tx) error { (&Tx{tx: tx}).DropPages(); return nil })
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(*Tx) error) error {
	if d.db == nil {
		return ErrClosed
	}
	return guard(d.Path, func() error {
		return d.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
	})
}

// Check verifies the file's consistency (bbolt's page checks: every page
// reachable once, keys in order, nothing past the end), returning the first
// problem found, as ErrCorrupt. It reads the whole file. Tests call it at
// teardown; `indexer-project check` on demand.
func (d *DB) Check() error {
	if d.db == nil {
		return ErrClosed
	}
	var first error
	err := guard(d.Path, func() error {
		return d.db.View(func(tx *bolt.Tx) error {
			// Check reads the pages in a goroutine of its own, which
			// guard does not cover; the quick check at Open has seen
			// the file's size and bucket roots.
			for err := range tx.Check() { // drain: Check's goroutine sends them all
				if first == nil {
					first = err
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if first != nil {
		return fmt.Errorf("check %s: %w: %v", d.Path, ErrCorrupt, first)
	}
	return nil
}

// Tx is a transaction. Buckets are created on first use in a read-write
// transaction; in a read-only one a missing bucket reads as empty.
type Tx struct {
	tx *bolt.Tx
}

// DropPages unmaps the pages of the file's memory map from this process's
// resident memory (madvise MADV_DONTNEED), for a reader that goes through
// much of the file (see DB.DropPages). bbolt maps the file read-only and
// shared, so nothing is lost, also of the keys and values tx gave: the
// pages stay in the page cache and a later read maps them again. A
// transaction holds bbolt's map in place (a commit that grows the file
// remaps it only once no transaction is open), and the map spans at least
// the file's used part, which is what is unmapped. Where madvise fails
// (another platform) the pages stay mapped, as they do in a writable
// transaction (which may remap the file itself).
func (tx *Tx) DropPages() {
	if tx.tx.Writable() {
		return
	}
	page := uint64(os.Getpagesize())
	if n := uint64(tx.tx.Size()) / page * page; n > 0 {
		_ = madviseDontNeed(tx.tx.DB().Info().Data, n)
	}
}

// Writable reports whether tx may write.
func (tx *Tx) Writable() bool { return tx.tx.Writable() }

// Bucket returns the named top-level bucket.
func (tx *Tx) Bucket(name []byte) *Bucket {
	b := tx.tx.Bucket(name)
	if b == nil && tx.tx.Writable() {
		var err error
		if b, err = tx.tx.CreateBucket(name); err != nil {
			panic(fmt.Sprintf("store: create bucket %q: %v", name, err)) // only on an invalid name
		}
	}
	return &Bucket{b: b}
}

// DeleteBucket removes a bucket and everything in it, and its count (see
// Count).
func (tx *Tx) DeleteBucket(name []byte) error {
	err := tx.tx.DeleteBucket(name)
	if errors.Is(err, bolterrors.ErrBucketNotFound) {
		err = nil
	}
	if err != nil {
		return err
	}
	if m := tx.tx.Bucket(metaBucket); m != nil {
		return m.Delete(countKey(name))
	}
	return nil
}

// Counts. Bucket.Len reads every page of a bucket; a bucket whose size is
// asked often (for a status shown every second) keeps a count instead, in
// the meta bucket, changed by AddCount in the transaction that adds or
// removes its keys.

func countKey(name []byte) []byte { return append([]byte("count/"), name...) }

// Count returns the number of keys of the named bucket, as kept by
// AddCount. A file written before the bucket was counted has no count:
// Count then counts the keys, once, and in a read-write transaction stores
// the result, so later calls read one key.
func (tx *Tx) Count(name []byte) int {
	m := tx.Bucket(metaBucket)
	if v := m.Get(countKey(name)); len(v) == 8 {
		return int(binary.BigEndian.Uint64(v))
	}
	n := tx.Bucket(name).countKeys()
	if tx.tx.Writable() {
		// Only fails on a key or value too large, which this is not.
		m.Put(countKey(name), binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
	return n
}

// AddCount adds delta to the named bucket's count (see Count). Call it for
// each key added (1) or removed (-1), before the change: a bucket not
// counted yet is counted first, as it stands.
func (tx *Tx) AddCount(name []byte, delta int) error {
	n := max(tx.Count(name)+delta, 0)
	if err := tx.Bucket(metaBucket).Put(countKey(name), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return fmt.Errorf("count %s: %w", name, err)
	}
	return nil
}

// Bucket is a sorted key/value space. Keys and values returned are valid only
// during the transaction; copy them to keep them.
type Bucket struct {
	b *bolt.Bucket // nil: a missing bucket in a read-only transaction
}

// Get returns the value of key, or nil.
func (b *Bucket) Get(key []byte) []byte {
	if b.b == nil {
		return nil
	}
	return b.b.Get(key)
}

// Put sets key to value.
func (b *Bucket) Put(key, value []byte) error { return b.b.Put(key, value) }

// Delete removes key; a missing key is not an error.
func (b *Bucket) Delete(key []byte) error { return b.b.Delete(key) }

// Len returns the number of keys. It reads every page of the bucket: for a
// count asked often, keep one (Tx.Count).
func (b *Bucket) Len() int {
	if b.b == nil {
		return 0
	}
	return b.b.Stats().KeyN
}

// countKeys counts the keys with a cursor, which sees the changes of the
// transaction not yet written to pages, unlike Stats.
func (b *Bucket) countKeys() int {
	if b.b == nil {
		return 0
	}
	n := 0
	c := b.b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// SetFillPercent tunes page splits: 1.0 packs pages full, for keys appended
// in order.
func (b *Bucket) SetFillPercent(f float64) {
	if b.b != nil {
		b.b.FillPercent = f
	}
}

// Cursor returns a cursor over the bucket in key order.
func (b *Bucket) Cursor() *Cursor {
	if b.b == nil {
		return &Cursor{}
	}
	return &Cursor{c: b.b.Cursor()}
}

// Cursor walks a bucket. Each move returns the key and value, or a nil key
// past either end.
type Cursor struct{ c *bolt.Cursor }

func (c *Cursor) First() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.First()
}

func (c *Cursor) Last() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Last()
}

func (c *Cursor) Next() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Next()
}

func (c *Cursor) Prev() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Prev()
}

// Seek moves to key, or the first key after it.
func (c *Cursor) Seek(key []byte) ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Seek(key)
}

// Delete removes the current key.
func (c *Cursor) Delete() error { return c.c.Delete() }

// The meta bucket holds what the projector needs to resume.
var (
	metaBucket       = []byte("meta")
	keyCheckpoint    = []byte("checkpoint")
	keyStreamCreated = []byte("stream_created")
	keyModelVersion  = []byte("model_version")
)

// Checkpoint is the projector's position: every event up to Seq is applied,
// from the stream incarnation created at StreamCreated.
type Checkpoint struct {
	Seq           uint64
	StreamCreated time.Time
	ModelVersion  uint64
}

// Checkpoint reads the file's checkpoint in a read-only transaction; a new
// file has the zero Checkpoint.
func (d *DB) Checkpoint() (Checkpoint, error) {
	var cp Checkpoint
	err := d.View(func(tx *Tx) error { cp = tx.Checkpoint(); return nil })
	return cp, err
}

// Stale says why a file at checkpoint c, of layout version (the version
// this program writes), cannot continue on the stream that info describes,
// or "" when it can. A new file (Seq 0) always can. The file must then be
// rebuilt from the log.
func (c Checkpoint) Stale(info StreamInfo, version uint64) string {
	switch {
	case c.Seq == 0:
		return ""
	case c.ModelVersion != version:
		return fmt.Sprintf("the file has layout version %d, this program writes version %d", c.ModelVersion, version)
	case !c.StreamCreated.Equal(info.Created):
		return fmt.Sprintf("the stream was recreated: the file was built from the stream created %s, the log now is the stream created %s",
			c.StreamCreated.Format(time.RFC3339Nano), info.Created.UTC().Format(time.RFC3339Nano))
	case info.LastSeq < c.Seq:
		return fmt.Sprintf("the log was truncated: it ends at seq %d but the file is at seq %d (events acknowledged before a power loss were lost)", info.LastSeq, c.Seq)
	}
	return ""
}

// Checkpoint reads the checkpoint; a new file has the zero Checkpoint.
func (tx *Tx) Checkpoint() Checkpoint {
	m := tx.Bucket(metaBucket)
	var c Checkpoint
	if v := m.Get(keyCheckpoint); len(v) == 8 {
		c.Seq = binary.BigEndian.Uint64(v)
	}
	if v := m.Get(keyStreamCreated); len(v) == 8 {
		c.StreamCreated = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
	}
	if v := m.Get(keyModelVersion); len(v) == 8 {
		c.ModelVersion = binary.BigEndian.Uint64(v)
	}
	return c
}

// SetCheckpoint writes the checkpoint in the same transaction as the read
// models it describes.
func (tx *Tx) SetCheckpoint(c Checkpoint) error {
	m := tx.Bucket(metaBucket)
	if err := m.Put(keyCheckpoint, binary.BigEndian.AppendUint64(nil, c.Seq)); err != nil {
		return err
	}
	if err := m.Put(keyStreamCreated, binary.BigEndian.AppendUint64(nil, uint64(c.StreamCreated.UnixNano()))); err != nil {
		return err
	}
	return m.Put(keyModelVersion, binary.BigEndian.AppendUint64(nil, c.ModelVersion))
}
