package events

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Encode returns the JSON form of e. It writes by hand the same JSON
// encoding/json would write for the tagged structs (Decode, also written by
// hand, reads it back): a scan encodes an event per changed file, and
// reflection was most of that cost. It writes into a reused buffer and
// returns a copy of the exact size: the event is kept until the log
// acknowledges it, and a buffer grown on the way cost a scan of 100,000
// files 130 MB of allocation.
func Encode(e Event) ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("encode %s: no payload", e.Type)
	}
	if e.Data.EventType() != e.Type {
		return nil, fmt.Errorf("encode: header type %s, payload %s", e.Type, e.Data.EventType())
	}
	bp := encodeBufs.Get().(*[]byte)
	w := jsonWriter{b: (*bp)[:0]}
	defer func() {
		if cap(w.b) <= 64<<10 { // an odd large event does not stay
			*bp = w.b[:0]
			encodeBufs.Put(bp)
		}
	}()
	w.open()
	w.int("v", int64(e.V))
	w.str("type", string(e.Type))
	w.str("id", e.ID.String())
	w.str("machine", e.Machine)
	w.str("scan", e.Scan.String())
	w.key("time")
	w.b = append(w.b, '"')
	w.b = e.Time.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
	w.key("data")
	w.open()
	switch d := e.Data.(type) {
	case *ScanStarted:
		w.path("root", d.Root)
		w.key("options")
		w.open()
		w.strs("hashes", d.Options.Hashes, false)
		w.strs("exclude", d.Options.Exclude, true)
		w.boolOmit("one_file_system", d.Options.OneFileSystem)
		w.boolOmit("verify", d.Options.Verify)
		w.close()
	case *FileScanned:
		w.file(&d.File)
	case *FileChanged:
		w.file(&d.File)
		w.strOmit("prev_sha256", d.PrevSHA256)
		w.str("reason", string(d.Reason))
	case *FileMoved:
		w.path("from", d.From)
		w.file(&d.File)
	case *FileDeleted:
		w.path("path", d.Path)
		w.strOmit("sha256", d.SHA256)
		w.strOmit("reason", d.Reason)
	case *FileUnreadable:
		w.path("path", d.Path)
		w.str("error", d.Error)
		w.boolOmit("dir", d.Dir)
	case *ScanCompleted:
		w.path("root", d.Root)
		w.bool("complete", d.Complete)
		w.key("counts")
		w.open()
		c := &d.Counts
		w.int("seen", c.Seen)
		w.int("read", c.Read)
		w.int("added", c.Added)
		w.int("changed", c.Changed)
		w.int("moved", c.Moved)
		w.int("deleted", c.Deleted)
		w.int("unreadable", c.Unreadable)
		w.int("bytes_read", c.BytesRead)
		w.close()
		w.int("duration_ns", d.DurationNS)
	case *FilesForgotten:
		if d.Root != "" {
			w.path("root", d.Root)
		}
		w.strOmit("reason", d.Reason)
	default:
		return nil, fmt.Errorf("encode: unknown payload %T", e.Data)
	}
	w.close()
	w.close()
	return bytes.Clone(w.b), nil
}

// encodeBufs are Encode's buffers.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// jsonWriter appends one JSON object. first tracks whether a comma is due.
type jsonWriter struct {
	b     []byte
	first bool
}

func (w *jsonWriter) open()  { w.b = append(w.b, '{'); w.first = true }
func (w *jsonWriter) close() { w.b = append(w.b, '}'); w.first = false }

func (w *jsonWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonWriter) boolOmit(k string, v bool) {
	if v {
		w.bool(k, v)
	}
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jsonWriter) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jsonWriter) strs(k string, vs []string, omitEmpty bool) {
	if omitEmpty && len(vs) == 0 {
		return
	}
	w.key(k)
	if vs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendString(w.b, v)
	}
	w.b = append(w.b, ']')
}

// path writes a Path: a JSON string when it is UTF-8, else the lossless
// object form (see Path.MarshalJSON).
func (w *jsonWriter) path(k string, p Path) {
	w.key(k)
	w.b = appendPath(w.b, p)
}

func appendPath(b []byte, p Path) []byte {
	if utf8.ValidString(string(p)) {
		return appendString(b, string(p))
	}
	b = append(b, `{"b64":"`...)
	b = base64.StdEncoding.AppendEncode(b, []byte(p))
	b = append(b, `","text":`...)
	b = appendString(b, strings.ToValidUTF8(string(p), "\uFFFD"))
	return append(b, '}')
}

func (w *jsonWriter) file(f *File) {
	w.path("path", f.Path)
	w.int("size", f.Size)
	w.uint("mode", uint64(f.Mode))
	w.int("mtime", f.MTime)
	w.int("ctime", f.CTime)
	if f.BTime != 0 {
		w.int("btime", f.BTime)
	}
	w.uint("inode", f.Inode)
	w.uint("dev", f.Device)
	w.uint("nlink", f.Nlink)
	w.uint("uid", uint64(f.UID))
	w.uint("gid", uint64(f.GID))
	if f.Target != "" {
		w.path("target", f.Target)
	}
	w.key("hashes")
	w.open()
	w.strOmit("md5", f.Hashes.MD5)
	w.strOmit("sha1", f.Hashes.SHA1)
	w.strOmit("sha256", f.Hashes.SHA256)
	w.strOmit("blake3", f.Hashes.BLAKE3)
	w.close()
	w.strOmit("unhashed", f.Unhashed)
	if a := f.Archive; a != nil {
		w.key("archive")
		w.open()
		if a.Path != "" {
			w.path("path", a.Path)
		}
		if len(a.Member) > 0 {
			w.key("member")
			w.b = append(w.b, '[')
			for i, m := range a.Member {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				w.b = appendPath(w.b, m)
			}
			w.b = append(w.b, ']')
		}
		w.str("format", a.Format)
		w.strOmit("encoding", a.Encoding)
		w.strOmit("crc32", a.CRC32)
		if a.Packed != 0 {
			w.int("packed", a.Packed)
		}
		w.boolOmit("encrypted", a.Encrypted)
		if a.Members != 0 {
			w.int("members", a.Members)
		}
		w.strOmit("error", a.Error)
		w.close()
	}
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes appendString copies as they are: ASCII, not a
// control character, quote or backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s, valid UTF-8, as a JSON string. Only what JSON
// requires is escaped (quote, backslash, control characters) plus U+2028
// and U+2029, so names stay readable.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xf])
				i += n
				start = i
				continue
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
