package store

import bolt "go.etcd.io/bbolt"

// BucketRoot returns the page id of the named bucket's root, for tests
// that damage it.
func (d *DB) BucketRoot(name []byte) uint64 {
	var root uint64
	d.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(name); b != nil {
			root = uint64(b.Root())
		}
		return nil
	})
	return root
}
