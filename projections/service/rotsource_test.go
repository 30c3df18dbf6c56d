package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store/storetest"
)

// Bit rot that a modified laptop reported for another machine through its
// own source (see store.CheckSource) is not listed from a hub's log.
func TestRotInLogSkipsWhatASourceDoesNotTake(t *testing.T) {
	t.Parallel()
	hub, log, cred := storetest.LeafHub(t, "laptop")
	f := events.File{Path: "/srv/report.pdf", Size: 1, Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", 2)}}
	planted := events.New("desktop", events.NewID(), time.Now(), &events.FileChanged{File: f, PrevSHA256: fmt.Sprintf("%064x", 1), Reason: events.ReasonBitRot})
	storetest.RogueLaptop(t, hub, cred, "laptop", planted)
	storetest.WaitForMsgs(t, log, 1)
	got, err := service.RotInLog(context.Background(), log, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("rot from a laptop's source that does not take it: %+v", got)
	}
}
