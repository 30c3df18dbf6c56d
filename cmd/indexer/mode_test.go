package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// Modes print as stat(2) and ls do: the POSIX st_mode, not Go's
// fs.FileMode bits (a symbolic link was 134218239). The conversion of
// every file type is tested in package service, which owns it.
func TestPosixModes(t *testing.T) {
	t.Parallel()
	if got := uint32(fs.ModeSymlink | 0o777); got != 134218239 {
		t.Fatalf("the issue's number: %d", got)
	}

	data := fixtureData(t)
	out := mustRun(t, "find", "notes.txt", "--json", "--data", data)
	if !strings.Contains(out, `"mode":33188,"mode_text":"-rw-r--r--"`) || !strings.HasPrefix(out, `{"machine":"laptop","path":`) {
		t.Fatalf("find --json: %s", out)
	}
	out = mustRun(t, "show", servicetest.NotesPath, "--json", "--data", data)
	if strings.Contains(out, `"mode":420`) || !strings.Contains(out, `"mode_text":"-rw-r--r--"`) {
		t.Fatalf("show --json: %s", out)
	}
	if out := mustRun(t, "show", servicetest.NotesPath, "--data", data); !strings.Contains(out, "-rw-r--r-- (100644)") {
		t.Fatalf("show: %s", out)
	}
}

// Tables mark a symbolic link, with its target, and do not give the
// target's length as its size.
func TestTablesMarkSymlinks(t *testing.T) {
	t.Parallel()
	s := servicetest.NewScan("m", "/d", time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	f := s.File("/d/file.txt", 1000, "x")
	s.Scanned(f)
	l := s.File("/d/link.txt", 8, "")
	l.Mode, l.Target, l.Hashes = uint32(fs.ModeSymlink|0o777), "file.txt", events.Hashes{}
	s.Scanned(l)
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, s.Complete(events.ScanCounts{Seen: 2})...)
	env.Close()
	for _, args := range [][]string{{"find", "link"}, {"tree", "/d", "--machine", "m"}} {
		out := mustRun(t, append(args, "--data", env.Dir)...)
		var row string
		for _, r := range strings.Split(out, "\n") {
			if strings.Contains(r, "link.txt") {
				row = r
			}
		}
		if !strings.Contains(row, "link.txt -> file.txt") || !strings.HasPrefix(strings.TrimSpace(row), "link") || strings.Contains(row, "8 B") {
			t.Errorf("%v: the link's row %q should say link and its target:\n%s", args, row, out)
		}
	}
	if out := mustRun(t, "find", "link", "--json", "--data", env.Dir); !strings.Contains(out, `"mode":41471,"mode_text":"lrwxrwxrwx"`) {
		t.Errorf("find --json of a link: %s", out)
	}
}

// TestPosixJSONAsDecoded: the one-pass rewrite gives byte for byte what
// decoding and encoding again gave, on the shapes the commands print and
// on strings made to confuse it.
func TestPosixJSONAsDecoded(t *testing.T) {
	t.Parallel()
	type file struct {
		Machine string `json:"machine"`
		Path    string `json:"path"`
		Mode    uint32 `json:"mode"`
		Inode   uint64 `json:"inode"`
		Target  string `json:"target,omitempty"`
	}
	type group struct {
		SHA256 string `json:"sha256"`
		Files  []file `json:"files"`
		Mode   string `json:"mode"` // not a number: left alone
	}
	type noInode struct {
		Mode uint32 `json:"mode"`
		Note string `json:"note"`
	}
	r := rand.New(rand.NewPCG(1, 2))
	weird := []string{`"mode":420,"inode":1`, `\"mode\":`, "\u003c\u003e&", "tab\there", `{"mode":1}`, "é ☃", `","inode":`, ""}
	var values []any
	for i := 0; i < 300; i++ {
		g := group{SHA256: strings.Repeat("ab", 32), Mode: weird[r.IntN(len(weird))]}
		for j := 0; j < r.IntN(5); j++ {
			g.Files = append(g.Files, file{Machine: weird[r.IntN(len(weird))], Path: "/p/" + weird[r.IntN(len(weird))],
				Mode:  []uint32{0o644, uint32(fs.ModeSymlink | 0o777), uint32(fs.ModeDir | fs.ModeSetgid | 0o755), 1 << 31}[r.IntN(4)],
				Inode: r.Uint64(), Target: weird[r.IntN(len(weird))]})
		}
		values = append(values, g, g.Files, noInode{Mode: 0o644, Note: weird[r.IntN(len(weird))]},
			map[string]any{"mode": -1, "inode": 2}, map[string]any{"mode": 1.5, "inode": 2, "x": []any{nil, true, 3}},
			map[string]any{"outer": map[string]any{"mode": 0o600, "inode": 7}, "mode": 0o644, "inode": 8})
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := slowPosixJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := posixJSON(b)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("posixJSON(%s)\n = %s, %v\nwant %s", b, got, err, want)
		}
	}
	// Bytes that are not UTF-8 json.Marshal writes as \ufffd; decoding
	// and encoding again wrote the character itself. The same text.
	b, _ := json.Marshal(file{Path: "/p/\xff", Mode: 0o644, Inode: 1})
	got, err := posixJSON(b)
	want, _ := slowPosixJSON(b)
	var g, w any
	if err != nil || json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || fmt.Sprint(g) != fmt.Sprint(w) {
		t.Fatalf("not UTF-8: %s against %s (%v)", got, want, err)
	}
	for _, bad := range []string{`{"mode":1,"inode":2`, `{"mode":1,"a":"x}`, `[{"mode":1]}`} {
		if _, err := posixJSON([]byte(bad)); err == nil {
			t.Errorf("posixJSON(%s): no error", bad)
		}
	}
}

// slowPosixJSON is posixJSON as it was: decode every value, convert, encode
// again. The test holds the new one to it.
//
// slowPosixJSON rewrites a JSON value for printing: every file object in it (one
// with "mode" and "inode") gets its mode as a POSIX st_mode number and
// "mode_text" as ls prints it. Key order is kept.
func slowPosixJSON(b []byte) ([]byte, error) {
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
