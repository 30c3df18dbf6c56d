package projections

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
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
				fc := fidCursor{keyCursor: keyCursor{c: tx.Bucket(bucketFIDs).Cursor()}}
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

// TestSortPostingsIsStable checks the radix sort against a stable
// comparison sort, on trigrams that share some bytes and not others.
func TestSortPostingsIsStable(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 100, 5000} {
		ps := make([]posting, n)
		for i := range ps {
			tri := trigram{'a', byte(rng.IntN(3)), byte(rng.IntN(256))}
			if rng.IntN(4) == 0 {
				tri[0] = 0 // a digest's pseudo-trigram
			}
			fid, remove := uint64(i)*7919%maxFileID, rng.IntN(2) == 0
			ps[i] = makePosting(tri, fid, remove)
			if p := ps[i]; p.trigram() != tri || p.fid() != fid || p.removed() != remove {
				t.Fatalf("posting %x holds %q %d %v", uint64(p), p.trigram(), p.fid(), p.removed())
			}
		}
		want := slices.Clone(ps)
		slices.SortStableFunc(want, func(a, b posting) int {
			ta, tb := a.trigram(), b.trigram()
			return bytes.Compare(ta[:], tb[:])
		})
		if got := sortPostings(slices.Clone(ps)); !slices.Equal(got, want) {
			t.Fatalf("%d postings: radix sort differs from a stable sort", n)
		}
	}
}

// TestAppendTrigramWritesWhatEditWrites: adding new ids at a list's end
// through appendTrigram leaves the same bytes as editTrigram's general path
// (decode the chunk, insert, re-encode), for runs of ids that fit the last
// chunk, overflow it, and jump by gaps of every uvarint length.
func TestAppendTrigramWritesWhatEditWrites(t *testing.T) {
	t.Parallel()
	db := MustOpenDB(t, filepath.Join(t.TempDir(), "index.db"))
	rng := rand.New(rand.NewPCG(5, 6))
	tris := []trigram{{'a', 'b', 'c'}, {'b', 'c', 'd'}, {0, 0x12, 0x30}}
	appended := 0
	err := db.Update(func(tx *store.Tx) error {
		fast, general := tx.Bucket(bucketNames), tx.Bucket(bucketNamesNew)
		next := make([]uint64, len(tris))
		for round := range 300 {
			i := rng.IntN(len(tris))
			ids := make([]uint64, 1+rng.IntN(200))
			plus := map[uint64]int8{}
			for j := range ids {
				next[i] += 1 + uint64(rng.IntN(1<<(7*rng.IntN(4))))
				ids[j] = next[i]
				plus[ids[j]] = 1
			}
			if done, err := appendTrigram(fast, fast.Cursor(), tris[i], ids); err != nil {
				return err
			} else if done {
				appended++
			} else if err := editTrigram(fast, tris[i], ids, nil); err != nil {
				return err
			}
			// A delta map makes editTrigram take its general path.
			if err := editTrigram(general, tris[i], ids, plus); err != nil {
				return err
			}
			if round%50 == 0 || round == 299 {
				if a, b := bucketBytes(fast), bucketBytes(general); a != b {
					return fmt.Errorf("round %d: the appended lists differ:\n%s\n%s", round, a, b)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if appended < 250 {
		t.Fatalf("appendTrigram applied to %d of 300 runs of new ids", appended)
	}
}

func bucketBytes(b *store.Bucket) string {
	var sb strings.Builder
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		fmt.Fprintf(&sb, "%x=%x\n", k, v)
	}
	return sb.String()
}
