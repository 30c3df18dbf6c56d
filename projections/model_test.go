package projections

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/simtree"
	"github.com/indexer/indexer/store"
)

// simulate publishes scans of random changes to two machines' trees and
// returns the trees and the last sequence.
func simulate(tb testing.TB, log *store.Log, seed uint64, steps int) ([]*simtree.Tree, uint64) {
	tb.Helper()
	trees := []*simtree.Tree{simtree.New("alpha", seed), simtree.New("beta", seed+1)}
	var evs []events.Event
	for round := range 3 {
		for _, tr := range trees {
			evs = append(evs, tr.StartScan())
			for range steps / 3 / (1 + round%2) {
				evs = append(evs, tr.Step())
			}
			if round == 1 {
				// The operator forgets a directory; later steps add files
				// to it again.
				evs = append(evs, tr.Forget())
			}
			evs = append(evs, tr.EndScan())
		}
	}
	var last uint64
	for chunk := range slices.Chunk(evs, 1000) {
		last = appendAll(tb, log, chunk...)
	}
	return trees, last
}

// TestRandomHistoryMatchesTruth projects random changes in small batches
// and checks every query against the simulated truth, and the dump against
// a rebuild.
func TestRandomHistoryMatchesTruth(t *testing.T) {
	t.Parallel()
	log, ix := projectHistory(t, 7, 6000, 97)
	checkRebuild(t, log, ix, 5000)
}

// projectHistory publishes a random history of steps changes, projects it
// live in batches of batch events, checks every query against the
// simulated truth and returns the log and the live index.
func projectHistory(t *testing.T, seed uint64, steps, batch int) (*store.Log, *Index) {
	t.Helper()
	log := MustOpenLog(t, MustOpenServer(t))
	trees, last := simulate(t, log, seed, steps)
	p := MustOpenProjector(t, log, "")
	p.BatchSize = batch
	runProjector(t, p)
	waitFor(t, p, last)
	ix := p.Index()
	checkTruth(t, ix, trees)
	return log, ix
}

// checkRebuild builds an index from log in batches of size and checks that
// it dumps the same as ix.
func checkRebuild(t *testing.T, log *store.Log, ix *Index, size int) {
	t.Helper()
	built := filepath.Join(t.TempDir(), "built.db")
	if _, err := Build(context.Background(), log, built, BuildOptions{BatchSize: size}); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(t, NewIndex(MustOpenDB(t, built))), dump(t, ix); got != want {
		t.Errorf("rebuild in batches of %d differs from live:\n%s", size, diff(want, got))
	}
}

// checkTruth compares the index with the trees' files.
func checkTruth(t *testing.T, ix *Index, trees []*simtree.Tree) {
	t.Helper()
	var files, bytes uint64
	type inode struct {
		machine    string
		dev, inode uint64
	}
	bySHA := map[string][]File{}
	for _, tr := range trees {
		dirs := map[string][2]uint64{}
		for _, p := range tr.Paths() {
			want := tr.Files[p]
			got, err := ix.Lookup(tr.Machine, p)
			if err != nil {
				t.Fatalf("lookup %s:%s: %v", tr.Machine, p, err)
			}
			if got.File != want {
				t.Fatalf("lookup %s:%s = %+v, want %+v", tr.Machine, p, got.File, want)
			}
			files++
			bytes += uint64(want.Size)
			bySHA[want.Hashes.SHA256] = append(bySHA[want.Hashes.SHA256], got)
			for d, _ := splitPath(string(p)); ; {
				c := dirs[d]
				dirs[d] = [2]uint64{c[0] + 1, c[1] + uint64(want.Size)}
				parent, _, ok := parentDir(d)
				if !ok {
					break
				}
				d = parent
			}
		}
		for d, c := range dirs {
			tree, err := ix.Tree(tr.Machine, d, -1, 0)
			if err != nil {
				t.Fatalf("tree %s:%s: %v", tr.Machine, d, err)
			}
			if tree.Files != c[0] || tree.Bytes != c[1] {
				t.Fatalf("tree %s:%s = %d files %d bytes, want %d, %d", tr.Machine, d, tree.Files, tree.Bytes, c[0], c[1])
			}
			n := uint64(len(tree.Entries))
			for _, sub := range tree.Dirs {
				n += sub.Files
			}
			if n != c[0] {
				t.Fatalf("tree %s:%s lists %d files directly and below, want %d", tr.Machine, d, n, c[0])
			}
		}
		// A path that is gone is not found.
		if _, err := ix.Lookup(tr.Machine, "/data/no-such-file"); err == nil {
			t.Fatal("lookup of a missing path succeeded")
		}
	}
	st, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != files || st.Bytes != bytes {
		t.Fatalf("stats %d files %d bytes, want %d, %d", st.Files, st.Bytes, files, bytes)
	}

	// Duplicate groups, with hard links counted once.
	var groups, wasted, redundant uint64
	want := map[string]Group{}
	for sha, fs := range bySHA {
		if len(fs) < 2 {
			continue
		}
		inodes := map[inode]bool{}
		unknown := 0 // an inode of 0 is unknown: each such file is a copy
		for _, f := range fs {
			if f.Inode == 0 {
				unknown++
			} else {
				inodes[inode{f.Machine, f.Device, f.Inode}] = true
			}
		}
		g := Group{SHA256: sha, Count: uint64(len(fs)), Inodes: uint64(len(inodes) + unknown), Size: uint64(fs[0].Size)}
		g.Wasted = g.Size * (g.Inodes - 1)
		want[sha] = g
		groups++
		wasted += g.Wasted
		redundant += g.Size * (g.Count - 1)
	}
	if st.Groups != groups || st.Wasted != wasted || st.UniqueBytes != bytes-redundant {
		t.Fatalf("stats groups %d wasted %d unique %d, want %d, %d, %d", st.Groups, st.Wasted, st.UniqueBytes, groups, wasted, bytes-redundant)
	}
	res, err := ix.TopDuplicateGroups(DupesQuery{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != len(want) || res.Total != len(want) {
		t.Fatalf("%d duplicate groups (total %d), want %d", len(res.Groups), res.Total, len(want))
	}
	for i, g := range res.Groups {
		if g != want[g.SHA256] {
			t.Fatalf("group %+v, want %+v", g, want[g.SHA256])
		}
		if i > 0 && g.Wasted > res.Groups[i-1].Wasted {
			t.Fatalf("groups not by wasted bytes: %d after %d", g.Wasted, res.Groups[i-1].Wasted)
		}
	}
	// Their files, read with the groups in one pass, are each group's
	// files as Group reads them (a lookup per file), in the same order.
	for _, most := range []int{-1, 2} {
		withFiles, err := ix.TopDuplicateGroups(DupesQuery{Limit: -1, Files: most})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(withFiles.Groups, res.Groups) || len(withFiles.Files) != len(res.Groups) {
			t.Fatalf("files %d: the groups differ, or %d lists of files for %d groups", most, len(withFiles.Files), len(res.Groups))
		}
		for i, g := range withFiles.Groups {
			_, fs, err := ix.Group(g.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if most >= 0 && len(fs) > most {
				fs = fs[:most]
			}
			if !reflect.DeepEqual(withFiles.Files[i], fs) {
				t.Fatalf("files %d of group %s:\n%+v\nwant %+v", most, g.SHA256, withFiles.Files[i], fs)
			}
		}
	}
	for _, sort := range []string{"size", "count"} {
		res, err := ix.TopDuplicateGroups(DupesQuery{Sort: sort, Asc: true, Limit: 5, MinSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range want {
			if g.Size >= 1000 {
				n++
			}
		}
		if res.Total != n {
			t.Fatalf("sort %s min size 1000: total %d, want %d", sort, res.Total, n)
		}
	}
	// Filtered pages against brute force, in every order.
	for _, sort := range []string{"wasted", "size", "count"} {
		for _, asc := range []bool{false, true} {
			for _, f := range [][2]uint64{{1000, 0}, {0, 3}, {1000, 3}} {
				q := DupesQuery{Sort: sort, Asc: asc, MinSize: f[0], MinCount: f[1], Limit: -1}
				all, err := ix.TopDuplicateGroups(q)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, g := range want {
					if g.Size >= q.MinSize && g.Count >= q.MinCount {
						n++
					}
				}
				if len(all.Groups) != n || all.Total != n {
					t.Fatalf("dupes %+v: %d groups (total %d), want %d", q, len(all.Groups), all.Total, n)
				}
				q.Limit, q.Offset = 5, 2
				page, err := ix.TopDuplicateGroups(q)
				if err != nil {
					t.Fatal(err)
				}
				wantPage := all.Groups[min(2, n):min(7, n)]
				if page.Total != n || !slices.Equal(page.Groups, wantPage) {
					t.Fatalf("dupes %+v page: %v (total %d), want %v (total %d)", q, page.Groups, page.Total, wantPage, n)
				}
			}
		}
	}
	for sha, fs := range bySHA {
		got, err := ix.ByHash("", sha)
		if err != nil || len(got) != len(fs) {
			t.Fatalf("by sha256 %s: %d files, %v; want %d", sha, len(got), err, len(fs))
		}
		// A prefix, as history prints digests: every file with a digest
		// that starts with it.
		for _, n := range []int{12, 9} {
			prefix, want := sha[:n], 0
			for _, other := range bySHA {
				for _, f := range other {
					if strings.HasPrefix(f.Hashes.SHA256, prefix) || strings.HasPrefix(f.Hashes.MD5, prefix) || strings.HasPrefix(f.Hashes.SHA1, prefix) {
						want++
					}
				}
			}
			if got, err := ix.ByHash("", prefix); err != nil || len(got) != want || want == 0 {
				t.Fatalf("by prefix %s: %d files, %v; want %d", prefix, len(got), err, want)
			}
		}
		if _, err := ix.ByHash("", sha[:7]); !errors.Is(err, ErrBadQuery) {
			t.Fatalf("a 7-digit prefix: %v, want a bad query", err)
		}
		for _, alg := range []string{"md5", "sha1"} {
			h := fs[0].Hashes.MD5
			if alg == "sha1" {
				h = fs[0].Hashes.SHA1
			}
			got, err := ix.ByHash(alg, h)
			if err != nil || len(got) != len(fs) {
				t.Fatalf("by %s %s: %d files, %v; want %d", alg, h, len(got), err, len(fs))
			}
		}
		break
	}

	// Name search against brute force.
	for _, q := range []FindQuery{
		{Pattern: "report"}, {Pattern: "RÉSUMÉ"}, {Pattern: "img-1"}, {Pattern: "g"},
		{Pattern: "*.tar.gz", Glob: true}, {Pattern: "photo-?2*", Glob: true},
		{Pattern: "IMG", CaseSensitive: true}, {Ext: "jpg", MinSize: 1 << 19},
		{Pattern: "data_", Path: true, Machine: "beta"}, {Pattern: "o", Under: "/data/"},
		{PathContains: "FINAL"}, {Pattern: "report", PathContains: "/data/", MaxSize: 1 << 19},
		{Pattern: "photo", Archived: true},
	} {
		q.Limit = -1
		res, err := ix.Find(q)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, tr := range trees {
			for _, p := range tr.Paths() {
				if q.Machine != "" && tr.Machine != q.Machine {
					continue
				}
				if bruteMatch(q, string(p), tr.Files[p].Size) {
					want = append(want, tr.Machine+":"+string(p))
				}
			}
		}
		var got []string
		for _, f := range res.Files {
			got = append(got, f.Machine+":"+string(f.Path))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || res.Total != len(want) {
			t.Fatalf("find %+v: %d matches (total %d), want %d\n got %.300q\nwant %.300q", q, len(got), res.Total, len(want), got, want)
		}
		// The query as a test of one file (as for files found by digest)
		// is the same rule.
		match, err := q.Matcher()
		if err != nil {
			t.Fatal(err)
		}
		var matched []string
		for _, tr := range trees {
			for _, p := range tr.Paths() {
				if match(File{Machine: tr.Machine, File: tr.Files[p]}) {
					matched = append(matched, tr.Machine+":"+string(p))
				}
			}
		}
		slices.Sort(matched)
		if !slices.Equal(matched, want) {
			t.Fatalf("find %+v: Matcher selects %d files, Find %d", q, len(matched), len(want))
		}
		// Pages cover the same matches.
		q.Limit, q.Offset = 7, 3
		page, err := ix.Find(q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != res.Total || len(page.Files) != min(7, max(0, res.Total-3)) {
			t.Fatalf("find %+v page: %d files of %d", q, len(page.Files), page.Total)
		}
		for i, f := range page.Files {
			if f.ID != res.Files[3+i].ID {
				t.Fatalf("find %+v page item %d is %s, want %s", q, i, f.Path, res.Files[3+i].Path)
			}
		}
		// A capped count stops at the limit or the page's end, whichever
		// is further, and says so only when more matches exist; the page
		// stays the same.
		for _, tl := range []int{1, 12} {
			q.TotalLimit = tl
			capped, err := ix.Find(q)
			if err != nil {
				t.Fatal(err)
			}
			stop := max(tl, q.Offset+q.Limit)
			if got, want := capped.Total, min(res.Total, stop); got != want {
				t.Fatalf("find %+v capped: total %d, want %d", q, got, want)
			}
			if got, want := capped.TotalCapped, res.Total > stop; got != want {
				t.Fatalf("find %+v capped: TotalCapped %v, want %v (total %d)", q, got, want, res.Total)
			}
			if len(capped.Files) != len(page.Files) {
				t.Fatalf("find %+v capped: %d files, want %d", q, len(capped.Files), len(page.Files))
			}
			for i, f := range capped.Files {
				if f.ID != page.Files[i].ID {
					t.Fatalf("find %+v capped page item %d is %s, want %s", q, i, f.Path, page.Files[i].Path)
				}
			}
		}
	}
}

func bruteMatch(q FindQuery, p string, size int64) bool {
	dir, name := splitPath(p)
	if q.Under != "" && !strings.HasPrefix(dir, normDir(q.Under)) {
		return false
	}
	if size < q.MinSize || q.MaxSize > 0 && size > q.MaxSize {
		return false
	}
	if q.Ext != "" && !strings.HasSuffix(strings.ToLower(name), "."+q.Ext) {
		return false
	}
	if q.Archived && !strings.Contains(p, "::") ||
		q.PathContains != "" && !strings.Contains(strings.ToLower(p), strings.ToLower(q.PathContains)) {
		return false
	}
	subject := name
	if q.Path {
		subject = p
	}
	switch {
	case q.Glob:
		ok, _ := path.Match(strings.ToLower(q.Pattern), strings.ToLower(subject))
		return ok
	case q.CaseSensitive:
		return strings.Contains(subject, q.Pattern)
	}
	return strings.Contains(strings.ToLower(subject), strings.ToLower(q.Pattern))
}

// TestNamesMergesKeepEveryList merges the two parts of the name index
// every few dozen files, live and in rebuilds of other batch sizes (so at
// other moments), and checks the queries against the truth and the dumps
// against each other. Not parallel: it lowers namesMergeFiles.
func TestNamesMergesKeepEveryList(t *testing.T) {
	defer func(n uint64) { namesMergeFiles = n }(namesMergeFiles)
	namesMergeFiles = 37
	log, ix := projectHistory(t, 11, 1500, 61)
	for _, size := range []int{13, 100_000} {
		checkRebuild(t, log, ix, size)
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]string{
		{"ABC", "abc"}, {"Résumé", "résumé"}, {"RÉSUMÉ", "résumé"}, {"a\xffB", "a\xffb"}, {"", ""},
	} {
		if got := fold(c[0]); got != c[1] {
			t.Errorf("fold(%q) = %q, want %q", c[0], got, c[1])
		}
	}
	if got, want := fmt.Sprint(globLiterals(`*.tar.gz`)), "[.tar.gz]"; got != want {
		t.Errorf("globLiterals = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(globLiterals(`a?bcd[xy]efg\*h`)), "[a bcd efg*h]"; got != want {
		t.Errorf("globLiterals = %s, want %s", got, want)
	}
}
