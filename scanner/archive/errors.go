package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bodgit/sevenzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
	"github.com/mikelolasagasti/xz"
	"github.com/nwaples/rardecode/v2"
)

// The kinds of failure. An *Error always wraps exactly one of them, so
// callers test with errors.Is(err, archive.ErrEncrypted) and record
// Error.Reason() as the human-readable cause.
var (
	// ErrNotArchive is returned by Walk and Detect when the content starts
	// with none of the known signatures. It is not a failure: the file is
	// an ordinary file.
	ErrNotArchive = errors.New("not an archive")

	// ErrCorrupt is the kind of an *Error when the archive's structure or
	// a member's data does not decode, or a checksum does not match.
	ErrCorrupt = errors.New("corrupt")

	// ErrTruncated is the kind of an *Error when the data ends early.
	ErrTruncated = errors.New("truncated")

	// ErrEncrypted is the kind of an *Error for an encrypted member or an
	// archive whose headers are encrypted. No password is ever asked for.
	ErrEncrypted = errors.New("encrypted")

	// ErrUnsupported is the kind of an *Error for a compression method no
	// reader here implements (zip's Deflate64, LZMA or PPMd methods, for
	// example) or a multi-volume archive.
	ErrUnsupported = errors.New("unsupported method")

	// ErrTooManyMembers is the kind of an *Error when an archive, nested
	// archives included, has more members than Limits.Members.
	ErrTooManyMembers = errors.New("too many members")

	// ErrTooLarge is the kind of an *Error when the members of an archive
	// decompress to more than Limits.TotalBytes.
	ErrTooLarge = errors.New("decompressed size over the limit")

	// ErrBomb is the kind of an *Error when data decompresses more than
	// Limits.Ratio times its compressed size (past Limits.RatioMinSize).
	ErrBomb = errors.New("compression ratio over the limit (a bomb)")

	// ErrDictionary is the kind of an *Error when a stream asks for a
	// decoder window or dictionary above the caps (MaxXzDictionary,
	// MaxZstdWindow, MaxDictionary): it would allocate that much memory
	// before producing a byte.
	ErrDictionary = errors.New("dictionary over the limit")

	// ErrTooManyFailures is the kind of an *Error when more than
	// Limits.Failures members of one archive failed to read: the rest is
	// not tried.
	ErrTooManyFailures = errors.New("too many failed members")

	// ErrPanic is the kind of an *Error when a format library panicked on
	// the input. The panic is recovered; the archive is abandoned.
	ErrPanic = errors.New("reader panicked")
)

// Error is the error of a failed archive or member: what kind of failure
// (one of the Err... kinds above), in which format, for which member
// (Path is nil when the archive as a whole failed), and the library's own
// error when there is one.
type Error struct {
	Format Format
	Path   [][]byte // member path per nesting level; nil for the archive itself
	Kind   error
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Format))
	if e.Path != nil {
		b.WriteString(": member ")
		b.Write(bytes.Join(e.Path, []byte("::")))
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Reason is the short cause for a log or an event: the kind, then the
// library's error.
func (e *Error) Reason() string {
	if e.Err == nil {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Err.Error()
}

// classify turns a library's error into an *Error of the right kind. An
// *Error passes through (the first classification wins); context errors
// pass through unchanged, so that an interrupted walk reads as one.
func classify(f Format, path [][]byte, err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, errCanceled) {
		return err
	}
	return &Error{Format: f, Path: path, Kind: kindOf(err), Err: err}
}

func kindOf(err error) error {
	var re *sevenzip.ReadError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, rardecode.ErrUnexpectedArcEnd), errors.Is(err, rardecode.ErrShortFile),
		errors.Is(err, xz.ErrBuf):
		return ErrTruncated
	case errors.Is(err, rardecode.ErrArchiveEncrypted), errors.Is(err, rardecode.ErrArchivedFileEncrypted),
		errors.Is(err, rardecode.ErrBadPassword), errors.Is(err, rardecode.ErrUnknownEncryptMethod):
		return ErrEncrypted
	case errors.As(err, &re) && re.Encrypted:
		return ErrEncrypted
	case errors.Is(err, xz.ErrMemlimit), errors.Is(err, zstd.ErrWindowSizeExceeded),
		errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, rardecode.ErrDictionaryTooLarge),
		errors.Is(err, errDictionary):
		return ErrDictionary
	case errors.Is(err, zip.ErrAlgorithm), errors.Is(err, rardecode.ErrMultiVolume),
		errors.Is(err, rardecode.ErrUnsupportedDecoder), errors.Is(err, rardecode.ErrUnknownDecoder),
		errors.Is(err, xz.ErrUnsupportedCheck), errors.Is(err, xz.ErrOptions):
		return ErrUnsupported
	}
	if strings.Contains(err.Error(), "password") {
		return ErrEncrypted // 7z without a password: the AES coder's own wording
	}
	return ErrCorrupt
}

// errCanceled marks a context error seen inside a read, so that it is not
// taken for corruption on the way up.
var errCanceled = errors.New("archive walk canceled")

// errDictionary is the cause when a 7z coder's own properties ask for
// more than Limits.Dictionary.
var errDictionary = errors.New("dictionary size above the cap")

func panicError(f Format, path [][]byte, p any) error {
	return &Error{Format: f, Path: path, Kind: ErrPanic, Err: fmt.Errorf("%v", p)}
}
