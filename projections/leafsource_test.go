package projections

import (
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store/storetest"
)

// A modified laptop server delivers, through its own source on the hub,
// other machines' events and its own FilesForgotten (none of which its
// source takes): nats-server stores them, as it does not check a sourced
// event's subject against the source's filters, but the hub's index does
// not apply them: each is a dead letter with the reason. The laptop's own
// events are applied.
func TestRogueLaptopCannotWriteOtherMachines(t *testing.T) {
	t.Parallel()
	hub, log, cred := storetest.LeafHub(t, "laptop")
	p := MustOpenProjector(t, log, "")
	runProjector(t, p)
	lap, desk := newGen("laptop", 1), newGen("desktop", 1)
	evs := []events.Event{
		lap.ev(&events.FileScanned{File: file("/home/ok", 1, 1, 1)}),
		desk.ev(&events.FileScanned{File: file("/etc/planted", 1, 2, 2)}),
		desk.ev(&events.FileDeleted{Path: "/srv/desktop-file"}),
		lap.ev(&events.FilesForgotten{Root: "/home"}),
		lap.ev(&events.FileScanned{File: file("/home/ok2", 1, 3, 3)}),
	}
	storetest.RogueLaptop(t, hub, cred, "laptop", evs...)
	// Every event reaches the hub's log: nats-server does not refuse them.
	waitFor(t, p, storetest.WaitForMsgs(t, log, uint64(len(evs))))

	ix := p.Index()
	if _, err := ix.Lookup("desktop", "/etc/planted"); err == nil {
		t.Fatal("the laptop wrote a file of the desktop into the hub's index")
	}
	for _, f := range []events.Path{"/home/ok", "/home/ok2"} {
		if _, err := ix.Lookup("laptop", f); err != nil {
			t.Fatalf("the laptop's own %s: %v (its FilesForgotten applied?)", f, err)
		}
	}
	dl, err := ix.DeadLetters(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"idx.desktop.file.scanned", "idx.desktop.file.deleted", "idx.laptop.files.forgotten"}
	if len(dl) != len(want) {
		t.Fatalf("dead letters %+v, want %v", dl, want)
	}
	for i, d := range dl {
		if d.Subject != want[i] || !strings.Contains(d.Reason, "came through laptop laptop's source") {
			t.Errorf("dead letter %+v, want %s through laptop's source", d, want[i])
		}
	}
	t.Logf("dead letter: %s", dl[0].Reason)
}
