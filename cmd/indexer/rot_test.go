package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/store/storetest"
)

// TestRotListsFilesWhoseLastVerifyFoundRot: a file with rot is listed with
// its good digest until its content changes again or it is deleted; one
// that moves is listed at its new path; history says BIT ROT and the good
// digest.
func TestRotListsFilesWhoseLastVerifyFoundRot(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	scan, now := events.NewID(), time.Now()
	sha := func(c string) string { return strings.Repeat(c, 64) }
	file := func(p, h string) events.File {
		return events.File{Path: events.Path(p), Size: 3, Hashes: events.Hashes{SHA256: h}}
	}
	rot := func(p string) *events.FileChanged {
		return &events.FileChanged{File: file(p, sha("b")), PrevSHA256: sha("a"), Reason: events.ReasonBitRot}
	}
	ev := func(p events.Payload) events.Event { return events.New("nas1", scan, now, p) }
	storetest.Seed(t, data,
		ev(&events.ScanStarted{Root: "/srv"}),
		ev(&events.FileScanned{File: file("/srv/kept", sha("a"))}),
		ev(&events.FileScanned{File: file("/srv/restored", sha("a"))}),
		ev(&events.FileScanned{File: file("/srv/gone", sha("a"))}),
		ev(&events.FileScanned{File: file("/srv/moved", sha("a"))}),
		ev(rot("/srv/kept")), ev(rot("/srv/restored")), ev(rot("/srv/gone")), ev(rot("/srv/moved")),
		ev(&events.FileChanged{File: file("/srv/kept", sha("b")), PrevSHA256: sha("b"), Reason: events.ReasonMetadata}),
		ev(&events.FileChanged{File: file("/srv/restored", sha("a")), PrevSHA256: sha("b"), Reason: events.ReasonContent}),
		ev(&events.FileDeleted{Path: "/srv/gone"}),
		ev(&events.FileMoved{From: "/srv/moved", File: file("/srv/sub/moved", sha("b"))}),
		ev(&events.FileScanned{File: file("/srv2/forgotten", sha("a"))}),
		ev(rot("/srv2/forgotten")),
		events.New("nas1", ulid.ULID{}, now, &events.FilesForgotten{Root: "/srv2"}),
	)
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb}
	if err := m.Run(context.Background(), []string{"rot", "--data", data, "--json"}); err != nil {
		t.Fatalf("rot: %v\n%s", err, errb.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r rotFile
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if r.Good != sha("a") || r.Read != sha("b") || r.Machine != "nas1" {
			t.Fatalf("rot %+v: want the good and the read digests", r)
		}
		got = append(got, r.Path)
	}
	if strings.Join(got, ",") != "/srv/kept,/srv/sub/moved" {
		t.Fatalf("rot lists %q, want /srv/kept and /srv/sub/moved", got)
	}
	// History says what it was, with the digest to look for.
	if d := describe(ev(rot("/srv/kept")), false); !strings.Contains(d, "BIT ROT") || !strings.Contains(d, "good sha256 "+sha("a")) {
		t.Fatalf("history of rot: %q", d)
	}
}

// TestRotSurvivesAMove: after a verify found bit rot and the file moved,
// show at the new path still says BIT ROT with the good digest, and
// history there shows the rot found at the old path.
func TestRotSurvivesAMove(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	s := servicetest.NewScan("m1", "/srv", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	good := s.File("/srv/a.jpg", 100, "photo")
	s.Scanned(good)
	s.Scanned(s.File("/srv/copy.jpg", 100, "photo"))
	rotten := s.File("/srv/a.jpg", 100, "rotten")
	rotten.Inode, rotten.MTime = good.Inode, good.MTime
	s.Changed(rotten, good.Hashes.SHA256, events.ReasonBitRot)
	moved := rotten
	moved.Path = "/srv/sub/b.jpg"
	s.Moved("/srv/a.jpg", moved)
	env.Publish(t, s.Complete(events.ScanCounts{Added: 2, Changed: 1, Moved: 1})...)
	env.Close()
	out := mustRun(t, "show", "/srv/sub/b.jpg", "--data", env.Dir)
	if !strings.Contains(out, "BIT ROT") || !strings.Contains(out, "good sha256 "+good.Hashes.SHA256) {
		t.Errorf("show of a rotten file that moved:\n%s", out)
	}
	out = mustRun(t, "history", "/srv/sub/b.jpg", "--data", env.Dir)
	if !strings.Contains(out, "FileScanned at /srv/a.jpg") || !strings.Contains(out, "FileChanged at /srv/a.jpg") ||
		!strings.Contains(out, "BIT ROT") || !strings.Contains(out, "from /srv/a.jpg") {
		t.Errorf("history of a rotten file that moved:\n%s", out)
	}
	js := mustRun(t, "show", "/srv/sub/b.jpg", "--json", "--data", env.Dir)
	if !strings.Contains(js, `"bit_rot_recorded_sha256":"`+good.Hashes.SHA256+`"`) {
		t.Errorf("show --json of a rotten file lacks the recorded sha256:\n%s", js)
	}
}
