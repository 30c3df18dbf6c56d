package projections

import (
	"testing"

	"github.com/indexer/indexer/events"
)

// TestHistoryCodes pins the history codes: they are stored in every index,
// so a changed code would silently change what old indexes say. Never edit
// a line of want; a new event type adds one, with an unused code.
func TestHistoryCodes(t *testing.T) {
	want := map[events.Type]byte{
		events.TypeScanStarted:    1,
		events.TypeFileScanned:    2,
		events.TypeFileChanged:    3,
		events.TypeFileMoved:      4,
		events.TypeFileDeleted:    5,
		events.TypeFileUnreadable: 6,
		events.TypeScanCompleted:  7,
		events.TypeFilesForgotten: 8,
	}
	for _, typ := range events.Types {
		code, ok := typeCodes[typ]
		if !ok {
			t.Errorf("event type %s has no history code", typ)
			continue
		}
		if w, ok := want[typ]; !ok {
			t.Errorf("event type %s has code %d: add it to want here", typ, code)
		} else if code != w {
			t.Errorf("history code of %s = %d, want %d: indexes on disk hold %d", typ, code, w, w)
		}
		if code == 0 || code&movedAway != 0 {
			t.Errorf("history code of %s = %#x: 0 and the movedAway bit are not codes", typ, code)
		}
		if got := typeOfCode(code); got != typ {
			t.Errorf("typeOfCode(%d) = %s, want %s", code, got, typ)
		}
		if got := typeOfCode(code | movedAway); got != typ {
			t.Errorf("typeOfCode(%d|movedAway) = %s, want %s", code, got, typ)
		}
	}
	if len(typeCodes) != len(codeTypes) {
		t.Errorf("%d types share %d codes", len(typeCodes), len(codeTypes))
	}
	if got := typeOfCode(99); got != "unknown(99)" {
		t.Errorf("typeOfCode(99) = %s", got)
	}
}
