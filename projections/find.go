package projections

import (
	"encoding/binary"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// FindQuery selects files by name and attributes. The zero value matches
// every file.
type FindQuery struct {
	// Pattern is a substring of the base name, or with Glob a shell pattern
	// (path.Match syntax) of the whole base name. Matching ignores case
	// unless CaseSensitive.
	Pattern       string
	Glob          bool
	CaseSensitive bool
	// Regexp, when set, replaces Pattern: it must match the base name (or
	// the path, with Path). It reads every file's name.
	Regexp *regexp.Regexp
	// Path matches Pattern or Regexp against the whole path instead of the
	// base name. The name index cannot help then: it reads every name.
	Path bool
	// Filters.
	Machine          string
	Under            string // a directory: only files below it
	Ext              string // extension without the dot, any case
	MinSize, MaxSize int64  // MaxSize 0: no maximum
	// Archived keeps only files inside an archive: those whose event said
	// so (its archive field), not any path that holds "::".
	Archived bool
	// PathContains keeps only files whose path holds it, ignoring case.
	PathContains string
	// Limit is the page size (0: 100; negative: no limit) and Offset the
	// number of matches skipped. Matches are in file id order, which is
	// the order the files were first seen.
	Limit, Offset int
	// TotalLimit is how many matches Find counts exactly before it stops
	// (0: DefaultTotalLimit; negative: all). It is raised to cover the page.
	// A query without a Limit counts every match.
	TotalLimit int
}

// DefaultTotalLimit is how many matches Find counts when the query does not
// say. Counting reads every match's name; past this a search box only needs
// to know there are many.
const DefaultTotalLimit = 10_000

// FindResult is one page of matches.
type FindResult struct {
	Files []File `json:"files"`
	// Total is the number of matches across all pages, or with
	// TotalCapped a lower bound: Find stopped counting there (see
	// FindQuery.TotalLimit) and more matches exist.
	Total       int  `json:"total"`
	TotalCapped bool `json:"total_capped,omitempty"`
	// Indexed says whether the name index narrowed the search; without it
	// every file's name was read (short patterns, regexps, path matches).
	Indexed bool `json:"indexed"`
}

// Find returns the files matching q. It counts at most q.TotalLimit
// matches (see FindResult.TotalCapped): the page itself is always exact.
func (ix *Index) Find(q FindQuery) (FindResult, error) {
	sel, tris, err := q.compile()
	if err != nil {
		return FindResult{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	stopAt := -1 // count every match
	if limit >= 0 && q.TotalLimit >= 0 {
		stopAt = q.TotalLimit
		if stopAt == 0 {
			stopAt = DefaultTotalLimit
		}
		stopAt = max(stopAt, q.Offset+limit)
	}
	var res FindResult
	bud := ix.budget()
	bud.costly = q.Regexp != nil || q.Path
	err = ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		// consider checks one file and returns false once Find has
		// counted all it will, or its context ended.
		consider := func(dirID uint64, name string) bool {
			if !bud.step() {
				return false
			}
			if !sel.name(name) {
				return true
			}
			machine, dir, ok := r.dirByID(dirID)
			if !ok || !sel.place(machine, dir, name) {
				return true
			}
			inPage := res.Total >= q.Offset && (limit < 0 || len(res.Files) < limit)
			if sel.sized() || q.Archived || inPage {
				f, ok := r.fileAt(machine, dirID, dir, name)
				if !ok || !sel.size(f.Size) || !sel.member(f) {
					return true
				}
				if inPage { // then res.Total < stopAt
					res.Files = append(res.Files, f)
				}
			}
			if stopAt >= 0 && res.Total >= stopAt {
				res.TotalCapped = true
				return false
			}
			res.Total++
			return true
		}
		if len(tris) > 0 {
			res.Indexed = true
			// The ids come sorted, and so are the fids keys: one cursor
			// walks them, stepping instead of searching the B-tree anew
			// when the next id is near.
			fc := fidCursor{keyCursor: keyCursor{c: r.fids.Cursor()}}
			return eachCandidate(namesOf(tx), tris, func(id uint64) bool {
				dirID, name, ok := decodeFID(fc.get(id))
				return !ok || consider(dirID, name)
			})
		}
		c := r.fids.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			dirID, name, ok := decodeFID(v)
			if !ok || len(k) != 8 {
				continue
			}
			if !consider(dirID, name) {
				break
			}
		}
		return nil
	})
	if err == nil {
		err = bud.end("find")
	}
	return res, err
}

// Matcher returns q's filters as a test of one file, for files found
// otherwise than by Find (by digest): the same rule Find applies.
func (q FindQuery) Matcher() (func(File) bool, error) {
	sel, _, err := q.compile()
	if err != nil {
		return nil, err
	}
	return sel.file, nil
}

// selector is a compiled FindQuery: the one definition of which files a
// query selects. Find applies it in steps, each as soon as what it needs is
// read (the name, then the directory, then the size); file applies it to a
// whole File.
type selector struct {
	q        *FindQuery
	match    func(string) bool // the pattern and extension
	under    string            // normDir(q.Under)
	contains string            // fold(q.PathContains)
}

// name applies what the base name alone decides: the pattern and
// extension, unless they are matched against the whole path.
func (s *selector) name(name string) bool { return s.q.Path || s.match(name) }

// place applies the machine, the directory and what the whole path
// decides.
func (s *selector) place(machine, dir, name string) bool {
	q := s.q
	switch {
	case q.Machine != "" && machine != q.Machine,
		s.under != "" && !strings.HasPrefix(dir, s.under),
		q.Path && !s.match(dir+name),
		q.Archived && !strings.Contains(dir+name, events.MemberSep), // a member's path holds it
		s.contains != "" && !strings.Contains(fold(dir+name), s.contains):
		return false
	}
	return true
}

// sized reports whether the query selects by size, which needs the record.
func (s *selector) sized() bool { return s.q.MinSize > 0 || s.q.MaxSize > 0 }

func (s *selector) size(n int64) bool {
	return n >= s.q.MinSize && (s.q.MaxSize == 0 || n <= s.q.MaxSize)
}

// member applies the archived filter, which needs the record.
func (s *selector) member(f File) bool { return !s.q.Archived || f.IsMember() }

func (s *selector) file(f File) bool {
	dir, name := splitPath(string(f.Path))
	return s.name(name) && s.place(f.Machine, dir, name) && s.size(f.Size) && s.member(f)
}

// decodeFID decodes a fids value; ok is false for nil.
func decodeFID(v []byte) (dirID uint64, name string, ok bool) {
	if v == nil {
		return 0, "", false
	}
	d := dec{b: v}
	dirID = d.uv()
	if d.err != nil {
		return 0, "", false
	}
	return dirID, string(d.b), true
}

// fidCursor reads fids values for ascending file ids.
type fidCursor struct {
	keyCursor
	key [8]byte
}

// fidSteps is how many keys get steps over before it seeks instead: a step
// within a leaf costs a few ns, a seek a descent from the root.
const fidSteps = 32

// get returns the value of id, or nil. Each id must be at or above the
// last.
func (fc *fidCursor) get(id uint64) []byte {
	binary.BigEndian.PutUint64(fc.key[:], id)
	return fc.keyCursor.get(fc.key[:])
}

// compile returns q's selector and the trigrams every match must hold.
func (q *FindQuery) compile() (*selector, []trigram, error) {
	switch {
	case q.MinSize < 0 || q.MaxSize < 0:
		return nil, nil, fmt.Errorf("%w: sizes cannot be negative", ErrBadQuery)
	case q.MaxSize > 0 && q.MinSize > q.MaxSize:
		return nil, nil, fmt.Errorf("%w: min size %d is above max size %d", ErrBadQuery, q.MinSize, q.MaxSize)
	}
	norm := fold
	if q.CaseSensitive {
		norm = func(s string) string { return s }
	}
	var match func(string) bool
	var lits []string
	switch {
	case q.Regexp != nil:
		match = q.Regexp.MatchString
	case q.Glob:
		pat := norm(q.Pattern)
		if _, err := path.Match(pat, ""); err != nil {
			return nil, nil, fmt.Errorf("%w: glob %q: %v", ErrBadQuery, q.Pattern, err)
		}
		match = func(s string) bool { ok, _ := path.Match(pat, norm(s)); return ok }
		if !q.Path {
			lits = globLiterals(fold(q.Pattern))
		}
	default:
		pat := norm(q.Pattern)
		match = func(s string) bool { return strings.Contains(norm(s), pat) }
		if !q.Path {
			lits = []string{fold(q.Pattern)}
		}
	}
	if q.Ext != "" {
		ext := "." + fold(strings.TrimPrefix(q.Ext, "."))
		inner := match
		match = func(s string) bool { return strings.HasSuffix(fold(s), ext) && inner(s) }
		lits = append(lits, ext)
		if q.Path { // the extension is the base name's even then
			inner := match
			match = func(s string) bool { _, name := splitPath(s); return strings.HasSuffix(fold(name), ext) && inner(s) }
		}
	}
	sel := &selector{q: q, match: match, under: normDir(q.Under), contains: fold(q.PathContains)}
	var tris []trigram
	if q.Path || q.Regexp != nil {
		// Only the extension narrows a path or regexp search.
		if q.Ext != "" {
			tris = trigrams(lits[len(lits)-1])
		}
		return sel, tris, nil
	}
	for _, l := range lits {
		for _, t := range trigrams(l) {
			if !slices.Contains(tris, t) {
				tris = append(tris, t)
			}
		}
	}
	return sel, tris, nil
}

// globLiterals returns the literal runs of a glob pattern.
func globLiterals(p string) []string {
	var out []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*', '?':
			flush()
		case '[':
			flush()
			for i < len(p) && p[i] != ']' {
				i++
			}
		case '\\':
			if i+1 < len(p) {
				i++
				cur = append(cur, p[i])
			}
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return out
}

// eachCandidate calls fn with each file id in every posting list of tris,
// in ascending order, until fn returns false. It decodes the shortest list
// a chunk at a time and filters each chunk's ids through the others, so a
// caller that stops early reads little of any list.
func eachCandidate(names nameIndex, tris []trigram, fn func(id uint64) bool) error {
	type sized struct {
		t trigram
		n int
	}
	lists := make([]sized, 0, len(tris))
	for _, t := range tris {
		n := postingSize(names, t)
		if n == 0 {
			return nil
		}
		lists = append(lists, sized{t, n})
	}
	slices.SortFunc(lists, func(a, b sized) int { return a.n - b.n })
	its := make([]*postingIter, 0, len(lists)-1)
	for _, l := range lists[1:] {
		its = append(its, newPostingIter(names, l.t))
	}
	c := names.chunks(lists[0].t)
	var ids []uint64
	for k, v := c.first(); k != nil; k, v = c.next() {
		var err error
		if ids, err = decodeChunk(ids[:0], k, v); err != nil {
			return err
		}
		for _, it := range its {
			if len(ids) == 0 {
				break
			}
			if ids, err = it.keep(ids); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if !fn(id) {
				return nil
			}
		}
	}
	return nil
}
