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

// posixMode converts fs.FileMode bits to a POSIX st_mode.
func posixMode(m fs.FileMode) uint32 {
	mode := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		mode |= 0o040000
	case m&fs.ModeSymlink != 0:
		mode |= 0o120000
	case m&fs.ModeNamedPipe != 0:
		mode |= 0o010000
	case m&fs.ModeSocket != 0:
		mode |= 0o140000
	case m&fs.ModeCharDevice != 0:
		mode |= 0o020000
	case m&fs.ModeDevice != 0:
		mode |= 0o060000
	default:
		mode |= 0o100000
	}
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// modeText is ls -l's text of a mode: -rw-r--r--, lrwxrwxrwx, drwxr-sr-t.
func modeText(m fs.FileMode) string {
	b := []byte("-rwxrwxrwx")
	switch {
	case m&fs.ModeDir != 0:
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := func(set bool, at int, lower, upper byte) {
		if !set {
			return
		}
		if b[at] == '-' {
			b[at] = upper
		} else {
			b[at] = lower
		}
	}
	special(m&fs.ModeSetuid != 0, 3, 's', 'S')
	special(m&fs.ModeSetgid != 0, 6, 's', 'S')
	special(m&fs.ModeSticky != 0, 9, 't', 'T')
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
