package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store/storetest"
)

// TestScanProblems: 'scans --problems' lists what the last scan of each
// root could not read or hash, with the reason; an earlier scan's
// problems, and files without one, are left out.
func TestScanProblems(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	now := time.Now()
	old, last, other := events.NewID(), events.NewID(), events.NewID()
	ev := func(scan [16]byte, p events.Payload) events.Event { return events.New("nas1", scan, now, p) }
	file := func(p string) events.File {
		return events.File{Path: events.Path(p), Size: 3, Hashes: events.Hashes{SHA256: strings.Repeat("a", 64)}}
	}
	growing := events.File{Path: "/srv/app.log", Size: 9, Unhashed: events.UnhashedChanging}
	big := events.File{Path: "/srv/disk.img", Size: 9, Unhashed: events.UnhashedTooLarge}
	broken := file("/srv/b.zip")
	broken.Archive = &events.Archive{Format: "zip", Members: 1, Error: "truncated: unexpected EOF"}
	storetest.Seed(t, data,
		ev(old, &events.ScanStarted{Root: "/srv"}),
		ev(old, &events.FileUnreadable{Path: "/srv/was-locked", Error: "open: permission denied"}),
		ev(old, &events.ScanCompleted{Root: "/srv", Complete: true}),
		ev(other, &events.ScanStarted{Root: "/home"}),
		ev(other, &events.FileUnreadable{Path: "/home/private", Error: "open: permission denied", Dir: true}),
		ev(other, &events.ScanCompleted{Root: "/home", Complete: true}),
		ev(last, &events.ScanStarted{Root: "/srv"}),
		ev(last, &events.FileScanned{File: file("/srv/fine")}),
		ev(last, &events.FileScanned{File: growing}),
		ev(last, &events.FileChanged{File: big, Reason: events.ReasonContent}),
		ev(last, &events.FileScanned{File: broken}),
		ev(last, &events.FileUnreadable{Path: "/srv/b.zip::inner.tar::x.txt", Error: "corrupt: checksum error"}),
		ev(last, &events.ScanCompleted{Root: "/srv", Complete: true}),
	)
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb}
	if err := m.Run(context.Background(), []string{"scans", "--problems", "--data", data, "--json"}); err != nil {
		t.Fatalf("scans --problems: %v\n%s", err, errb.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var p problem
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if p.Error == "" || p.Machine != "nas1" {
			t.Fatalf("problem without its reason: %+v", p)
		}
		got = append(got, p.Kind+" "+p.Path)
	}
	want := "unreadable-dir /home/private,changing /srv/app.log,archive /srv/b.zip,unreadable /srv/b.zip::inner.tar::x.txt,too-large /srv/disk.img"
	if strings.Join(got, ",") != want {
		t.Fatalf("problems\n got %q\nwant %q", strings.Join(got, ","), want)
	}
	out.Reset()
	if err := m.Run(context.Background(), []string{"scans", "--problems", "--data", data, "--machine", "nas1"}); err != nil {
		t.Fatalf("scans --problems: %v\n%s", err, errb.String())
	}
	if s := out.String(); !strings.Contains(s, "PROBLEM") || !strings.Contains(s, "corrupt: checksum error") || strings.Contains(s, "was-locked") {
		t.Fatalf("table:\n%s", s)
	}
}
