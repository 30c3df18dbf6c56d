package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
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
// "mode_text" as ls prints it. Key order is kept.
func posixJSON(b []byte) ([]byte, error) {
	if !bytes.Contains(b, []byte(`"mode":`)) {
		return b, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := decodeOrdered(d)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	writeJSON(&out, v)
	return out.Bytes(), nil
}

// writeJSON writes a value decodeOrdered read.
func writeJSON(w *bytes.Buffer, v any) {
	switch x := v.(type) {
	case orderedObject:
		w.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				w.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			w.Write(kb)
			w.WriteByte(':')
			writeJSON(w, x.vals[i])
		}
		w.WriteByte('}')
	case []any:
		w.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.WriteByte(',')
			}
			writeJSON(w, e)
		}
		w.WriteByte(']')
	default:
		vb, _ := json.Marshal(x)
		w.Write(vb)
	}
}

// orderedObject is a JSON object with its keys in order.
type orderedObject struct {
	keys []string
	vals []any
}

// decodeOrdered decodes one JSON value from d, objects as orderedObject
// and numbers as json.Number, and converts file modes (see posixJSON).
func decodeOrdered(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		var o orderedObject
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			o.keys, o.vals = append(o.keys, kt.(string)), append(o.vals, v)
		}
		if _, err := d.Token(); err != nil {
			return nil, err
		}
		return fixMode(o), nil
	case json.Delim('['):
		arr := []any{}
		for d.More() {
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := d.Token(); err != nil {
			return nil, err
		}
		return arr, nil
	}
	return t, nil
}

// fixMode gives a file object its POSIX mode and mode_text.
func fixMode(o orderedObject) orderedObject {
	mi, hasInode := -1, false
	for i, k := range o.keys {
		switch k {
		case "mode":
			mi = i
		case "inode":
			hasInode = true
		}
	}
	if mi < 0 || !hasInode {
		return o
	}
	n, ok := o.vals[mi].(json.Number)
	if !ok {
		return o
	}
	m, err := strconv.ParseUint(string(n), 10, 32)
	if err != nil {
		return o
	}
	fm := fs.FileMode(m)
	o.vals[mi] = json.Number(strconv.FormatUint(uint64(posixMode(fm)), 10))
	o.keys = append(o.keys[:mi+1], append([]string{"mode_text"}, o.keys[mi+1:]...)...)
	o.vals = append(o.vals[:mi+1], append([]any{modeText(fm)}, o.vals[mi+1:]...)...)
	return o
}
