package projections

import (
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/store"
)

// The filter never says no to a digest that has by-hash keys, whether it
// was loaded from the file or added since, across its reloads as it grows.
func TestShaFilterNoFalseNegatives(t *testing.T) {
	t.Parallel()
	db := MustOpenDB(t, filepath.Join(t.TempDir(), "index.db"))
	digest := func(i int) [32]byte { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }
	const stored, added = 3000, 50000
	err := db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketByHash)
		for i := range stored {
			sha := digest(i)
			for link := range 2 { // two keys of one digest count once
				if err := b.Put(append(sha[:], 1, 0, byte(link), byte(i)), []byte{}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var f shaFilter
	if !f.mayHave(&[32]byte{}) {
		t.Fatal("a filter not loaded yet must answer maybe")
	}
	db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketByHash)
		f.prepare(b)
		for i := range stored {
			if sha := digest(i); !f.mayHave(&sha) {
				t.Fatalf("stored digest %d: mayHave false", i)
			}
		}
		for i := stored; i < stored+added; i++ {
			sha := digest(i)
			f.add(&sha)
		}
		for i := range stored + added {
			if sha := digest(i); !f.mayHave(&sha) {
				t.Fatalf("digest %d: mayHave false", i)
			}
		}
		return nil
	})
	absent := 0
	for i := stored + added; i < stored+added+10000; i++ {
		if sha := digest(i); !f.mayHave(&sha) {
			absent++
		}
	}
	if absent < 9000 {
		t.Errorf("only %d of 10000 absent digests filtered out", absent)
	}
}
