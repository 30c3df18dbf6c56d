package projections

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/store"
)

// TestCandidatesAgainstSets checks the posting list intersection and the
// fids cursor on lists of many chunks, dense and sparse, against plain sets.
func TestCandidatesAgainstSets(t *testing.T) {
	t.Parallel()
	db := MustOpenDB(t, filepath.Join(t.TempDir(), "index.db"))
	rng := rand.New(rand.NewPCG(1, 2))
	tris := []trigram{{'a', 'b', 'c'}, {'a', 'b', 'd'}, {'b', 'c', 'd'}, {'z', 'z', 'z'}}
	density := []int{2, 5, 40, 3} // one id in n
	sets := make([]map[uint64]bool, len(tris))
	fids := map[uint64]bool{}
	err := db.Update(func(tx *store.Tx) error {
		// Each list in both parts of the index, split at id 12,000.
		names, fb := namesOf(tx), tx.Bucket(bucketFIDs)
		for i, tr := range tris {
			sets[i] = map[uint64]bool{}
			var ids []uint64
			for id := uint64(1); id < 20_000; id++ {
				if rng.IntN(density[i]) == 0 {
					ids = append(ids, id)
					sets[i][id] = true
				}
			}
			split, _ := slices.BinarySearch(ids, 12_000)
			if err := encodeChunks(tr, ids[:split], names.main.Put); err != nil {
				return err
			}
			if err := encodeChunks(tr, ids[split:], names.recent.Put); err != nil {
				return err
			}
		}
		for id := uint64(1); id < 20_000; id++ {
			if rng.IntN(3) > 0 {
				fids[id] = true
				if err := fb.Put(be64(id), []byte{1, 'x'}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range [][]int{{0}, {0, 1}, {1, 0, 2}, {2, 3}, {0, 1, 2, 3}} {
		var qt []trigram
		var want []uint64
		for id := uint64(1); id < 20_000; id++ {
			all := true
			for _, i := range q {
				all = all && sets[i][id]
			}
			if all {
				want = append(want, id)
			}
		}
		for i := range q {
			qt = append(qt, tris[q[i]])
		}
		for _, stop := range []int{-1, 1, 250} {
			var got []uint64
			var fidsGot, fidsWant int
			err := db.View(func(tx *store.Tx) error {
				fc := fidCursor{c: tx.Bucket(bucketFIDs).Cursor()}
				return eachCandidate(namesOf(tx), qt, func(id uint64) bool {
					got = append(got, id)
					if fc.get(id) != nil {
						fidsGot++
					}
					if fids[id] {
						fidsWant++
					}
					return stop < 0 || len(got) < stop
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if stop >= 0 {
				w = want[:min(stop, len(want))]
			}
			if !slices.Equal(got, w) {
				t.Fatalf("trigrams %v stop %d: %d ids, want %d", q, stop, len(got), len(w))
			}
			if fidsGot != fidsWant {
				t.Fatalf("trigrams %v stop %d: fids found %d, want %d", q, stop, fidsGot, fidsWant)
			}
		}
	}
}
