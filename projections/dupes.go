package projections

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/indexer/indexer/store"
)

// Group is a set of files with the same content.
type Group struct {
	SHA256 string `json:"sha256"`
	Size   uint64 `json:"size"`
	Count  uint64 `json:"count"`
	// Inodes is the number of distinct inodes: hard links of one inode are
	// one copy on disk.
	Inodes uint64 `json:"inodes"`
	// Wasted is Size times the copies beyond the first: (Inodes-1)*Size.
	Wasted uint64 `json:"wasted"`
}

// Copies on disk. Files of one content take the space of one copy when
// they are hard links of one inode: the same machine, device and inode
// number. An inode number of 0 is unknown (the event did not carry one):
// nothing shows that two such files share their blocks, so each is a copy
// of its own, and counts as wasted. Every count of Group.Inodes follows
// this rule: the projector's (addHash, removeHash) and GroupOf's.
func knownInode(inode uint64) bool { return inode != 0 }

// wastedBytes is the space that copies beyond the first take.
func wastedBytes(size, inodes uint64) uint64 {
	if inodes < 2 {
		return 0
	}
	return satMul(size, inodes-1)
}

// GroupOf returns the group that files, all of one content of size bytes,
// make: its counts worked out from the files, as the duplicates model
// counts them (see knownInode). It is for a subset of a content's files,
// such as one machine's.
func GroupOf(sha256 string, size uint64, files []File) Group {
	g := Group{SHA256: sha256, Size: size, Count: uint64(len(files))}
	type inode struct {
		machine    string
		dev, inode uint64
	}
	seen := map[inode]bool{}
	for _, f := range files {
		if knownInode(f.Inode) {
			id := inode{f.Machine, f.Device, f.Inode}
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		g.Inodes++
	}
	g.Wasted = wastedBytes(size, g.Inodes)
	return g
}

func groupOf(sha []byte, g groupRec) Group {
	return Group{SHA256: hex.EncodeToString(sha), Size: g.size, Count: g.count, Inodes: g.inodes, Wasted: g.wasted()}
}

// DupesQuery selects duplicate groups.
type DupesQuery struct {
	// Sort is "wasted" (the default), "size" or "count"; largest first
	// unless Asc.
	Sort     string
	Asc      bool
	MinSize  uint64
	MinCount uint64
	// Limit (0: 100; negative: all) and Offset page the groups.
	Limit, Offset int
	// Files is how many of each listed group's files to read as well (0:
	// none; negative: all), in the same read transaction.
	Files int
}

// DupesResult is one page of duplicate groups.
type DupesResult struct {
	Groups []Group `json:"groups"`
	Total  int     `json:"total"`
	// Files holds each group's files (as DupesQuery.Files asks), beside
	// Groups; nil when none were asked for.
	Files [][]File `json:"-"`
}

// TopDuplicateGroups returns duplicate groups in the order q asks for. The
// groups model keeps each order, so the first page reads only its groups;
// Total walks the matching groups' keys.
func (ix *Index) TopDuplicateGroups(q DupesQuery) (DupesResult, error) {
	tag := map[string]byte{"": 'w', "wasted": 'w', "size": 's', "count": 'c'}[q.Sort]
	if tag == 0 {
		return DupesResult{}, fmt.Errorf("%w: sort %q: want wasted, size or count", ErrBadQuery, q.Sort)
	}
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	var res DupesResult
	bud := ix.budget()
	err := ix.view(func(tx *store.Tx) error {
		dupes := tx.Bucket(bucketDupes)
		groups := tx.Bucket(bucketGroups)
		// With one filter, Total is the length of that filter's key
		// range, counted without reading a group; the page then stops
		// when full. Every group has a count of two or more.
		total := -1
		switch {
		case q.MinSize <= 1 && q.MinCount <= 2:
			// Every group, or every one but the empty files': the
			// totals count the groups, and the few of size 0 are
			// counted apart. Walking every group's key instead took
			// 18 ms for the 500,000 groups of ten million files.
			total = int(decodeTotals(tx.Bucket(bucketMeta).Get(keyTotals)).groups)
			if q.MinSize == 1 {
				total -= countGroupKeysBelow(groups.Cursor(), 's', 1, bud)
			}
		case q.MinSize > 0 && q.MinCount <= 2:
			total = countGroupKeys(groups.Cursor(), 's', q.MinSize, bud)
		case q.MinSize == 0 && q.MinCount > 2:
			total = countGroupKeys(groups.Cursor(), 'c', q.MinCount, bud)
		}
		c := groups.Cursor()
		prefix := []byte{tag}
		var k []byte
		switch {
		case q.Asc && tag == 's':
			k, _ = c.Seek(append(prefix, be64(q.MinSize)...))
		case q.Asc:
			k, _ = c.Seek(prefix)
		default:
			k, _ = c.Seek([]byte{tag + 1})
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		for ; len(k) == 41 && k[0] == tag && bud.step(); k = stepCursor(c, q.Asc) {
			if total >= 0 && limit >= 0 && len(res.Groups) >= limit {
				break
			}
			x := binary.BigEndian.Uint64(k[1:9])
			if tag == 's' && x < q.MinSize || tag == 'c' && x < q.MinCount {
				if q.Asc {
					continue
				}
				break // descending: all that follow are smaller
			}
			inPage := res.Total >= q.Offset && (limit < 0 || len(res.Groups) < limit)
			if !inPage && q.MinSize == 0 && q.MinCount <= 2 {
				res.Total++
				continue
			}
			g, err := decodeGroupRec(dupes.Get(k[9:]))
			if err != nil {
				return fmt.Errorf("group %x: %w", k[9:], err)
			}
			if g.size < q.MinSize || g.count < q.MinCount {
				continue
			}
			if inPage {
				res.Groups = append(res.Groups, groupOf(k[9:], g))
			}
			res.Total++
		}
		if total >= 0 {
			res.Total = total
		}
		if q.Files == 0 || len(res.Groups) == 0 {
			return nil
		}
		// One reader for every group: the directories its cache holds
		// serve the groups that follow (a group per transaction read
		// each group's directories again).
		// Their files are read together, in key order (filesByIDs).
		r := newReader(tx)
		r.bud = bud
		shas := make([][32]byte, len(res.Groups))
		for i, g := range res.Groups {
			raw, err := hex.DecodeString(g.SHA256)
			if err != nil || len(raw) != 32 {
				return fmt.Errorf("group %s: not a sha256", g.SHA256)
			}
			shas[i] = [32]byte(raw)
		}
		ends := make([]int, len(res.Groups))
		var ids []uint64
		for i, gids := range r.hashIDsOf(shas, q.Files) {
			ids = append(ids, gids...)
			ends[i] = len(ids)
		}
		files, found := r.filesByIDs(ids)
		res.Files = make([][]File, len(res.Groups))
		start := 0
		for i := range res.Groups {
			w := start // the group's files found, moved down in place
			for j := start; j < ends[i]; j++ {
				if found[j] {
					files[w] = files[j]
					w++
				}
			}
			res.Files[i] = files[start:w:w]
			if w == start && bud.err == nil {
				res.Files[i] = r.byHashMax(shas[i], q.Files)
			}
			start = ends[i]
		}
		return nil
	})
	if err == nil {
		err = bud.end("duplicates")
	}
	return res, err
}

// countGroupKeys counts the groups keys of tag ('s' or 'c') whose size or
// count is least or more.
func countGroupKeys(c *store.Cursor, tag byte, least uint64, bud *budget) int {
	n := 0
	for k, _ := c.Seek(append([]byte{tag}, be64(least)...)); len(k) == 41 && k[0] == tag && bud.step(); k, _ = c.Next() {
		n++
	}
	return n
}

// countGroupKeysBelow counts the groups keys of tag ('s' or 'c') whose
// size or count is below most.
func countGroupKeysBelow(c *store.Cursor, tag byte, most uint64, bud *budget) int {
	n := 0
	for k, _ := c.Seek([]byte{tag}); len(k) == 41 && k[0] == tag && binary.BigEndian.Uint64(k[1:9]) < most && bud.step(); k, _ = c.Next() {
		n++
	}
	return n
}

func stepCursor(c *store.Cursor, asc bool) []byte {
	var k []byte
	if asc {
		k, _ = c.Next()
	} else {
		k, _ = c.Prev()
	}
	return k
}

// Group returns the duplicate group of a sha256 (hex) and its files.
// Content held by one file only is a group of one with nothing wasted.
func (ix *Index) Group(sha256 string) (Group, []File, error) {
	raw, err := hex.DecodeString(strings.ToLower(sha256))
	if err != nil || len(raw) != 32 {
		return Group{}, nil, fmt.Errorf("%w: %q is not a hex sha256", ErrBadQuery, sha256)
	}
	var g Group
	var files []File
	bud := ix.budget()
	err = ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		r.bud = bud
		files = r.byHashMax([32]byte(raw), -1)
		if bud.err != nil {
			return nil
		}
		if len(files) == 0 {
			return fmt.Errorf("content %s: %w", sha256, ErrNotFound)
		}
		rec := groupRec{count: 1, inodes: 1, size: uint64(files[0].Size)}
		if v := tx.Bucket(bucketDupes).Get(raw); v != nil {
			if rec, err = decodeGroupRec(v); err != nil {
				return err
			}
		}
		g = groupOf(raw, rec)
		return nil
	})
	if err == nil {
		err = bud.end("group " + sha256)
	}
	return g, files, err
}
