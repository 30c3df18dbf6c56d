package projections

import (
	"fmt"
	"testing"

	"github.com/indexer/indexer/events"
)

// TestDupesTotalWithoutFilters: the total of the duplicate groups, with no
// filter or only the CLI's default minimum size of one byte (which leaves
// out the empty files' group), is what counting every group gives, on
// every page; the totals model answers it instead of a walk of every
// group's key.
func TestDupesTotalWithoutFilters(t *testing.T) {
	t.Parallel()
	log := MustOpenLog(t, MustOpenServer(t))
	g := newGen("m", 1)
	var evs []events.Event
	ino := uint64(1)
	add := func(path string, size int64, sha byte) {
		evs = append(evs, g.ev(&events.FileScanned{File: file(path, size, sha, ino)}))
		ino++
	}
	for i := range 3 { // the empty files' group
		add(fmt.Sprintf("/e/%d", i), 0, 0xe0)
	}
	for grp := range 7 { // seven groups of 2 to 4 copies
		for c := range 2 + grp%3 {
			add(fmt.Sprintf("/g%d/%d", grp, c), int64(100*(grp+1)), byte(0x10+grp))
		}
	}
	add("/alone", 5, 0x77) // held once: no group
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	waitFor(t, p, appendAll(t, log, evs...))
	ix := p.Index()
	for _, minSize := range []uint64{0, 1} {
		want := 8 - int(minSize) // 7 groups and the empty one
		for _, sort := range []string{"wasted", "size", "count"} {
			for _, asc := range []bool{false, true} {
				all, err := ix.TopDuplicateGroups(DupesQuery{Sort: sort, Asc: asc, MinSize: minSize, Limit: -1})
				if err != nil {
					t.Fatal(err)
				}
				if all.Total != want || len(all.Groups) != want {
					t.Fatalf("sort %s asc %v min size %d: %d groups, total %d; want %d", sort, asc, minSize, len(all.Groups), all.Total, want)
				}
				for _, off := range []int{0, 3, 7, 9} {
					page, err := ix.TopDuplicateGroups(DupesQuery{Sort: sort, Asc: asc, MinSize: minSize, Limit: 2, Offset: off})
					if err != nil {
						t.Fatal(err)
					}
					wantPage := all.Groups[min(off, want):min(off+2, want)]
					if page.Total != want || fmt.Sprint(page.Groups) != fmt.Sprint(wantPage) {
						t.Fatalf("sort %s asc %v min size %d offset %d: %v (total %d), want %v (total %d)",
							sort, asc, minSize, off, page.Groups, page.Total, wantPage, want)
					}
				}
			}
		}
	}
}
