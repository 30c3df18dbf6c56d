package main

import (
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
)

// A history line says what the file held: a link's target, not an empty
// digest.
func TestDescribeSymlinks(t *testing.T) {
	link := events.File{Path: "/d/l", Size: 1, Target: "f"}
	file := events.File{Path: "/d/f", Size: 3, Hashes: events.Hashes{SHA256: "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4"}}
	for _, c := range []struct {
		p    events.Payload
		want string
	}{
		{&events.FileScanned{File: link}, "link to f"},
		{&events.FileScanned{File: file}, "3 B, sha256 98ea6e4f216f"},
		{&events.FileChanged{File: link, Reason: events.ReasonContent}, "content: link to f"},
	} {
		if got := describe(events.Event{Data: c.p}, false); got != c.want {
			t.Errorf("describe(%T) = %q, want %q", c.p, got, c.want)
		}
	}
}

// A scan without its ScanCompleted (running, or killed) shows what the log
// holds of it, not zeros.
func TestScansTableCountsAnUnfinishedScan(t *testing.T) {
	var b strings.Builder
	err := printScans(&b, []projections.Scan{
		{Machine: "m", State: "interrupted", StartSeq: 1, Root: "/killed", Seen: projections.ScanSeen{Scanned: 9868, Unreadable: 2}},
		{Machine: "m", State: "complete", StartSeq: 1, EndSeq: 9, Root: "/done", Counts: events.ScanCounts{Added: 7}, Seen: projections.ScanSeen{Scanned: 7}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if f := strings.Fields(lines[1]); len(f) < 9 || f[4] != "9868" || f[8] != "2" {
		t.Errorf("unfinished scan: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 5 || f[4] != "7" {
		t.Errorf("finished scan: %q", lines[2])
	}
}
