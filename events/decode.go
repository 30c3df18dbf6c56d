package events

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/oklog/ulid/v2"
)

// Decode parses one event. It never panics; see ErrMalformed and
// ErrNewerSchema for the errors it returns.
//
// It reads any JSON object with the envelope's keys in any order, with any
// whitespace, and skips keys it does not know (a v1 writer may add
// optional fields). It is written by hand, like Encode, because projection
// decodes every event of the log and reflection-based decoding was most of
// its cost. Strings keep their exact bytes, even ones that are not UTF-8.
func Decode(b []byte) (Event, error) { return decode(b, true) }

// decode is Decode. With inPlace, a payload of the current version that
// comes after "v" and "type" (as Encode writes them) is decoded as it is
// read; otherwise, and whenever a later key could change what it means, the
// envelope is read first and the payload after it, upcast if need be. Both
// give the same result (FuzzDecodeInPlace).
func decode(b []byte, inPlace bool) (Event, error) {
	r := &reader{b: b}
	var (
		h        Header
		haveTime bool
		dataAt   = -1
		dataEnd  int
		p        Payload // decoded in place
		pType    Type    // the type p was decoded as
	)
	r.object(func(key string) {
		switch key {
		case "v":
			h.V = int(r.int())
		case "type":
			h.Type = eventType(r.view())
		case "id":
			h.ID = r.ulid()
		case "machine":
			h.Machine = r.str()
		case "scan":
			h.Scan = r.ulid()
		case "time":
			h.Time, haveTime = r.time(), true
		case "data":
			p = nil
			r.ws()
			dataAt = r.i
			if inPlace && h.V == SchemaVersion && r.peek() == '{' {
				if p = newPayload(h.Type); p != nil {
					sub := &reader{b: r.b[dataAt:]}
					if decodePayload(sub, p); sub.err == nil {
						r.i = dataAt + sub.i
						dataEnd, pType = r.i, h.Type
						return
					}
					p = nil // read again below, to fail as the two passes do
				}
			}
			r.skip(0)
			dataEnd = r.i
		default:
			r.skip(0)
		}
	})
	r.ws()
	if r.err == nil && r.i != len(r.b) {
		r.fail("data after the event")
	}
	if r.err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, r.err)
	}
	switch {
	case h.V <= 0:
		return Event{}, fmt.Errorf("%w: missing schema version", ErrMalformed)
	case h.V > SchemaVersion:
		return Event{}, fmt.Errorf("%w: version %d, this program knows %d", ErrNewerSchema, h.V, SchemaVersion)
	case h.ID == ulid.ULID{}:
		return Event{}, fmt.Errorf("%w: missing id", ErrMalformed)
	case ValidateMachine(h.Machine) != nil:
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, ValidateMachine(h.Machine))
	case !haveTime:
		return Event{}, fmt.Errorf("%w: missing time", ErrMalformed)
	case dataAt < 0 || r.b[dataAt] != '{':
		return Event{}, fmt.Errorf("%w: %s without data", ErrMalformed, h.Type)
	}
	if p != nil && pType == h.Type && h.V == SchemaVersion {
		return Event{Header: h, Data: p}, nil
	}
	data, err := upcast(h.V, h.Type, b[dataAt:dataEnd])
	if err != nil {
		return Event{}, fmt.Errorf("%w: upcast v%d %s: %v", ErrMalformed, h.V, h.Type, err)
	}
	p = newPayload(h.Type)
	if p == nil {
		return Event{}, fmt.Errorf("%w: unknown type %q", ErrMalformed, h.Type)
	}
	r = &reader{b: data}
	decodePayload(r, p)
	if r.err != nil {
		return Event{}, fmt.Errorf("%w: %s data: %v", ErrMalformed, h.Type, r.err)
	}
	h.V = SchemaVersion
	return Event{Header: h, Data: p}, nil
}

// eventType returns the known Type that s names without copying s, which
// may be a view (see reader.view); any other name is copied.
func eventType(s string) Type {
	for _, t := range knownTypes {
		if string(t) == s {
			return t
		}
	}
	return Type(strings.Clone(s))
}

var knownTypes = [...]Type{TypeFileScanned, TypeFileChanged, TypeFileMoved, TypeFileDeleted,
	TypeFileUnreadable, TypeScanStarted, TypeScanCompleted, TypeFilesForgotten}

func decodePayload(r *reader, p Payload) {
	switch d := p.(type) {
	case *ScanStarted:
		r.object(func(k string) {
			switch k {
			case "root":
				d.Root = r.path()
			case "options":
				r.object(func(k string) {
					switch k {
					case "hashes":
						d.Options.Hashes = r.strs()
					case "exclude":
						d.Options.Exclude = r.strs()
					case "one_file_system":
						d.Options.OneFileSystem = r.bool()
					case "verify":
						d.Options.Verify = r.bool()
					default:
						r.skip(0)
					}
				})
			default:
				r.skip(0)
			}
		})
	case *FileScanned:
		r.object(func(k string) { fileField(r, &d.File, k) })
	case *FileChanged:
		r.object(func(k string) {
			switch k {
			case "prev_sha256":
				d.PrevSHA256 = r.str()
			case "reason":
				d.Reason = ChangeReason(r.str())
			default:
				fileField(r, &d.File, k)
			}
		})
	case *FileMoved:
		r.object(func(k string) {
			if k == "from" {
				d.From = r.path()
			} else {
				fileField(r, &d.File, k)
			}
		})
	case *FileDeleted:
		r.object(func(k string) {
			switch k {
			case "path":
				d.Path = r.path()
			case "sha256":
				d.SHA256 = r.str()
			case "reason":
				d.Reason = r.str()
			default:
				r.skip(0)
			}
		})
	case *FileUnreadable:
		r.object(func(k string) {
			switch k {
			case "path":
				d.Path = r.path()
			case "error":
				d.Error = r.str()
			case "dir":
				d.Dir = r.bool()
			default:
				r.skip(0)
			}
		})
	case *FilesForgotten:
		r.object(func(k string) {
			switch k {
			case "root":
				d.Root = r.path()
			case "reason":
				d.Reason = r.str()
			default:
				r.skip(0)
			}
		})
	case *ScanCompleted:
		r.object(func(k string) {
			switch k {
			case "root":
				d.Root = r.path()
			case "complete":
				d.Complete = r.bool()
			case "duration_ns":
				d.DurationNS = r.int()
			case "counts":
				c := &d.Counts
				r.object(func(k string) {
					switch k {
					case "seen":
						c.Seen = r.int()
					case "read":
						c.Read = r.int()
					case "added":
						c.Added = r.int()
					case "changed":
						c.Changed = r.int()
					case "moved":
						c.Moved = r.int()
					case "deleted":
						c.Deleted = r.int()
					case "unreadable":
						c.Unreadable = r.int()
					case "bytes_read":
						c.BytesRead = r.int()
					default:
						r.skip(0)
					}
				})
			default:
				r.skip(0)
			}
		})
	}
}

func fileField(r *reader, f *File, k string) {
	switch k {
	case "path":
		f.Path = r.path()
	case "size":
		f.Size = r.int()
	case "mode":
		f.Mode = uint32(r.uintN(32))
	case "mtime":
		f.MTime = r.int()
	case "ctime":
		f.CTime = r.int()
	case "btime":
		f.BTime = r.int()
	case "inode":
		f.Inode = r.uintN(64)
	case "dev":
		f.Device = r.uintN(64)
	case "nlink":
		f.Nlink = r.uintN(64)
	case "uid":
		f.UID = uint32(r.uintN(32))
	case "gid":
		f.GID = uint32(r.uintN(32))
	case "target":
		f.Target = r.path()
	case "unhashed":
		f.Unhashed = r.str()
	case "archive":
		if r.null() {
			f.Archive = nil
			return
		}
		a := &Archive{}
		r.object(func(k string) { archiveField(r, a, k) })
		f.Archive = a
	case "hashes":
		r.object(func(k string) {
			switch k {
			case "md5":
				f.Hashes.MD5 = r.str()
			case "sha1":
				f.Hashes.SHA1 = r.str()
			case "sha256":
				f.Hashes.SHA256 = r.str()
			case "blake3":
				f.Hashes.BLAKE3 = r.str()
			default:
				r.skip(0)
			}
		})
	default:
		r.skip(0)
	}
}

func archiveField(r *reader, a *Archive, k string) {
	switch k {
	case "path":
		a.Path = r.path()
	case "member":
		a.Member = r.paths()
	case "format":
		a.Format = r.str()
	case "encoding":
		a.Encoding = r.str()
	case "crc32":
		a.CRC32 = r.str()
	case "packed":
		a.Packed = r.int()
	case "encrypted":
		a.Encrypted = r.bool()
	case "members":
		a.Members = r.int()
	case "error":
		a.Error = r.str()
	default:
		r.skip(0)
	}
}

// reader is a small JSON reader for the event schema. The first error stops
// it: every method does nothing once err is set, so callers check once.
type reader struct {
	b   []byte
	i   int
	err error
}

// maxDepth bounds nesting in skipped values, so hostile input cannot
// exhaust the stack.
const maxDepth = 64

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: %s", r.i, fmt.Sprintf(format, args...))
	}
}

func (r *reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *reader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *reader) expect(c byte) bool {
	if r.err != nil {
		return false
	}
	if r.peek() != c {
		r.fail("want %q", c)
		return false
	}
	r.i++
	return true
}

// null consumes a null literal if one is next.
func (r *reader) null() bool {
	if r.err == nil && r.peek() == 'n' && r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "null" {
		r.i += 4
		return true
	}
	return false
}

// object reads an object, calling fn with each key; fn must read the value.
// null reads as an empty object.
func (r *reader) object(fn func(key string)) {
	if r.null() || !r.expect('{') {
		return
	}
	if r.peek() == '}' {
		r.i++
		return
	}
	for r.err == nil {
		k := r.view()
		if !r.expect(':') {
			return
		}
		fn(k)
		if r.err != nil {
			return
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return
		default:
			r.fail("want ',' or '}'")
		}
	}
}

// str reads a string. Escapes are decoded; other bytes are kept as they
// are, valid UTF-8 or not.
func (r *reader) str() string {
	s, view := r.strOrView()
	if view {
		return strings.Clone(s)
	}
	return s
}

// view reads a string as str does, but a string without escapes is returned
// without a copy: it shares r.b's memory, so it must not outlive the call
// that reads it (object keys, values parsed at once, skipped values).
func (r *reader) view() string {
	s, _ := r.strOrView()
	return s
}

// strOrView reads a string; view says whether s shares r.b's memory.
func (r *reader) strOrView() (s string, view bool) {
	if r.err != nil {
		return "", false
	}
	if r.null() {
		return "", false
	}
	if !r.expect('"') {
		return "", false
	}
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			s := unsafe.String(unsafe.SliceData(r.b[start:]), r.i-start)
			r.i++
			return s, true
		}
		if c == '\\' {
			return r.strEscaped(start), false
		}
		if c < 0x20 {
			r.fail("control character in string")
			return "", false
		}
		r.i++
	}
	r.fail("unterminated string")
	return "", false
}

func (r *reader) strEscaped(start int) string {
	out := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return string(out)
		case c < 0x20:
			r.fail("control character in string")
			return ""
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			break
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			x := r.hex4()
			if r.err != nil {
				return ""
			}
			if utf16.IsSurrogate(x) {
				// A pair makes one rune; a lone half is replaced, as
				// encoding/json does.
				if r.i+6 <= len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					r.i += 2
					y := r.hex4()
					if d := utf16.DecodeRune(x, y); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						continue
					}
					out = utf8.AppendRune(out, utf8.RuneError)
					x = y
					if utf16.IsSurrogate(x) {
						out = utf8.AppendRune(out, utf8.RuneError)
						continue
					}
				} else {
					out = utf8.AppendRune(out, utf8.RuneError)
					continue
				}
			}
			out = utf8.AppendRune(out, x)
		default:
			r.fail("bad escape \\%c", e)
			return ""
		}
	}
	r.fail("unterminated string")
	return ""
}

func (r *reader) hex4() rune {
	if r.i+4 > len(r.b) {
		r.fail("short \\u escape")
		return 0
	}
	var x rune
	for _, c := range r.b[r.i : r.i+4] {
		x <<= 4
		switch {
		case c >= '0' && c <= '9':
			x |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			x |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			x |= rune(c - 'A' + 10)
		default:
			r.fail("bad \\u escape")
			return 0
		}
	}
	r.i += 4
	return x
}

func (r *reader) strs() []string {
	out := []string{}
	if !r.array(func() { out = append(out, r.str()) }) {
		return nil
	}
	return out
}

// paths reads an array of Paths; null and [] read as nil, as
// encoding/json leaves an omitted slice.
func (r *reader) paths() []Path {
	var out []Path
	if !r.array(func() { out = append(out, r.path()) }) {
		return nil
	}
	return out
}

// array reads an array, calling elem to read each element; false for null
// or an error.
func (r *reader) array(elem func()) bool {
	if r.err != nil || r.null() || !r.expect('[') {
		return false
	}
	if r.peek() == ']' {
		r.i++
		return true
	}
	for r.err == nil {
		elem()
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return true
		default:
			r.fail("want ',' or ']'")
		}
	}
	return false
}

// number returns the bytes of a JSON number.
func (r *reader) number() []byte {
	if r.err != nil {
		return nil
	}
	r.ws()
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			r.i++
			continue
		}
		break
	}
	if start == r.i {
		r.fail("want a number")
	}
	return r.b[start:r.i]
}

func (r *reader) int() int64 {
	if r.null() {
		return 0
	}
	n := r.number()
	if r.err != nil {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		r.fail("bad integer %q", n)
	}
	return v
}

func (r *reader) uintN(bits int) uint64 {
	if r.null() {
		return 0
	}
	n := r.number()
	if r.err != nil {
		return 0
	}
	v, err := strconv.ParseUint(string(n), 10, bits)
	if err != nil {
		r.fail("bad unsigned integer %q", n)
	}
	return v
}

func (r *reader) bool() bool {
	if r.err != nil || r.null() {
		return false
	}
	r.ws()
	switch {
	case r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "true":
		r.i += 4
		return true
	case r.i+5 <= len(r.b) && string(r.b[r.i:r.i+5]) == "false":
		r.i += 5
		return false
	}
	r.fail("want true or false")
	return false
}

func (r *reader) ulid() ulid.ULID {
	s := r.view()
	if r.err != nil {
		return ulid.ULID{}
	}
	id, err := ulid.ParseStrict(s)
	if err != nil {
		r.fail("bad ULID %q: %v", s, err)
	}
	return id
}

func (r *reader) time() time.Time {
	s := r.view()
	if r.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail("bad time %q", s)
	}
	return t
}

var errNoB64 = errors.New("path object without b64")

// path reads a Path in either form (see Path.MarshalJSON).
func (r *reader) path() Path {
	if r.err != nil {
		return ""
	}
	if r.peek() != '{' {
		return Path(r.str())
	}
	var b64 *string
	r.object(func(k string) {
		if k == "b64" {
			s := r.str()
			b64 = &s
		} else {
			r.skip(0)
		}
	})
	if r.err != nil {
		return ""
	}
	if b64 == nil {
		r.fail("%v", errNoB64)
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(*b64)
	if err != nil {
		r.fail("path b64: %v", err)
		return ""
	}
	return Path(raw)
}

// skip reads past one value of any kind.
func (r *reader) skip(depth int) {
	if r.err != nil {
		return
	}
	if depth > maxDepth {
		r.fail("nested too deep")
		return
	}
	switch c := r.peek(); {
	case c == '{':
		r.object(func(string) { r.skip(depth + 1) })
	case c == '[':
		r.i++
		if r.peek() == ']' {
			r.i++
			return
		}
		for r.err == nil {
			r.skip(depth + 1)
			switch r.peek() {
			case ',':
				r.i++
			case ']':
				r.i++
				return
			default:
				r.fail("want ',' or ']'")
			}
		}
	case c == '"':
		r.view()
	case c == 't' || c == 'f':
		r.bool()
	case c == 'n':
		if !r.null() {
			r.fail("bad literal")
		}
	case c == '-' || c >= '0' && c <= '9':
		r.number()
	default:
		r.fail("unexpected %q", c)
	}
}
