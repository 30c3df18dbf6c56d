package scanner

import (
	"io"

	"github.com/indexer/indexer/events"
)

// HashStream computes the given digests (names from KnownHashes) of
// everything r yields, in one pass with the scanner's buffer size, and
// returns them with the byte count. Archive members are hashed through it,
// so that a member and a file with the same bytes get the same digests
// from the same code.
func HashStream(algos []string, r io.Reader) (events.Hashes, int64, error) {
	h := newHasher(algos)
	n, err := hashReader(h, r)
	if err != nil {
		return events.Hashes{}, n, err
	}
	return h.Sums(), n, nil
}
