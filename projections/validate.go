package projections

import (
	"fmt"
	"math"
	"math/bits"
	"path"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
)

// Limits on what an event may carry, checked at the door of the projector
// (validate): an event past them is a dead letter with the reason, never
// applied. bbolt refuses keys over 32 KiB, and a path longer than any file
// system allows is a broken or hostile event.
const (
	maxPathLen = 16 << 10
	maxNameLen = 4 << 10
	// maxDepth is the most components a path may have. The dirs model
	// keys every directory by its full path, so a path of depth d and
	// length n costs up to d keys of up to n bytes; one path 8,000 levels
	// deep made an index 14 times bigger and its scan took minutes. Linux
	// reaches paths deeper than PATH_MAX (4 KiB, at most 2,048 levels)
	// only through openat; 1,024 levels is more than any real tree.
	maxDepth = 1024
	// maxDirKeys bounds the bytes of the dirs keys one path needs: the sum
	// of its directories' path lengths. It keeps what one event may cost
	// the index linear in its length (about 64 times it at most) rather
	// than quadratic: 1,024 levels of one-letter names reach it; a path
	// 40 levels and 300 bytes deep needs 6 KiB.
	maxDirKeys = 1 << 20
)

// The range of event times: what Unix nanoseconds in an int64 hold (1678 to
// 2262), which the read models store.
var (
	minEventTime = time.Unix(0, math.MinInt64)
	maxEventTime = time.Unix(0, math.MaxInt64)
)

// validate checks what the read models rely on beyond what Decode checks,
// and returns the file record of an event that carries a file. Sizes are
// any int64 at or above zero (Linux's largest file, a sparse one, is
// 2^63-1 bytes): the sums over them saturate instead (satAdd).
func validate(e *events.Event) (fileRec, error) {
	var none fileRec
	if e.Time.Before(minEventTime) || e.Time.After(maxEventTime) {
		return none, fmt.Errorf("time %s is out of range (%d to %d)", e.Time.UTC().Format(time.RFC3339), minEventTime.Year(), maxEventTime.Year())
	}
	switch d := e.Data.(type) {
	case *events.FileScanned:
		if err := checkPath("path", d.Path); err != nil {
			return none, err
		}
		return fileRecOf(&d.File)
	case *events.FileChanged:
		if err := checkPath("path", d.Path); err != nil {
			return none, err
		}
		return fileRecOf(&d.File)
	case *events.FileMoved:
		if err := checkPath("from", d.From); err != nil {
			return none, err
		}
		if err := checkPath("path", d.Path); err != nil {
			return none, err
		}
		return fileRecOf(&d.File)
	case *events.FileDeleted:
		return none, checkPath("path", d.Path)
	case *events.FileUnreadable:
		return none, checkPath("path", d.Path)
	case *events.ScanStarted:
		return none, checkRoot(d.Root)
	case *events.FilesForgotten:
		return none, checkRoot(d.Root)
	case *events.ScanCompleted:
		if err := checkRoot(d.Root); err != nil {
			return none, err
		}
		c := d.Counts
		for _, n := range []struct {
			name string
			v    int64
		}{{"seen", c.Seen}, {"read", c.Read}, {"added", c.Added}, {"changed", c.Changed}, {"moved", c.Moved},
			{"deleted", c.Deleted}, {"unreadable", c.Unreadable}, {"bytes_read", c.BytesRead}, {"duration_ns", d.DurationNS}} {
			if n.v < 0 {
				return none, fmt.Errorf("negative %s %d", n.name, n.v)
			}
		}
	}
	return none, nil
}

// checkPath checks a file's path: absolute and clean (no empty, . or ..
// component, no trailing slash), within the length and depth limits,
// without NUL bytes.
func checkPath(what string, p events.Path) error {
	s := string(p)
	switch {
	case s == "":
		return fmt.Errorf("%s: empty path", what)
	case len(s) > maxPathLen:
		return fmt.Errorf("%s: path of %d bytes, over the limit of %d", what, len(s), maxPathLen)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s: path %q holds a NUL byte, which no file system allows", what, clip(p.String()))
	case s[0] != '/':
		return fmt.Errorf("%s: path %q is not absolute", what, clip(p.String()))
	case path.Clean(s) != s:
		return fmt.Errorf("%s: path %q is not clean (an empty, . or .. component, or a trailing slash)", what, clip(p.String()))
	}
	depth, keys := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			depth++
			keys += i + 1
		}
	}
	if depth > maxDepth {
		return fmt.Errorf("%s: path %d levels deep, over the limit of %d", what, depth, maxDepth)
	}
	if keys > maxDirKeys {
		return fmt.Errorf("%s: path %d levels deep and %d bytes long: its directories' paths total %d bytes, over the limit of %d", what, depth, len(s), keys, maxDirKeys)
	}
	if _, name := splitPath(s); len(name) > maxNameLen {
		return fmt.Errorf("%s: name of %d bytes, over the limit of %d", what, len(name), maxNameLen)
	}
	return nil
}

// checkRoot checks a scan's root, which may be absent.
func checkRoot(root events.Path) error {
	if root == "" {
		return nil
	}
	return checkPath("root", root)
}

// unknownScan says why an event of a scan the index does not know cannot
// be applied, or "": a ScanCompleted must follow its ScanStarted, or its
// counts and state would describe a scan that never ran here.
func (u *unit) unknownScan(e *events.Event) string {
	if _, ok := e.Data.(*events.ScanCompleted); !ok || e.Scan == (ulid.ULID{}) {
		return ""
	}
	if s := u.scan(e.Scan, e.Machine); s.rec.startSeq == 0 {
		return fmt.Sprintf("ScanCompleted of scan %s, which never started in this log", e.Scan)
	}
	return ""
}

// satAdd returns a+b, or the largest uint64 where that overflows: the
// read models' sums stay a bound rather than wrap around to a small number.
func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

// satSub returns a-b, or 0 where b is larger.
func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// satMul returns a*b, or the largest uint64 where that overflows.
func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}
