package projections

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/store"
)

// The shaIndex names every file that holds a digest, whether it was loaded
// from the file or added since, across merges and reloads; and it knows no
// digest that no file holds.
func TestShaIndexNamesEveryHolder(t *testing.T) {
	t.Parallel()
	db := MustOpenDB(t, filepath.Join(t.TempDir(), "index.db"))
	digest := func(i int) [32]byte { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }
	const stored, added = 3000, 3 * shaIndexMerge / 2
	err := db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketFiles)
		for i := range stored {
			// Files 2i+1 and 2i+2 hold digest i: two holders each.
			for j := range 2 {
				rec := fileRec{fid: uint64(2*i + j + 1), has: hasSHA256, sha256: digest(i)}
				if err := b.Put(fileKey(1, fmt.Sprint(i, "-", j)), rec.encode()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var x shaIndex
	holders := func(i int) []uint64 {
		sha := digest(i)
		if !x.known(&sha) {
			t.Fatalf("digest %d: not known", i)
		}
		ids := x.candidates(&sha)
		slices.Sort(ids)
		return ids
	}
	db.Update(func(tx *store.Tx) error {
		x.prepare(tx)
		for i := range stored {
			if got, want := holders(i), []uint64{uint64(2*i + 1), uint64(2*i + 2)}; !slices.Equal(got, want) {
				t.Fatalf("stored digest %d: holders %v, want %v", i, got, want)
			}
		}
		// Added in batches: a batch's end merges when due.
		for i := stored; i < stored+added; i++ {
			sha := digest(i)
			x.add(&sha, uint64(10*i))
			if (i-stored)%1000 == 999 {
				x.mergeIfDue()
			}
		}
		if len(x.sorted) == 2*stored {
			t.Fatal("no merge")
		}
		// A second holder of digests now merged, and of digests still
		// recent.
		second := []int{stored, stored + 1, stored + added - 2, stored + added - 1}
		for _, i := range second {
			sha := digest(i)
			x.add(&sha, uint64(10*i+1))
		}
		for i := stored; i < stored+added; i++ {
			want := []uint64{uint64(10 * i)}
			if slices.Contains(second, i) {
				want = append(want, uint64(10*i+1))
			}
			if got := holders(i); !slices.Equal(got, want) {
				t.Fatalf("added digest %d: holders %v, want %v", i, got, want)
			}
		}
		return nil
	})
	for i := stored + added; i < stored+added+10000; i++ {
		if sha := digest(i); x.known(&sha) || len(x.candidates(&sha)) > 0 {
			t.Fatalf("digest %d, held by no file, is known", i)
		}
	}
}

// The shaIndex is read again from the file, dropping its stale entries,
// only once the files that stopped holding their content reach half of it:
// a table that only grows (a rebuild, a first scan) is never reloaded.
func TestShaIndexReloadsForRemovalsOnly(t *testing.T) {
	t.Parallel()
	db := MustOpenDB(t, filepath.Join(t.TempDir(), "index.db"))
	digest := func(i int) [32]byte { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }
	const stored, added = 1000, 5 * shaIndexMerge
	db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketFiles)
		for i := range stored {
			rec := fileRec{fid: uint64(i + 1), has: hasSHA256, sha256: digest(i)}
			if err := b.Put(fileKey(1, fmt.Sprint(i)), rec.encode()); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	var x shaIndex
	// The added digests are in no file: a reload forgets them.
	addedKnown := func() bool { sha := digest(stored + added - 1); return x.known(&sha) }
	db.View(func(tx *store.Tx) error {
		x.prepare(tx)
		for i := stored; i < stored+added; i++ {
			sha := digest(i)
			x.add(&sha, uint64(i+1))
		}
		x.prepare(tx)
		if !addedKnown() {
			t.Fatal("reloaded after adds alone")
		}
		for range (stored + added) / 2 {
			x.drop()
		}
		x.prepare(tx)
		if !addedKnown() {
			t.Fatal("reloaded before the stale entries were more than half")
		}
		x.drop()
		x.prepare(tx)
		if addedKnown() {
			t.Fatal("not reloaded once the stale entries were more than half")
		}
		if sha := digest(stored - 1); !x.known(&sha) {
			t.Fatal("reload lost a stored digest")
		}
		return nil
	})
}
