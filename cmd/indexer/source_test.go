package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
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

// A scan's problems that a modified laptop reported for another machine
// through its own source are not listed from a hub's log.
func TestProblemsSkipWhatASourceDoesNotTake(t *testing.T) {
	t.Parallel()
	hub, log, cred := storetest.LeafHub(t, "laptop")
	scan, now := events.NewID(), time.Now()
	evs := []events.Event{
		events.New("desktop", scan, now, &events.ScanStarted{Root: "/srv"}),
		events.New("desktop", scan, now, &events.FileUnreadable{Path: "/srv/x", Error: "permission denied"}),
	}
	storetest.RogueLaptop(t, hub, cred, "laptop", evs...)
	storetest.WaitForMsgs(t, log, uint64(len(evs)))
	n, got, err := lastScanProblems(context.Background(), log, "")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(got) != 0 {
		t.Fatalf("%d scans with problems %+v from a laptop's source that does not take them", n, got)
	}
}
