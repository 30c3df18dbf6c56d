package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
)

// hostilePaths are names real disks hold that naive codecs mangle.
var hostilePaths = []events.Path{
	"/plain/file.txt",
	"/new\nline",
	`/quote"and\backslash`,
	"/tab\there",
	"/latin1-\xe9t\xe9",         // not UTF-8
	"/lone-\xff\xfe",            // not UTF-8
	"/ctrl-\x01\x1f\x7f",        // control characters
	"/emoji-\U0001F600-\u00e9",  // valid UTF-8
	"/html-<script>&amp;",       // escaped by encoding/json
	"/bom-\ufeff",               //
	"/sur-\xed\xa0\x80",         // an encoded surrogate: invalid UTF-8
	"",                          // empty
	"/nul-\x00-inside",          // cannot exist on disk, must still survive
	"/ARCHIVE.zip::inner/a.txt", // a virtual path inside an archive
}

func sampleEvents() []events.Event {
	scan := events.NewID()
	now := time.Date(2026, 11, 22, 2, 49, 50, 123456789, time.UTC)
	file := func(p events.Path) events.File {
		return events.File{
			Path: p, Size: 12345, Mode: 0o644, MTime: now.UnixNano(), CTime: now.UnixNano() + 1,
			BTime: now.UnixNano() - 5, Inode: 99, Device: 2049, Nlink: 2, UID: 1000, GID: 1000,
			Hashes: events.Hashes{MD5: strings.Repeat("a", 32), SHA1: strings.Repeat("b", 40), SHA256: strings.Repeat("c", 64)},
		}
	}
	var out []events.Event
	for _, p := range hostilePaths {
		f := file(p)
		link := f
		link.Target = p + "-target"
		link.Hashes = events.Hashes{}
		for _, d := range []events.Payload{
			&events.ScanStarted{Root: p, Options: events.ScanOptions{Hashes: []string{"md5", "sha1", "sha256"}, Exclude: []string{"*.tmp"}, Verify: true}},
			&events.FileScanned{File: f},
			&events.FileScanned{File: link},
			&events.FileChanged{File: f, PrevSHA256: strings.Repeat("d", 64), Reason: events.ReasonBitRot},
			&events.FileMoved{From: p + "-old", File: f},
			&events.FileDeleted{Path: p, SHA256: strings.Repeat("e", 64)},
			&events.FileDeleted{Path: p, Reason: events.DeletedExcluded},
			&events.FileUnreadable{Path: p, Error: "permission denied", Dir: true},
			&events.ScanCompleted{Root: p, Complete: true, Counts: events.ScanCounts{Seen: 1, Read: 2, Added: 3, Changed: 4, Moved: 5, Deleted: 6, Unreadable: 7, BytesRead: 8}, DurationNS: 9},
			&events.FilesForgotten{Root: p, Reason: "sold the disk"},
			&events.FilesForgotten{},
		} {
			out = append(out, events.New("nas-1_x", scan, now, d))
		}
	}
	// Archive members: a nested member with a name that is not UTF-8, an
	// encrypted one, and an archive file's own outcome.
	member := file("/d/a.zip::inner.tar::caf\xe9.txt")
	member.Inode, member.Device, member.Nlink, member.UID, member.GID, member.CTime, member.BTime = 0, 0, 0, 0, 0, 0, 0
	member.Archive = &events.Archive{Path: "/d/a.zip", Member: []events.Path{"inner.tar", "caf\xe9.txt"},
		Format: "tar", Encoding: "bytes", CRC32: "1a2b3c4d", Packed: 77}
	locked := member
	locked.Path = "/d/a.zip::secret.txt"
	locked.Hashes = events.Hashes{}
	locked.Archive = &events.Archive{Path: "/d/a.zip", Member: []events.Path{"secret.txt"}, Format: "zip",
		Encoding: "utf-8", Encrypted: true}
	growing := file("/var/log/growing.log")
	growing.Hashes, growing.Unhashed = events.Hashes{}, events.UnhashedChanging
	outer := file("/d/a.zip")
	outer.Archive = &events.Archive{Format: "zip", Members: 3, Error: "truncated: unexpected EOF"}
	for _, d := range []events.Payload{
		&events.FileScanned{File: member},
		&events.FileScanned{File: locked},
		&events.FileScanned{File: outer},
		&events.FileScanned{File: growing},
		&events.FileChanged{File: member, PrevSHA256: strings.Repeat("d", 64), Reason: events.ReasonContent},
		&events.FileMoved{From: "/old/a.zip::inner.tar::caf\xe9.txt", File: member},
	} {
		out = append(out, events.New("nas-1_x", scan, now, d))
	}
	return out
}

// TestArchiveField: a member's archive field is readable JSON, and an
// event without it (every event written before archives were read) is a
// plain file.
func TestArchiveField(t *testing.T) {
	t.Parallel()
	var member events.Event
	for _, e := range sampleEvents() {
		if f, ok := e.Data.(*events.FileScanned); ok && f.IsMember() {
			member = e
			break
		}
	}
	b, err := events.Encode(member)
	if err != nil {
		t.Fatal(err)
	}
	want := `"archive":{"path":"/d/a.zip","member":["inner.tar",{"b64":"Y2Fm6S50eHQ=","text":"caf` + "\uFFFD" + `.txt"}],` +
		`"format":"tar","encoding":"bytes","crc32":"1a2b3c4d","packed":77}`
	if !strings.Contains(string(b), want) {
		t.Fatalf("member event\n%s\ndoes not hold\n%s", b, want)
	}
	plain, err := events.Encode(sampleEvents()[1])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte(`"archive"`)) {
		t.Fatalf("a plain file has an archive field: %s", plain)
	}
	e, err := events.Decode(plain)
	if err != nil {
		t.Fatal(err)
	}
	if f := e.Data.(*events.FileScanned); f.Archive != nil || f.IsMember() {
		t.Fatalf("a plain file decodes as a member: %+v", f.Archive)
	}
	for in, isMember := range map[string]bool{
		`"archive":null`:                            false,
		`"archive":{"format":"zip","members":2}`:    false,
		`"archive":{"member":["x"],"format":"zip"}`: true,
	} {
		e, err := events.Decode(bytes.Replace(plain, []byte(`"hashes":`), []byte(in+`,"hashes":`), 1))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := e.Data.(*events.FileScanned).IsMember(); got != isMember {
			t.Errorf("%s: IsMember = %v, want %v", in, got, isMember)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	seen := map[events.Type]bool{}
	for _, e := range sampleEvents() {
		seen[e.Type] = true
		b, err := events.Encode(e)
		if err != nil {
			t.Fatalf("Encode(%s): %v", e.Type, err)
		}
		if !json.Valid(b) {
			t.Fatalf("Encode(%s) is not valid JSON: %s", e.Type, b)
		}
		if bytes.ContainsAny(b, "\n\r") {
			t.Fatalf("Encode(%s) holds a raw line break, not one line: %q", e.Type, b)
		}
		got, err := events.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v\n%s", e.Type, err, b)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v\njson %s", e.Type, got.Data, e.Data, b)
		}
	}
	for _, typ := range events.Types {
		if !seen[typ] {
			t.Errorf("no sample of %s", typ)
		}
	}
}

func TestPathJSONIsReadable(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(events.Path("/a/b c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `"/a/b c.txt"`; got != want {
		t.Fatalf("json = %s, want %s", got, want)
	}
	b, err = json.Marshal(events.Path("/caf\xe9"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"b64":"L2NhZuk=","text":"/caf`+"\uFFFD"+`"}`; got != want {
		t.Fatalf("json = %s, want %s", got, want)
	}
}

func TestPathString(t *testing.T) {
	t.Parallel()
	for in, want := range map[events.Path]string{
		"/a/b":       "/a/b",
		"/caf\xe9":   `/caf\xe9`,
		"/new\nline": `/new\nline`,
		"/é":         "/é",
	} {
		if got := in.String(); got != want {
			t.Errorf("Path(%q).String() = %q, want %q", string(in), got, want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	good, err := events.Encode(sampleEvents()[1])
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"garbage":      {"hello", events.ErrMalformed},
		"empty":        {"", events.ErrMalformed},
		"array":        {"[1,2]", events.ErrMalformed},
		"no version":   {strings.Replace(string(good), `"v":1`, `"v":0`, 1), events.ErrMalformed},
		"newer":        {strings.Replace(string(good), `"v":1`, `"v":2`, 1), events.ErrNewerSchema},
		"unknown type": {strings.Replace(string(good), `"FileScanned"`, `"FileEaten"`, 1), events.ErrMalformed},
		"bad id":       {strings.Replace(string(good), `"id":"`, `"id":"x`, 1), events.ErrMalformed},
		"bad machine":  {strings.Replace(string(good), `"nas-1_x"`, `"a.b"`, 1), events.ErrMalformed},
		"no data":      {strings.Replace(string(good), `"data":{`, `"nodata":{`, 1), events.ErrMalformed},
		"bad data":     {strings.Replace(string(good), `"size":12345`, `"size":"big"`, 1), events.ErrMalformed},
		"bad b64 path": {strings.Replace(string(good), `"path":"/plain/file.txt"`, `"path":{"b64":"!!"}`, 1), events.ErrMalformed},
	} {
		if _, err := events.Decode([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	if got, want := events.Subject("nas1", events.TypeFileChanged), "idx.nas1.file.changed"; got != want {
		t.Fatalf("Subject = %q, want %q", got, want)
	}
	for _, typ := range events.Types {
		got, ok := events.TypeOfKind(events.Kind(typ))
		if !ok || got != typ {
			t.Errorf("TypeOfKind(Kind(%s)) = %s, %v", typ, got, ok)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "a*", ">", "caf\xe9", strings.Repeat("x", 65)} {
		if err := events.ValidateMachine(bad); err == nil {
			t.Errorf("ValidateMachine(%q) = nil, want an error", bad)
		}
	}
	// The error names the offending character as written, not one byte of
	// it.
	for name, want := range map[string]string{
		"ünï":     `"ü" is not allowed`,
		"ab€":     `"€" is not allowed`,
		"caf\xe9": `"\xe9" is not allowed`,
		"a.b":     `"." is not allowed`,
	} {
		if err := events.ValidateMachine(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateMachine(%q) = %v, want it to say %s", name, err, want)
		}
	}
	for _, good := range []string{"nas1", "my-laptop", "USB_disk_2"} {
		if err := events.ValidateMachine(good); err != nil {
			t.Errorf("ValidateMachine(%q) = %v", good, err)
		}
	}
	if got, want := events.MachineFromHost("my host.example.com"), "my-host"; got != want {
		t.Errorf("MachineFromHost = %q, want %q", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	samples := sampleEvents()
	for _, e := range append(samples[:16:16], samples[len(samples)-5:]...) {
		b, err := events.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"type":"FileDeleted","data":{"path":{"b64":"AA=="}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes has one canonical form: encoding it, decoding
		// that and encoding again gives the same bytes.
		b2, err := events.Encode(e)
		if err != nil {
			t.Fatalf("Encode of decoded event: %v", err)
		}
		e2, err := events.Decode(b2)
		if err != nil {
			t.Fatalf("Decode of re-encoded event: %v\n%s", err, b2)
		}
		b3, err := events.Encode(e2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b2, b3) {
			t.Fatalf("re-encode changed the event:\n%s\n%s", b2, b3)
		}
	})
}

func FuzzPath(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(string(p))
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(events.Path(s))
		if err != nil {
			t.Fatal(err)
		}
		var p events.Path
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if string(p) != s {
			t.Fatalf("round trip %q -> %s -> %q", s, b, string(p))
		}
	})
}

// TestEncodeMatchesEncodingJSON checks the hand-written encoder against
// encoding/json on the same structs: the same JSON values, field for field.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, e := range sampleEvents() {
		ours, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := json.Marshal(struct {
			events.Header
			Data events.Payload `json:"data"`
		}{e.Header, e.Data})
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("our JSON does not parse: %v\n%s", err, ours)
		}
		json.Unmarshal(theirs, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s:\n ours   %s\n theirs %s", e.Type, ours, theirs)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e := sampleEvents()[1]
	for b.Loop() {
		events.Encode(e)
	}
}

func BenchmarkDecode(b *testing.B) {
	buf, _ := events.Encode(sampleEvents()[1])
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		events.Decode(buf)
	}
}

// TestDecodeAcceptsAnyValidLayout: a stranger's valid event may order keys
// differently, add whitespace and fields, and escape characters.
func TestDecodeAcceptsAnyValidLayout(t *testing.T) {
	t.Parallel()
	in := `  {"data" : {"extra":[1,{"a":null},"x"], "hashes":{"sha256":"ab"}, "size": 7,
	  "path":"/a\u00e9\ud83d\ude00\n\"q\"\/b"}, "time":"2026-11-22T02:49:50Z",
	  "machine":"m1", "id":"01J00000000000000000000000", "scan":"01J00000000000000000000001",
	  "type":"FileScanned", "v":1, "future_field": {"deep":[[[]]]} }  `
	e, err := events.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	f := e.Data.(*events.FileScanned)
	if got, want := string(f.Path), "/a\u00e9\U0001F600\n\"q\"/b"; got != want {
		t.Fatalf("path = %q, want %q", got, want)
	}
	if f.Size != 7 || f.Hashes.SHA256 != "ab" || e.Machine != "m1" {
		t.Fatalf("decoded %+v", f)
	}
	for name, bad := range map[string]string{
		"trailing garbage": in + "x",
		"deep nesting":     strings.Replace(in, `"future_field": {`, `"future_field": `+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`, "z": {`, 1),
		"bad escape":       strings.Replace(in, `\/b`, `\qb`, 1),
		"raw control char": strings.Replace(in, `\n`, "\n", 1),
		"missing time":     strings.Replace(in, `"time":"2026-11-22T02:49:50Z",`, ``, 1),
		"size not number":  strings.Replace(in, `"size": 7`, `"size": "7"`, 1),
	} {
		if _, err := events.Decode([]byte(bad)); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}
