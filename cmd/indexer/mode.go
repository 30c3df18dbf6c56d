package main

import (
	"bytes"
	"errors"
	"io/fs"
	"slices"
	"strconv"
)

// The index records a file's mode as Go's fs.FileMode bits (the log's
// format). What the CLI prints is what ls and stat(2) users know: the POSIX
// st_mode number and ls's text.

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

// posixMode converts fs.FileMode bits to a POSIX st_mode.
func posixMode(m fs.FileMode) uint32 {
	mode := uint32(m.Perm()) | 0o100000
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

// modeText is ls -l's text of a mode: -rw-r--r--, lrwxrwxrwx, drwxr-sr-t.
func modeText(m fs.FileMode) string {
	b := []byte("-rwxrwxrwx")
	for _, t := range fileTypes {
		if m&t.bit != 0 {
			b[0] = t.letter
			break
		}
	}
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	for _, s := range specialBits {
		switch {
		case m&s.bit == 0:
		case b[s.at] == '-':
			b[s.at] = s.upper
		default:
			b[s.at] = s.lower
		}
	}
	return string(b)
}

// isLink reports whether a recorded mode is a symbolic link's.
func isLink(mode uint32) bool { return fs.FileMode(mode)&fs.ModeSymlink != 0 }

// posixJSON rewrites a JSON value for printing: every file object in it (one
// with "mode" and "inode") gets its mode as a POSIX st_mode number and
// "mode_text" as ls prints it. Key order is kept, and every other byte.
//
// b is json.Marshal's output (compact). It is rewritten in one pass over
// the bytes: decoding it into values and encoding them again took two
// thirds of `indexer dupes --json`'s CPU.
func posixJSON(b []byte) ([]byte, error) {
	if !bytes.Contains(b, []byte(`"mode":`)) {
		return b, nil
	}
	type frame struct {
		obj, wantKey   bool
		modeAt, modeTo int // the mode's number, when it has one
		inode          bool
	}
	type edit struct {
		at, to int
		repl   []byte
	}
	var (
		stack []frame
		edits []edit
	)
	for i := 0; i < len(b); {
		switch b[i] {
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return nil, errors.New("unterminated string")
			}
			str := b[i+1 : j]
			i = j + 1
			if n := len(stack); n == 0 || !stack[n-1].obj || !stack[n-1].wantKey {
				continue // a value
			}
			top := &stack[len(stack)-1]
			top.wantKey = false
			if i >= len(b) || b[i] != ':' {
				return nil, errors.New("a key without a colon")
			}
			i++
			switch string(str) {
			case "inode":
				top.inode = true
			case "mode":
				k := i
				for k < len(b) && (b[k] >= '0' && b[k] <= '9' || b[k] == '-' || b[k] == '+' || b[k] == '.' || b[k] == 'e' || b[k] == 'E') {
					k++
				}
				if k > i {
					top.modeAt, top.modeTo = i, k
					i = k
				}
			}
		case '{':
			stack = append(stack, frame{obj: true, wantKey: true, modeAt: -1})
			i++
		case '[':
			stack = append(stack, frame{modeAt: -1})
			i++
		case ',':
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
			i++
		case '}', ']':
			n := len(stack)
			if n == 0 || stack[n-1].obj != (b[i] == '}') {
				return nil, errors.New("unbalanced brackets")
			}
			f := stack[n-1]
			stack = stack[:n-1]
			i++
			if f.modeAt < 0 || !f.inode {
				continue
			}
			m, err := strconv.ParseUint(string(b[f.modeAt:f.modeTo]), 10, 32)
			if err != nil {
				continue
			}
			fm := fs.FileMode(m)
			repl := strconv.AppendUint(nil, uint64(posixMode(fm)), 10)
			repl = append(repl, `,"mode_text":"`...)
			repl = append(append(repl, modeText(fm)...), '"')
			edits = append(edits, edit{f.modeAt, f.modeTo, repl})
		default:
			i++
		}
	}
	if len(stack) != 0 {
		return nil, errors.New("unbalanced brackets")
	}
	// Inner objects end first: put the edits in the order of the text.
	slices.SortFunc(edits, func(a, b edit) int { return a.at - b.at })
	out := make([]byte, 0, len(b)+len(edits)*32)
	last := 0
	for _, e := range edits {
		out = append(append(out, b[last:e.at]...), e.repl...)
		last = e.to
	}
	return append(out, b[last:]...), nil
}
