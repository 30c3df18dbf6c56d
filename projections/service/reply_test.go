package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// marshaled is a reply as every front end wrote it before AppendReply:
// json.Marshal, then PosixJSON.
func marshaled(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	b, err = service.PosixJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplyJSONAsMarshaled: the duplicate groups written by hand are, byte
// for byte, what json.Marshal and PosixJSON wrote, over a real index of
// strange names (servicetest.StrangeDuplicates); the NATS service replies
// with them, and Client reads them back into the index's values.
func TestReplyJSONAsMarshaled(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, append(servicetest.Fixture(), servicetest.StrangeDuplicates()...)...)
	ctx := context.Background()
	all := service.DupesRequest{Limit: -1, Files: -1}
	res, err := env.Local.Dupes(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	want := marshaled(t, res)
	// The index gave what the test is about.
	for _, s := range []string{`{"b64":"`, `\u003cscript\u003e`, `bell\u0008\u000cform`, `\u2028`, `\t`, `\n`, `\\`, `\"`, "\x7f",
		`"btime":`, `"target":`, `"member":[`, `"bit_rot_recorded_sha256":`,
		`"mode":35309,"mode_text":"-rwsr-xr-x"`, `"mode":34752,"mode_text":"-rwx--S--T"`} {
		if !bytes.Contains(want, []byte(s)) {
			t.Errorf("the duplicates hold no %s", s)
		}
	}
	if got, err := service.AppendReply(nil, res); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("AppendReply(duplicates) =\n%s, %v\nwant\n%s", got, err, want)
	}
	for _, g := range res.Groups {
		if got, err := service.AppendReply([]byte("x"), g); err != nil || !bytes.Equal(got, append([]byte("x"), marshaled(t, g)...)) {
			t.Fatalf("AppendReply(group %s) =\n%s, %v\nwant x and\n%s", g.SHA256, got, err, marshaled(t, g))
		}
	}
	for _, v := range []any{service.DupesResult{}, service.DupesResult{Groups: []service.Group{}, Total: 3}, service.Group{}} {
		if got, err := service.AppendReply(nil, v); err != nil || !bytes.Equal(got, marshaled(t, v)) {
			t.Errorf("AppendReply(%#v) = %s, %v; want %s", v, got, err, marshaled(t, v))
		}
	}

	svc, err := service.Serve(env.Log, env.Local, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	body, _ := json.Marshal(all)
	out, err := env.Log.Request(ctx, service.SubjectPrefix+"dupes", body)
	if err != nil || !bytes.Equal(out, want) {
		t.Fatalf("indexer.dupes replied\n%s, %v\nwant\n%s", out, err, want)
	}
	back, err := (&service.Client{Log: env.Log}).Dupes(ctx, all)
	if err != nil || !reflect.DeepEqual(back, res) {
		t.Fatalf("Client.Dupes = %+v, %v\nwant %+v", back, err, res)
	}
}

// FuzzGroupJSON holds the hand-written encoding to json.Marshal and
// PosixJSON for any strings, numbers and modes in a group's files.
func FuzzGroupJSON(f *testing.F) {
	for i, s := range servicetest.StrangeNames {
		f.Add(s, "/p/"+s, s, uint32(0o644|i<<24), int64(i), uint64(i)<<40, byte(i))
	}
	f.Add("\xed\xa0\x80", "\xf4\x90\x80\x80", "\u2029<", uint32(fs.ModeDir|fs.ModeSetgid|0o755), int64(-1), uint64(1<<63), byte(255))
	f.Fuzz(func(t *testing.T, s, path, target string, mode uint32, n int64, u uint64, flags byte) {
		file := projections.File{Machine: s, Seq: u, ID: u >> 3, File: events.File{
			Path: events.Path(path), Size: n, Mode: mode, MTime: n, CTime: -n, Inode: u, Device: u + 1, Nlink: u >> 60, UID: mode, GID: uint32(u),
		}}
		if flags&1 != 0 {
			file.BTime, file.Target = n+1, events.Path(target)
		}
		if flags&2 != 0 {
			file.Hashes = events.Hashes{MD5: s, SHA1: path, SHA256: target, BLAKE3: s + target}
		} else {
			file.Hashes.SHA256 = s
		}
		if flags&4 != 0 {
			file.Unhashed, file.BitRot = target, s
		}
		if flags&8 != 0 {
			file.Archive = &events.Archive{Path: events.Path(target), Member: []events.Path{events.Path(path), events.Path(s)}, Format: s,
				Encoding: target, CRC32: path, Packed: n, Encrypted: flags&16 != 0, Members: -n, Error: s}
		}
		if flags&32 != 0 {
			file.Archive = &events.Archive{}
		}
		g := service.Group{Group: projections.Group{SHA256: s, Size: u, Count: u + 1, Inodes: uint64(n), Wasted: uint64(mode)}}
		if flags&64 == 0 {
			g.Files = []projections.File{file, file}
		}
		for _, v := range []any{g, service.DupesResult{Groups: []service.Group{g, g}, Total: int(n)}} {
			got, err := service.AppendReply(nil, v)
			if want := marshaled(t, v); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("AppendReply =\n%s, %v\nwant\n%s", got, err, want)
			}
		}
	})
}

// Other replies are json.Marshal's with PosixJSON's modes.
func TestReplyOfOtherValues(t *testing.T) {
	t.Parallel()
	v := map[string]any{"files": []projections.File{{Machine: "m", File: events.File{Path: "/a<b>", Mode: 0o644, Inode: 1}}}}
	got, err := service.AppendReply([]byte("["), v)
	if want := "[" + string(marshaled(t, v)); err != nil || string(got) != want || !strings.Contains(want, `"mode_text":"-rw-r--r--"`) {
		t.Fatalf("AppendReply = %s, %v; want %s", got, err, want)
	}
	if _, err := service.AppendReply(nil, func() {}); err == nil {
		t.Fatal("AppendReply of a func: no error")
	}
}
