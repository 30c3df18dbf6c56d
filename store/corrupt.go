package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Damage. bbolt reads its file through a memory map and trusts it: a file
// cut short is a SIGBUS at the first read past its end, which kills the
// process and everything in it (the embedded NATS server too), and an
// overwritten page makes bbolt panic or read garbage. So:
//
//   - Open compares the file with its meta pages before mapping it (read
//     with pread, not through the map): the size must hold every page up
//     to the high water mark. It then checks the root page of each
//     top-level bucket (its page header names its own id and says branch
//     or leaf) and walks down to the first and last key. That reads a few
//     pages per bucket: well under a millisecond whatever the file's size.
//   - Every transaction runs with debug.SetPanicOnFault, so a fault on the
//     map becomes a panic in that goroutine, and a recover that turns a
//     fault, or a panic raised inside bbolt, into ErrCorrupt. A panic
//     raised by the caller's own code is passed on: that is a bug, not
//     damage.
//   - Check runs bbolt's full page check (tx.Check): every page, on demand.

// bbolt's on-disk layout (go.etcd.io/bbolt/internal/common): a page header
// of id uint64, flags uint16, count uint16, overflow uint32; a meta page
// holds after it magic, version, page size, flags (uint32 each), the root
// bucket (root pgid, sequence), the freelist pgid, the high water mark
// pgid, the txid and an FNV-64a checksum of everything before it, in the
// machine's byte order.
const (
	pageHeaderSize = 16
	metaSize       = 64
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	branchPage     = 0x01
	leafPage       = 0x02
)

// meta is the part of a bbolt meta page the checks use.
type meta struct {
	pageSize uint64
	root     uint64
	freelist uint64
	hwm      uint64 // pages 0 to hwm-1 exist
	txid     uint64
}

// readMeta reads the meta page at off; ok is false when it is not a valid
// one (bbolt then uses the other).
func readMeta(f *os.File, off int64) (m meta, ok bool) {
	b := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(b, off); err != nil {
		return m, false
	}
	b = b[pageHeaderSize:]
	le := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[:56])
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion || le.Uint64(b[56:]) != h.Sum64() {
		return m, false
	}
	m = meta{pageSize: uint64(le.Uint32(b[8:])), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]), hwm: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	return m, m.pageSize >= 512 && m.pageSize <= 1<<20
}

// checkFile compares the file at path with its meta pages, without mapping
// it. A missing or empty file (bbolt creates it) and one with no valid
// meta page (bbolt refuses it) pass: Open reports those.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	m0, ok0 := readMeta(f, 0)
	ps := int64(os.Getpagesize())
	if ok0 {
		ps = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, ps)
	m := m0
	switch {
	case !ok0 && !ok1:
		return nil
	case !ok0 || ok1 && m1.txid > m0.txid:
		m = m1
	}
	size := uint64(fi.Size())
	if need := m.hwm * m.pageSize; size < need {
		return fmt.Errorf("%w: %s is %d bytes, its meta page says %d (%d pages of %d): truncated", ErrCorrupt, path, size, need, m.hwm, m.pageSize)
	}
	if m.root >= m.hwm || m.freelist >= m.hwm && m.freelist != ^uint64(0) {
		return fmt.Errorf("%w: %s: meta page points past the end of the file (root %d, freelist %d, %d pages)", ErrCorrupt, path, m.root, m.freelist, m.hwm)
	}
	if err := checkPageHeader(f, m.root, m.pageSize); err != nil {
		return fmt.Errorf("%w: %s: root bucket: %v", ErrCorrupt, path, err)
	}
	return nil
}

// checkPageHeader reads page id's header with pread and checks that it is
// a branch or leaf page that knows its own id.
func checkPageHeader(f *os.File, id, pageSize uint64) error {
	b := make([]byte, pageHeaderSize)
	if _, err := f.ReadAt(b, int64(id*pageSize)); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("page %d is past the end of the file", id)
		}
		return fmt.Errorf("page %d: %v", id, err)
	}
	got, flags := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint16(b[8:])
	if got != id || flags != branchPage && flags != leafPage {
		return fmt.Errorf("page %d: header says page %d with flags %#x, want a branch or leaf page", id, got, flags)
	}
	return nil
}

// checkBuckets checks each top-level bucket's root page header and walks
// to its first and last keys. It runs in a guarded transaction.
func checkBuckets(db *bolt.DB, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	pageSize := uint64(db.Info().PageSize)
	return db.View(func(tx *bolt.Tx) error {
		hwm := uint64(tx.Size()) / pageSize
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			root := uint64(b.Root())
			if root == 0 { // an inline bucket, inside its parent's page
				return nil
			}
			if root >= hwm {
				return fmt.Errorf("%w: %s: bucket %q: root page %d past the last page %d", ErrCorrupt, path, name, root, hwm-1)
			}
			if err := checkPageHeader(f, root, pageSize); err != nil {
				return fmt.Errorf("%w: %s: bucket %q: %v", ErrCorrupt, path, name, err)
			}
			c := b.Cursor()
			c.First()
			c.Last()
			return nil
		})
	})
}

// guard runs fn, one use of the file, with faults turned into ErrCorrupt
// (see Damage above).
func guard(path string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		p := recover()
		if p == nil {
			return
		}
		if f, ok := p.(interface{ Addr() uintptr }); ok {
			err = fmt.Errorf("%w: %s: fault reading the file at address %#x (truncated while open?): %v", ErrCorrupt, path, f.Addr(), p)
			return
		}
		if raisedInBolt() {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
			return
		}
		panic(p)
	}()
	return fn()
}

// raisedInBolt reports whether the panic being recovered was raised by
// bbolt's code: the first frame below runtime.gopanic (and the runtime's
// own frames, for a runtime error) is in bbolt. Call it from the deferred
// function that recovers.
func raisedInBolt() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && strings.HasPrefix(f.Function, "runtime."):
		case panicking:
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt")
		}
		if !more {
			return false
		}
	}
}
