package store

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize is how many bytes of keys and values CompactTo copies per
// transaction of the copy: bounded memory whatever the file's size.
const compactTxSize = 64 << 20

// CompactTo writes a compacted copy of the file to path, replacing what is
// there: every bucket, key and value that one read transaction sees, packed
// into as few pages as they need. bbolt never shrinks a file (freed pages
// are reused, not returned), so a file that once held much more than it
// does now is larger than its copy. Writers may keep committing meanwhile;
// the copy is as of the read transaction's start (its checkpoint says so).
func (d *DB) CompactTo(path string) error {
	if d.db == nil {
		return ErrClosed
	}
	os.Remove(path)
	dst, err := bolt.Open(path, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("compact %s into %s: %w", d.Path, path, err)
	}
	if err := bolt.Compact(dst, d.db, compactTxSize); err != nil {
		dst.Close()
		os.Remove(path)
		return fmt.Errorf("compact %s into %s: %w", d.Path, path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return fmt.Errorf("compact %s into %s: sync: %w", d.Path, path, err)
	}
	return dst.Close()
}
