package scanner

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// DefaultHashes are the algorithms a scan computes unless told otherwise:
// pyFileIndexer's set, so its users find the digests they know.
var DefaultHashes = []string{"md5", "sha1", "sha256"}

// KnownHashes lists every algorithm ParseHashes accepts.
var KnownHashes = []string{"md5", "sha1", "sha256", "blake3"}

// ParseHashes checks a comma-separated list of algorithms. sha256 is always
// included: it is the content identity the index groups duplicates by.
func ParseHashes(list string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, h := range strings.Split(list, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || seen[h] {
			continue
		}
		ok := false
		for _, k := range KnownHashes {
			ok = ok || h == k
		}
		if !ok {
			return nil, fmt.Errorf("unknown hash %q (known: %s)", h, strings.Join(KnownHashes, ", "))
		}
		seen[h] = true
		out = append(out, h)
	}
	if !seen["sha256"] {
		out = append(out, "sha256")
	}
	return out, nil
}

// hasher computes the chosen digests of a stream in one pass.
type hasher struct {
	md5, sha1, sha256, blake3 hash.Hash
	all                       []hash.Hash
}

func newHasher(algos []string) *hasher {
	h := &hasher{}
	for _, a := range algos {
		switch a {
		case "md5":
			h.md5 = md5.New()
			h.all = append(h.all, h.md5)
		case "sha1":
			h.sha1 = sha1.New()
			h.all = append(h.all, h.sha1)
		case "sha256":
			h.sha256 = sha256.New()
			h.all = append(h.all, h.sha256)
		case "blake3":
			h.blake3 = blake3.New()
			h.all = append(h.all, h.blake3)
		}
	}
	return h
}

func (h *hasher) Reset() {
	for _, x := range h.all {
		x.Reset()
	}
}

func (h *hasher) Write(p []byte) {
	for _, x := range h.all {
		x.Write(p)
	}
}

func (h *hasher) Sums() events.Hashes {
	sum := func(x hash.Hash) string {
		if x == nil {
			return ""
		}
		return hex.EncodeToString(x.Sum(nil))
	}
	return events.Hashes{MD5: sum(h.md5), SHA1: sum(h.sha1), SHA256: sum(h.sha256), BLAKE3: sum(h.blake3)}
}

// bufSize is the read size: large enough that syscalls cost nothing next to
// hashing, small enough to stay in cache.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// zeros is a read-only block of zero bytes, hashed in place of a sparse
// file's holes.
var zeros = make([]byte, bufSize)

// hashFile streams the open file f of the given size through h and returns
// the bytes hashed and, of those, the bytes read (the rest were holes).
// Memory is one buffer, whatever the size. Holes of a sparse file (found
// with SEEK_DATA and SEEK_HOLE) are hashed as the zeros they read as,
// without reading them: a 10 GB disk image that is mostly holes costs the
// hashing alone. That is still a compression per 64-byte block: md5, sha1
// and sha256 chain each block's state into the next (Merkle-Damgard), so
// no known digest of N zero bytes can stand in for hashing them. Holes
// count in r's progress and stop with r's context, like data.
func hashFile(h *hasher, f *os.File, size int64, r progressReader) (hashed, read int64, err error) {
	fd := int(f.Fd())
	var off int64
	for off < size {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			data = size // no data after off: the rest is a hole
		} else if err != nil {
			break // no hole support: read it all
		}
		for off < data {
			if err := r.ctx.Err(); err != nil {
				return off, read, err
			}
			n := min(bufSize, data-off)
			h.Write(zeros[:n])
			off += n
			r.read.Add(n)
		}
		if off >= size {
			return off, read, nil
		}
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil {
			break
		}
		if _, err := unix.Seek(fd, off, unix.SEEK_SET); err != nil {
			return off, read, err
		}
		want := hole - off
		n, err := hashReader(h, io.LimitReader(r, want))
		off += n
		read += n
		if err != nil || n < want {
			return off, read, err // shorter than it was: the caller sees the change
		}
	}
	if _, err := unix.Seek(fd, off, unix.SEEK_SET); err != nil {
		return off, read, err
	}
	n, err := hashReader(h, r)
	return off + n, read + n, err
}

// hashReader streams r through h and returns the bytes read.
func hashReader(h *hasher, r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
