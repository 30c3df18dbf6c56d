package service

import (
	"encoding/json"
	"io/fs"
	"strconv"
	"unicode/utf8"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

// AppendReply appends v's JSON to b as every front end gives a reply (the
// CLI's --json, the HTTP API, the NATS service): json.Marshal's bytes with
// file modes as PosixJSON writes them.
//
// The duplicate groups (Group, DupesResult) are written by hand, straight
// into b, in those same bytes: `indexer dupes --limit 0 --json` on tree S
// (7,942 groups, 17,661 files, 8 MB) spent 55% of its CPU in
// encoding/json's reflection and PosixJSON's second pass over the bytes.
// TestReplyJSONAsMarshaled holds them to json.Marshal and PosixJSON over a
// real index of strange names, FuzzGroupJSON over any strings.
func AppendReply(b []byte, v any) ([]byte, error) {
	switch r := v.(type) {
	case Group:
		return appendGroup(b, &r), nil
	case DupesResult:
		return appendDupes(b, &r), nil
	}
	j, err := json.Marshal(v)
	if err == nil {
		j, err = PosixJSON(j)
	}
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendDupes writes {"groups":[...],"total":N}.
func appendDupes(b []byte, r *DupesResult) []byte {
	b = append(b, `{"groups":`...)
	if r.Groups == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Groups {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendGroup(b, &r.Groups[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(r.Total), 10)
	return append(b, '}')
}

// appendGroup writes a group as json.Marshal does: projections.Group's
// fields, then its files unless there are none (omitempty).
func appendGroup(b []byte, g *Group) []byte {
	b = append(b, `{"sha256":`...)
	b = appendJSONString(b, g.SHA256)
	b = appendUintField(b, `,"size":`, g.Size)
	b = appendUintField(b, `,"count":`, g.Count)
	b = appendUintField(b, `,"inodes":`, g.Inodes)
	b = appendUintField(b, `,"wasted":`, g.Wasted)
	if len(g.Files) > 0 {
		b = append(b, `,"files":[`...)
		for i := range g.Files {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFile(b, &g.Files[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendFile writes a file of the index as json.Marshal writes
// projections.File (its fields, events.File's, then its own), with the
// mode as PosixJSON gives it: the POSIX st_mode, then "mode_text".
func appendFile(b []byte, f *projections.File) []byte {
	b = append(b, `{"machine":`...)
	b = appendJSONString(b, f.Machine)
	b = append(b, `,"path":`...)
	b = appendPathJSON(b, f.Path)
	b = appendIntField(b, `,"size":`, f.Size)
	mode := fs.FileMode(f.Mode)
	b = appendUintField(b, `,"mode":`, uint64(PosixMode(mode)))
	b = append(b, `,"mode_text":"`...)
	b = appendModeText(b, mode)
	b = append(b, '"')
	b = appendIntField(b, `,"mtime":`, f.MTime)
	b = appendIntField(b, `,"ctime":`, f.CTime)
	if f.BTime != 0 {
		b = appendIntField(b, `,"btime":`, f.BTime)
	}
	b = appendUintField(b, `,"inode":`, f.Inode)
	b = appendUintField(b, `,"dev":`, f.Device)
	b = appendUintField(b, `,"nlink":`, f.Nlink)
	b = appendUintField(b, `,"uid":`, uint64(f.UID))
	b = appendUintField(b, `,"gid":`, uint64(f.GID))
	if f.Target != "" {
		b = append(b, `,"target":`...)
		b = appendPathJSON(b, f.Target)
	}
	b = append(b, `,"hashes":{`...)
	first := true
	for _, h := range [...]struct{ key, v string }{
		{`"md5":`, f.Hashes.MD5}, {`"sha1":`, f.Hashes.SHA1}, {`"sha256":`, f.Hashes.SHA256}, {`"blake3":`, f.Hashes.BLAKE3},
	} {
		if h.v == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, h.key...)
		b = appendJSONString(b, h.v)
	}
	b = append(b, '}')
	if f.Unhashed != "" {
		b = append(b, `,"unhashed":`...)
		b = appendJSONString(b, f.Unhashed)
	}
	if a := f.Archive; a != nil {
		b = append(b, `,"archive":{`...)
		if a.Path != "" {
			b = append(b, `"path":`...)
			b = appendPathJSON(b, a.Path)
			b = append(b, ',')
		}
		if len(a.Member) > 0 {
			b = append(b, `"member":[`...)
			for i, m := range a.Member {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendPathJSON(b, m)
			}
			b = append(b, "],"...)
		}
		b = append(b, `"format":`...)
		b = appendJSONString(b, a.Format)
		if a.Encoding != "" {
			b = append(b, `,"encoding":`...)
			b = appendJSONString(b, a.Encoding)
		}
		if a.CRC32 != "" {
			b = append(b, `,"crc32":`...)
			b = appendJSONString(b, a.CRC32)
		}
		if a.Packed != 0 {
			b = appendIntField(b, `,"packed":`, a.Packed)
		}
		if a.Encrypted {
			b = append(b, `,"encrypted":true`...)
		}
		if a.Members != 0 {
			b = appendIntField(b, `,"members":`, a.Members)
		}
		if a.Error != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, a.Error)
		}
		b = append(b, '}')
	}
	b = appendUintField(b, `,"seq":`, f.Seq)
	b = appendUintField(b, `,"id":`, f.ID)
	if f.BitRot != "" {
		b = append(b, `,"bit_rot_recorded_sha256":`...)
		b = appendJSONString(b, f.BitRot)
	}
	return append(b, '}')
}

func appendUintField(b []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(b, key...), v, 10)
}

func appendIntField(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

// appendPathJSON writes a path as json.Marshal does: its MarshalJSON's
// bytes (events.Path, which keeps every byte), with <, > and & escaped as
// json.Marshal escapes them in what a MarshalJSON gives.
func appendPathJSON(b []byte, p events.Path) []byte {
	n := len(b)
	b = p.AppendJSON(b)
	for i := n; i < len(b); i++ {
		if c := b[i]; c == '<' || c == '>' || c == '&' {
			return htmlEscape(b, i)
		}
	}
	return b
}

// htmlEscape escapes <, > and & in b[at:], whose first byte is one, as
// \u003c, \u003e and \u0026.
func htmlEscape(b []byte, at int) []byte {
	tail := append([]byte(nil), b[at:]...)
	b = b[:at]
	for _, c := range tail {
		if c == '<' || c == '>' || c == '&' {
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as encoding/json writes a string (with
// json.Marshal's HTML escaping): quote, backslash, <, > and & and control
// characters escaped, \b \f \n \r \t short, invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
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
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe marks the ASCII bytes a JSON string holds as they are, as
// json.Marshal writes strings: not control characters, quote, backslash,
// or <, > and &.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		switch c {
		case '"', '\\', '<', '>', '&':
		default:
			t[c] = true
		}
	}
	return t
}()
