package projections

import (
	"fmt"
	"io"

	"github.com/indexer/indexer/store"
)

// printSizes writes each model's share of the file, per file of the index.
func printSizes(w io.Writer, db *store.DB, files int) {
	db.View(func(tx *store.Tx) error {
		var alloc int
		for _, name := range append([][]byte{bucketMeta}, modelBuckets...) {
			s := tx.Bucket(name).Stats()
			alloc += s.LeafAlloc + s.BranchAlloc
			fmt.Fprintf(w, "%-9s keys %8d  inuse/file %6.1f  alloc/file %6.1f  fill %3.0f%%\n", name, s.Keys,
				float64(s.LeafInuse)/float64(files), float64(s.LeafAlloc+s.BranchAlloc)/float64(files), 100*float64(s.LeafInuse)/float64(max(1, s.LeafAlloc)))
		}
		fmt.Fprintf(w, "pages in buckets: %.1f bytes/file; file %.1f bytes/file\n", float64(alloc)/float64(files), float64(db.Size())/float64(files))
		return nil
	})
}
