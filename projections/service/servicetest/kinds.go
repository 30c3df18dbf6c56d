package servicetest

import (
	"time"

	"github.com/indexer/indexer/events"
)

// LinksAndMembers returns the events of a scan of /d on machine m1 that
// holds what the counts keep apart from files: a.txt (1000 B), a symbolic
// link to it, a plain file named odd::name (10 B), z.zip (300 B) and its
// member z.zip::in.txt (700 B). Files are 3 and 1310 B; links 1; archive
// members 1 and 700 B.
func LinksAndMembers() []events.Event {
	s := NewScan("m1", "/d", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	s.Scanned(s.File("/d/a.txt", 1000, "a"))
	link := s.File("/d/l", 5, "")
	link.Mode, link.Target, link.Hashes = 0o777|1<<27, "a.txt", events.Hashes{}
	s.Scanned(link)
	s.Scanned(s.File("/d/odd::name", 10, "odd"))
	s.Scanned(s.File("/d/z.zip", 300, "zip"))
	m := s.File("/d/z.zip::in.txt", 700, "in")
	m.Inode, m.Device, m.Nlink, m.UID, m.GID = 0, 0, 0, 0, 0
	m.Archive = &events.Archive{Path: "/d/z.zip", Member: []events.Path{"in.txt"}, Format: "zip"}
	s.Scanned(m)
	return s.Complete(events.ScanCounts{Added: 5})
}
