package projections

import (
	"encoding/binary"
	"math/bits"

	"github.com/indexer/indexer/store"
)

// shaFilter is a Bloom filter of the sha256 digests that have by-hash keys
// in one index file. Content never seen before (most files, as hashes are
// random) then costs no B-tree lookup in dupes or by-hash: at a million
// files those are cold, random page reads, the largest cost of a batch.
//
// It may answer yes wrongly (a lookup follows, which answers exactly), never
// no wrongly: digests are added when a batch adds them, before it commits,
// and never removed, so a rolled-back batch or a removed file only leaves
// false positives. It belongs to one file: a swapped-in index starts a new
// filter, loaded from the file's by-hash model on its first batch.
type shaFilter struct {
	bits   []uint64
	mask   uint64 // len(bits)*64 - 1
	n      int    // digests added since loading, counting repeats
	loaded bool
}

// shaFilterBitsPerKey keeps false positives near 0.5% with three probes;
// the filter is reloaded at twice the size once it holds half as many bits
// per key.
const shaFilterBitsPerKey = 32

// prepare loads the filter from b on first use and whenever it has filled
// up, so it stays sized to the index.
func (f *shaFilter) prepare(b *store.Bucket) {
	if f.loaded && f.n*shaFilterBitsPerKey/2 <= len(f.bits)*64 {
		return
	}
	distinct := 0
	var last [32]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) >= 32 && [32]byte(k[:32]) != last {
			last = [32]byte(k[:32])
			distinct++
		}
	}
	want := uint64(max(distinct, f.n, 1<<14)) * shaFilterBitsPerKey
	m := uint64(1) << bits.Len64(want-1)
	f.bits, f.mask, f.n, f.loaded = make([]uint64, m/64), m-1, 0, true
	last = [32]byte{}
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) >= 32 && [32]byte(k[:32]) != last {
			last = [32]byte(k[:32])
			f.add(&last)
		}
	}
}

func (f *shaFilter) probes(sha *[32]byte) [3]uint64 {
	return [3]uint64{
		binary.LittleEndian.Uint64(sha[0:]) & f.mask,
		binary.LittleEndian.Uint64(sha[8:]) & f.mask,
		binary.LittleEndian.Uint64(sha[16:]) & f.mask,
	}
}

func (f *shaFilter) add(sha *[32]byte) {
	for _, p := range f.probes(sha) {
		f.bits[p/64] |= 1 << (p % 64)
	}
	f.n++
}

// mayHave is false only if no by-hash key holds sha.
func (f *shaFilter) mayHave(sha *[32]byte) bool {
	if f == nil || !f.loaded {
		return true
	}
	for _, p := range f.probes(sha) {
		if f.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}
