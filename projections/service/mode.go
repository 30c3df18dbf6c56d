package service

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
)

// The index records a file's mode as Go's fs.FileMode bits (the log's
// format). What every reply gives, the CLI's JSON, the HTTP API and the NATS
// service, is what ls and stat(2) users know: the POSIX st_mode number in
// "mode" and ls's text in "mode_text". AppendReply is the one place that
// writes a reply so (the duplicate groups by hand, every other value through
// PosixJSON); Client reads such replies back into FileMode bits.

// fileTypes are the file types of fs.FileMode in the order to test them
// (a character device also has ModeDevice), with st_mode's type bits and
// ls's letter. A mode with none of them is a regular file.
var fileTypes = []struct {
	bit    fs.FileMode
	posix  uint32
	letter byte
}{
	{fs.ModeDir, 0o040000, 'd'},
	{fs.ModeSymlink, 0o120000, 'l'},
	{fs.ModeNamedPipe, 0o010000, 'p'},
	{fs.ModeSocket, 0o140000, 's'},
	{fs.ModeCharDevice, 0o020000, 'c'},
	{fs.ModeDevice, 0o060000, 'b'},
}

// specialBits are setuid, setgid and sticky: st_mode's bits, and where ls
// shows them (over the x of owner, group, others).
var specialBits = []struct {
	bit          fs.FileMode
	posix        uint32
	at           int
	lower, upper byte
}{
	{fs.ModeSetuid, 0o4000, 3, 's', 'S'},
	{fs.ModeSetgid, 0o2000, 6, 's', 'S'},
	{fs.ModeSticky, 0o1000, 9, 't', 'T'},
}

const (
	posixRegular  = 0o100000
	posixTypeMask = 0o170000
)

// PosixMode converts fs.FileMode bits to a POSIX st_mode.
func PosixMode(m fs.FileMode) uint32 {
	mode := uint32(m.Perm()) | posixRegular
	for _, t := range fileTypes {
		if m&t.bit != 0 {
			mode = uint32(m.Perm()) | t.posix
			break
		}
	}
	for _, s := range specialBits {
		if m&s.bit != 0 {
			mode |= s.posix
		}
	}
	return mode
}

// FileMode converts a POSIX st_mode back to fs.FileMode bits: the
// inverse of PosixMode for every mode a Unix stat gives.
func FileMode(posix uint32) fs.FileMode {
	m := fs.FileMode(posix & 0o777)
	for _, t := range fileTypes {
		if posix&posixTypeMask == t.posix {
			m |= t.bit
			if t.bit == fs.ModeCharDevice {
				m |= fs.ModeDevice // as os.Stat gives a character device
			}
			break
		}
	}
	for _, s := range specialBits {
		if posix&s.posix != 0 {
			m |= s.bit
		}
	}
	return m
}

// ModeText is ls -l's text of a mode: -rw-r--r--, lrwxrwxrwx, drwxr-sr-t.
func ModeText(m fs.FileMode) string { return string(appendModeText(nil, m)) }

// appendModeText appends ModeText(m) without making a string of it.
func appendModeText(b []byte, m fs.FileMode) []byte {
	n := len(b)
	b = append(b, "-rwxrwxrwx"...)
	t := b[n:]
	for _, ft := range fileTypes {
		if m&ft.bit != 0 {
			t[0] = ft.letter
			break
		}
	}
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) == 0 {
			t[i+1] = '-'
		}
	}
	for _, s := range specialBits {
		switch {
		case m&s.bit == 0:
		case t[s.at] == '-':
			t[s.at] = s.upper
		default:
			t[s.at] = s.lower
		}
	}
	return b
}

// PosixJSON rewrites a JSON reply for people and other programs: every file
// object in it (one with "mode" and "inode": a file of the index, or the
// data of an event) gets its mode as a POSIX st_mode number and, after it,
// "mode_text" as ls prints it. Everything else is kept byte for byte. It
// rewrites in one pass, without decoding the reply into values: a page of
// 100,000 files costs a copy of its bytes.
func PosixJSON(b []byte) ([]byte, error) {
	if !bytes.Contains(b, []byte(`"mode":`)) {
		return b, nil
	}
	return rewriteModes(b, true)
}

// fileModeJSON undoes PosixJSON: the file objects that carry "mode_text"
// get their mode back as fs.FileMode bits, without mode_text, so a reply
// decodes into the same values as the index gave.
func fileModeJSON(b []byte) ([]byte, error) {
	if !bytes.Contains(b, []byte(`"mode_text":`)) {
		return b, nil
	}
	return rewriteModes(b, false)
}

// errBadJSON is rewriteModes's answer to bytes that are not JSON.
var errBadJSON = errors.New("rewrite modes: not JSON")

// jsonFrame is an object or array rewriteModes is in. Offsets are into
// the output.
type jsonFrame struct {
	object    bool
	expectKey bool
	key       []byte // the object's current key
	lastComma int    // where the last comma between members is, or -1
	inode     bool
	// mode is the number of "mode" at out[modeStart:modeEnd].
	modeStart, modeEnd int
	mode               uint32
	// "mode_text" and its value, with the comma that joins it to the
	// object, are out[textStart:textEnd].
	textStart, textEnd int
	textFirst          bool // it was the object's first member
}

// rewriteModes copies b, changing each file object's mode as toPosix says:
// from fs.FileMode bits to POSIX with mode_text, or back.
func rewriteModes(b []byte, toPosix bool) ([]byte, error) {
	out := make([]byte, 0, len(b)+len(b)/16)
	var stack []jsonFrame
	top := func() *jsonFrame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch c {
		case '{', '[':
			stack = append(stack, jsonFrame{object: c == '{', expectKey: c == '{', lastComma: -1, modeStart: -1, textStart: -1})
			out = append(out, c)
			i++
		case '}', ']':
			f := top()
			if f == nil || f.object != (c == '}') {
				return nil, errBadJSON
			}
			if f.object {
				out = fixModes(out, f, toPosix)
			}
			stack = stack[:len(stack)-1]
			out = append(out, c)
			i++
		case ',':
			if f := top(); f != nil && f.object {
				f.expectKey, f.lastComma = true, len(out)
			}
			out = append(out, c)
			i++
		case '"':
			j := stringEnd(b, i+1)
			if j < 0 {
				return nil, errBadJSON
			}
			f := top()
			switch {
			case f != nil && f.object && f.expectKey:
				f.expectKey, f.key = false, b[i+1:j-1]
				if string(f.key) == "mode_text" {
					f.textStart, f.textFirst = len(out), f.lastComma < 0
					if !f.textFirst {
						f.textStart = f.lastComma
					}
				}
			case f != nil && f.object && string(f.key) == "mode_text":
				f.textEnd = len(out) + j - i
			}
			out = append(out, b[i:j]...)
			i = j
		default:
			j := i
			for j < len(b) && !endsLiteral(b[j]) {
				j++
			}
			if f := top(); f != nil && f.object && j > i {
				switch string(f.key) {
				case "mode":
					if m, err := strconv.ParseUint(string(b[i:j]), 10, 32); err == nil {
						f.modeStart, f.modeEnd, f.mode = len(out), len(out)+j-i, uint32(m)
					}
				case "inode":
					f.inode = true
				}
			}
			if j == i {
				j++ // ':' or white space
			}
			out = append(out, b[i:j]...)
			i = j
		}
	}
	if len(stack) != 0 {
		return nil, errBadJSON
	}
	return out, nil
}

// stringEnd returns the index past the quote that closes the string whose
// text starts at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return -1
		}
		q := i + k
		n := 0 // backslashes before the quote
		for q-n-1 >= i && b[q-n-1] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// endsLiteral reports whether c ends a number, true, false or null.
func endsLiteral(c byte) bool {
	switch c {
	case ',', ']', '}', ':', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// fixModes rewrites the mode of the object f, whose members end out, if it
// is a file's.
func fixModes(out []byte, f *jsonFrame, toPosix bool) []byte {
	if !f.inode || f.modeStart < 0 {
		return out
	}
	if toPosix {
		if f.textStart >= 0 {
			return out // already POSIX
		}
		fm := fs.FileMode(f.mode)
		var buf [40]byte
		repl := strconv.AppendUint(buf[:0], uint64(PosixMode(fm)), 10)
		repl = append(append(append(repl, `,"mode_text":"`...), ModeText(fm)...), '"')
		return splice(out, f.modeStart, f.modeEnd, repl)
	}
	if f.textStart < 0 {
		return out
	}
	end := f.textEnd
	if f.textFirst && end < len(out) && out[end] == ',' {
		end++ // the first member: drop the comma after it
	}
	var buf [20]byte
	repl := strconv.AppendUint(buf[:0], uint64(FileMode(f.mode)), 10)
	if f.textStart > f.modeStart { // the later edit first, so offsets hold
		out = splice(out, f.textStart, end, nil)
		return splice(out, f.modeStart, f.modeEnd, repl)
	}
	out = splice(out, f.modeStart, f.modeEnd, repl)
	return splice(out, f.textStart, end, nil)
}

// splice replaces out[from:to] with repl, moving the bytes after it (the
// rest of one object) in place.
func splice(out []byte, from, to int, repl []byte) []byte {
	n := len(out) + len(repl) - (to - from)
	end := len(out)
	if n > end {
		out = append(out, make([]byte, n-end)...)
	}
	copy(out[from+len(repl):], out[to:end])
	copy(out[from:], repl)
	return out[:n]
}
