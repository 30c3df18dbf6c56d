package main

import (
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// An event a laptop's source does not take (another machine's, delivered
// by a modified laptop; see store.CheckSource) is exported as invalid,
// which import skips: an export and import do not turn it into a plain
// event of another log.
func TestExportMarksEventsFromTheWrongSource(t *testing.T) {
	t.Parallel()
	e := events.New("desktop", events.NewID(), time.Now(), &events.FileDeleted{Path: "/etc/passwd"})
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	own := "idx.laptop.file.scanned\fidx.laptop.file.deleted"
	subj := events.Subject("desktop", events.TypeFileDeleted)
	r := store.Record{Seq: 3, Subject: subj, Data: data, Source: "INDEXER:Xy12AbCd 3 " + own + " " + own + " " + subj}
	if line := recordLine(r); line.Event != nil || !strings.Contains(line.Error, "laptop's source") || line.Raw != string(data) {
		t.Fatalf("exported %+v, want it invalid with the reason", line)
	}
	r.Source = ""
	if line := recordLine(r); line.Event == nil {
		t.Fatalf("an event appended directly exported as %+v", line)
	}
}
