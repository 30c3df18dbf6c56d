package archive

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Format names a container or compression format, as detected from the
// content (never from the file name).
type Format string

// The formats Walk reads. A compressed stream holding a tar is "tar.gz"
// and so on; one holding anything else is a single-file stream ("gz")
// whose one member is the decompressed content.
const (
	Zip      Format = "zip"
	Tar      Format = "tar"
	TarGz    Format = "tar.gz"
	TarBz2   Format = "tar.bz2"
	TarXz    Format = "tar.xz"
	TarZst   Format = "tar.zst"
	Gz       Format = "gz"
	Bz2      Format = "bz2"
	Xz       Format = "xz"
	Zst      Format = "zst"
	SevenZip Format = "7z"
	Rar      Format = "rar"
)

// Type is what a member is.
type Type uint8

const (
	TypeFile     Type = iota // regular file: the only type with content
	TypeDir                  // directory entry
	TypeSymlink              // symbolic link; LinkTarget says where
	TypeHardlink             // tar hard link to an earlier member; LinkTarget names it
	TypeOther                // device, FIFO and the like (tar only)
)

func (t Type) String() string {
	return [...]string{"file", "dir", "symlink", "hardlink", "other"}[t]
}

// Member is one entry of an archive as Walk gives it to a WalkFunc.
type Member struct {
	// Path is the member's name as stored, one element per nesting level:
	// Path[0] is the name inside the archive Walk was given, Path[1] the
	// name inside that member when it is itself an archive, and so on.
	// Bytes, never decoded: the identity of the member.
	Path [][]byte
	// Name is Path decoded for display, one element per level; Encoding
	// is the encoding used for the last level ("utf-8", "cp437", "gbk",
	// "shift_jis", "big5", "euc-kr", "utf-16" for 7z, "bytes" when the raw
	// bytes were taken as they are).
	Name     []string
	Encoding string
	// Format is the format of the archive that holds the member.
	Format Format
	Type   Type
	// Size is the size the archive declares, or -1 when it declares none
	// (single-file streams). The bytes the reader yields are the truth.
	Size int64
	// Packed is the compressed size where the format gives one per
	// member, else -1.
	Packed  int64
	ModTime time.Time // zero when the archive records none
	Mode    fs.FileMode
	// LinkTarget is the target of a symbolic or hard link.
	LinkTarget string
	// CRC32 is the checksum the archive records (zip, 7z, rar 4), when
	// HasCRC; Walk's reader verifies it.
	CRC32  uint32
	HasCRC bool
	// Encrypted members are given with their metadata and Err set, and no
	// content.
	Encrypted bool
	// Err, when not nil, is why no content is given (the reader is nil):
	// an encrypted member, a member that could not be opened, or — when a
	// member that is itself an archive is given a second time, with the
	// same Path, after its own members — the reason walking into it failed.
	// It is always an *Error.
	Err error
	// Archive is set, on that second call only, to the nested archive's
	// format.
	Archive Format
}

// Display is the pyFileIndexer form of the member's path below the
// archive: the decoded levels joined by "::".
func (m *Member) Display() string { return strings.Join(m.Name, "::") }

// WalkFunc is called once per member, in archive order, on the goroutine
// that called Walk. For a regular file with content, r yields the
// decompressed bytes: read it as far as wanted (not past the call's
// return); its errors are *Error values or the context's error, and a
// checksum mismatch shows as an error at the end. r is nil for other
// members and when m.Err is set.
//
// An error returned by the WalkFunc stops the walk, and Walk returns it
// unchanged.
type WalkFunc func(m *Member, r io.Reader) error

// Limits bound the work and memory one archive may cost. Zero fields take
// the defaults below (DefaultLimits).
type Limits struct {
	// Members is the most members one archive may have, nested members
	// included. Default 100,000.
	Members int
	// TotalBytes is the most bytes the members of one archive may
	// decompress to, nested members counted again. Default max(4 GiB,
	// 200 × the archive's size).
	TotalBytes int64
	// Ratio is the most a member may decompress relative to its packed
	// size once past RatioMinSize; for formats without a packed size per
	// member (tar.*, 7z, single-file streams) the archive's running total
	// against the compressed bytes read is checked. Default 1,000 past
	// 1 MiB. Deflate's own maximum is about 1,032:1.
	Ratio        int64
	RatioMinSize int64
	// Failures is the most members of one archive that may fail to read
	// (encrypted ones do not count) before the rest is given up. Default
	// 50, pyFileIndexer's archive_entry_fail_threshold.
	Failures int
	// Spool is the largest nested archive that is copied to a temporary
	// file to be walked (zip and 7z need random access). Larger nested
	// archives are given as plain members. Default 256 MiB.
	Spool int64
}

// The defaults of Limits' fields and of Options.Depth.
const (
	DefaultMembers      = 100_000
	DefaultMinTotal     = 4 << 30
	DefaultTotalFactor  = 200
	DefaultRatio        = 1000
	DefaultRatioMinSize = 1 << 20
	DefaultFailures     = 50
	DefaultSpool        = 256 << 20
	DefaultDepth        = 1
	// The decoder caps: a stream that asks for a larger dictionary or
	// window fails with ErrDictionary before it allocates. 64 MiB is what
	// xz -9 uses; 7-Zip's presets (ultra: 64 MiB) and WinRAR's default
	// (32 MB) stay under 128 MiB, and one decoder of that size leaves room
	// under the scanner's 200 MB memory goal.
	MaxXzDictionary = 64 << 20
	MaxZstdWindow   = 128 << 20
	MaxDictionary   = 128 << 20 // 7z LZMA, LZMA2 and PPMd; rar
)

// DefaultLimits returns the limits for an archive of the given size.
func DefaultLimits(size int64) Limits {
	return Limits{
		Members:      DefaultMembers,
		TotalBytes:   max(DefaultMinTotal, DefaultTotalFactor*size),
		Ratio:        DefaultRatio,
		RatioMinSize: DefaultRatioMinSize,
		Failures:     DefaultFailures,
		Spool:        DefaultSpool,
	}
}

func (l Limits) withDefaults(size int64) Limits {
	d := DefaultLimits(size)
	if l.Members <= 0 {
		l.Members = d.Members
	}
	if l.TotalBytes <= 0 {
		l.TotalBytes = d.TotalBytes
	}
	if l.Ratio <= 0 {
		l.Ratio = d.Ratio
	}
	if l.RatioMinSize <= 0 {
		l.RatioMinSize = d.RatioMinSize
	}
	if l.Failures <= 0 {
		l.Failures = d.Failures
	}
	if l.Spool <= 0 {
		l.Spool = d.Spool
	}
	return l
}

// Options tune a walk. The zero value walks with the default limits, one
// level of nesting, CP437 as the zip fallback and temporary files in
// os.TempDir.
type Options struct {
	Limits Limits
	// Depth is how many levels of archives inside archives are walked:
	// 0 means DefaultDepth (1: the members of a zip inside a zip are
	// given, not those of a zip in that), a negative value none.
	Depth int
	// ZipEncoding forces the encoding of zip names stored without the
	// UTF-8 flag (a name from Encodings, like unzip -O); empty detects it
	// per archive.
	ZipEncoding string
	// TempDir is where nested archives are spooled; empty is os.TempDir.
	TempDir string
}

// WalkFile walks the archive at path. See Walk.
func WalkFile(ctx context.Context, path string, opt Options, fn WalkFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return Walk(ctx, f, fi.Size(), path, opt, fn)
}

// Walk detects the format of the size bytes of r and gives every member
// to fn, in archive order, walking into members that are archives
// themselves down to opt.Depth. name is the archive's file name; it is
// used only to name the member of a single-file stream (x.txt.gz holds
// x.txt) when the stream does not record one.
//
// Walk returns nil when every member was given (members that failed were
// given with Err set, or fn saw their read error), ErrNotArchive when the
// content is no known format, an *Error when the archive as a whole could
// not be read or a limit was passed (members given before stay given), the
// context's error when ctx was canceled, and fn's error unchanged.
func Walk(ctx context.Context, r io.ReaderAt, size int64, name string, opt Options, fn WalkFunc) error {
	w := &walker{ctx: ctx, fn: fn, opt: opt, lim: opt.Limits.withDefaults(size)}
	depth := opt.Depth
	if depth == 0 {
		depth = DefaultDepth
	}
	err := w.walk(r, size, name, max(depth, 0), nil, nil)
	var ce callbackError
	switch {
	case errors.As(err, &ce):
		return ce.err
	case ctx.Err() != nil && err != nil:
		return ctx.Err()
	}
	return err
}

// callbackError carries fn's own error up through the levels untouched.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// walker is one call of Walk: the budget shared by the outer archive and
// every archive nested in it.
type walker struct {
	ctx     context.Context
	fn      WalkFunc
	opt     Options
	lim     Limits
	members int
	total   int64 // decompressed member bytes so far
}

// level is one archive being walked: the outer one or a nested one.
type level struct {
	w        *walker
	format   Format
	size     int64
	depth    int // levels of nesting still allowed below this one
	path     [][]byte
	names    []string
	failures int
	// stream counts the compressed bytes read, for the ratio of formats
	// without a packed size per member; nil for the others.
	stream *countingReader
	// decompressed is this level's running total of member bytes.
	decompressed int64
	// drain says a member's unread rest must be read before the next:
	// solid and streamed formats.
	drain bool
	// lastErr is the last member's read error.
	lastErr error
}

// walk detects and walks one archive under recover: a library that panics
// on crafted input costs the archive, not the process.
func (w *walker) walk(r io.ReaderAt, size int64, name string, depth int, path [][]byte, names []string) (err error) {
	f, err := Detect(r, size)
	if err != nil {
		return err
	}
	l := &level{w: w, format: f, size: size, depth: depth, path: path, names: names}
	defer recoverPanic(f, &err)
	switch f {
	case Zip:
		err = l.walkZip(r, size)
	case SevenZip:
		err = l.walkSevenZip(r, size)
	case Rar:
		err = l.walkRar(r, size)
	default:
		err = l.walkStream(r, size, name)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return classify(f, nil, err)
}

// recoverPanic, deferred, turns a panic of a format's library into an
// ErrPanic in *err; the WalkFunc's own panics go on.
func recoverPanic(f Format, err *error) {
	p := recover()
	if p == nil {
		return
	}
	if cp, ok := p.(callbackPanic); ok {
		panic(cp.v) // the WalkFunc's own bug: not ours to hide
	}
	*err = panicError(f, nil, p)
}

// callbackPanic marks a panic raised by the WalkFunc, so that walk's
// recover lets it go on.
type callbackPanic struct{ v any }
