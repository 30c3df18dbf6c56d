package main

import (
	"testing"

	"github.com/indexer/indexer/events"
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
