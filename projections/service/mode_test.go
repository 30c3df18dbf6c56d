package service_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// The POSIX mode and the FileMode bits convert both ways, for every type a
// Unix stat gives.
func TestModesConvertBothWays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m    fs.FileMode
		num  uint32
		text string
	}{
		{0o644, 0o100644, "-rw-r--r--"},
		{fs.ModeSymlink | 0o777, 0o120777, "lrwxrwxrwx"},
		{fs.ModeDir | fs.ModeSetgid | fs.ModeSticky | 0o755, 0o43755, "drwxr-sr-t"},
		{fs.ModeSetuid | 0o644, 0o104644, "-rwSr--r--"},
		{fs.ModeNamedPipe | 0o600, 0o10600, "prw-------"},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, 0o20666, "crw-rw-rw-"},
		{fs.ModeDevice | 0o660, 0o60660, "brw-rw----"},
		{fs.ModeSocket | 0o755, 0o140755, "srwxr-xr-x"},
	} {
		if got := service.PosixMode(c.m); got != c.num {
			t.Errorf("PosixMode(%v) = %o, want %o", c.m, got, c.num)
		}
		if got := service.FileMode(c.num); got != c.m {
			t.Errorf("FileMode(%o) = %v, want %v", c.num, got, c.m)
		}
		if got := service.ModeText(c.m); got != c.text {
			t.Errorf("ModeText(%v) = %q, want %q", c.m, got, c.text)
		}
	}
}

// PosixJSON changes file objects only (a "mode" beside an "inode"), keeps
// every other byte, and what it wrote reads back.
func TestPosixJSON(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`{"path":"/a","mode":420,"inode":7}`, `{"path":"/a","mode":33188,"mode_text":"-rw-r--r--","inode":7}`},
		{`{"inode":7,"mode":134218239}`, `{"inode":7,"mode":41471,"mode_text":"lrwxrwxrwx"}`},
		{`{"mode":"glob","pattern":"a"}`, `{"mode":"glob","pattern":"a"}`},
		{`{"mode":420}`, `{"mode":420}`},
		{`[{"a":"\"mode\":420, }","mode":2147484141,"x":{"inode":1,"mode":420},"inode":2},{"mode":1}]`,
			`[{"a":"\"mode\":420, }","mode":16877,"mode_text":"drwxr-xr-x","x":{"inode":1,"mode":33188,"mode_text":"-rw-r--r--"},"inode":2},{"mode":1}]`},
		{`{"history":[{"event":{"data":{"path":"/x","mode":420,"inode":3,"hashes":{"md5":""}}}}],"n":1.5e3,"t":true,"z":null}`,
			`{"history":[{"event":{"data":{"path":"/x","mode":33188,"mode_text":"-rw-r--r--","inode":3,"hashes":{"md5":""}}}}],"n":1.5e3,"t":true,"z":null}`},
	} {
		got, err := service.PosixJSON([]byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("PosixJSON(%s) =\n%s, %v; want\n%s", c.in, got, err, c.want)
		}
		back, err := service.FileModeJSON(got)
		if err != nil || string(back) != c.in {
			t.Errorf("back from %s =\n%s, %v; want\n%s", got, back, err, c.in)
		}
	}
	back, err := service.FileModeJSON([]byte(`{"mode_text":"-rw-r--r--","mode":33188,"inode":1}`))
	if err != nil || string(back) != `{"mode":420,"inode":1}` {
		t.Errorf("mode_text first: %s, %v", back, err)
	}
	for _, bad := range []string{`{"mode":420,"inode":1`, `{"mode":"x`, `]{"mode":1}`, `{"a":[},"mode":1}`} {
		if _, err := service.PosixJSON([]byte(bad)); err == nil {
			t.Errorf("PosixJSON(%s): no error", bad)
		}
	}
}

// The NATS service gives modes as stat(2) does, as the CLI's JSON does
// (a symbolic link was 134218239), and Client reads them back into the
// index's values.
func TestNATSRepliesGivePosixModes(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	svc, err := service.Serve(env.Log, env.Local, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	ctx := context.Background()
	req, _ := json.Marshal(service.PathRequest{Machine: "laptop", Path: servicetest.NotesPath})
	for _, ep := range []string{"lookup", "show", "history"} {
		out, err := env.Log.Request(ctx, service.SubjectPrefix+ep, req)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"mode":33188,"mode_text":"-rw-r--r--"`) || strings.Contains(string(out), `"mode":420`) {
			t.Errorf("indexer.%s: %s", ep, out)
		}
	}
	f, err := (&service.Client{Log: env.Log}).Lookup(ctx, "laptop", servicetest.NotesPath)
	if err != nil || f.Mode != 0o644 {
		t.Fatalf("Client.Lookup: mode %o, %v; want the index's 644", f.Mode, err)
	}
}
