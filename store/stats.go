package store

// BucketStats is how a bucket uses its pages, for sizing read models.
type BucketStats struct {
	Keys         int
	LeafPages    int // including overflow pages
	LeafInuse    int // bytes of leaf pages holding keys, values and headers
	LeafAlloc    int // bytes of leaf pages
	BranchPages  int
	BranchAlloc  int
	OverflowPage int
}

// Stats walks the bucket's pages; it reads every page, so it costs as much
// as a scan.
func (b *Bucket) Stats() BucketStats {
	if b.b == nil {
		return BucketStats{}
	}
	s := b.b.Stats()
	return BucketStats{
		Keys: s.KeyN, LeafPages: s.LeafPageN + s.LeafOverflowN, LeafInuse: s.LeafInuse, LeafAlloc: s.LeafAlloc,
		BranchPages: s.BranchPageN + s.BranchOverflowN, BranchAlloc: s.BranchAlloc, OverflowPage: s.LeafOverflowN,
	}
}
