package servicetest

import (
	"fmt"
	"io/fs"
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

// StrangeNames are names a JSON encoder and a terminal must take care of:
// bytes that are not UTF-8, quotes and backslashes, control characters
// (\b and \f have short escapes in encoding/json, not in the log's
// codec), HTML, the line and paragraph separators, DEL, a tab, a newline.
var StrangeNames = []string{
	"caf\xe9-latin1", "\xff\xfe", "\xe2\x80", `say "hi"`, `back\slash`, "ctl\x01\x02\x1f",
	"bell\b\fform", "<script>&amp;</script>", "sep\u2028\u2029", "del\x7f", "tab\there",
	"new\nline", "日本語 ünï", "", "'single'", "\\\"", "mix\xe9<&>\"\n",
}

// StrangeDuplicates returns the events of a scan of /s on machine m1 where
// every file has a copy and a strange name (StrangeNames, each in a
// directory named after it, and its copy in s/copy): for every field a
// reply can carry, in its unusual forms. Beside them: a group of all the
// names at once with a hard link and a birth time, archive members with
// strange member names (the index keeps no encoding, CRC or packed size of
// a member), setuid and sticky modes, a
// tar's hard link entry (a member with a target), and a file whose verify
// found bit rot.
func StrangeDuplicates() []events.Event {
	s := NewScan("m1", "/s", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	for i, name := range StrangeNames {
		dir := fmt.Sprintf("/s/%d-%s/", i, name)
		f := s.File(dir+name+".txt", int64(100+i), fmt.Sprintf("strange %d", i))
		s.Scanned(f)
		c := s.File(fmt.Sprintf("/s/copy/%d-%s", i, name), f.Size, fmt.Sprintf("strange %d", i))
		c.Mode = []uint32{0o600, uint32(fs.ModeSetuid | 0o755), uint32(fs.ModeSticky | fs.ModeSetgid | 0o700)}[i%3]
		s.Scanned(c)
		all := s.File(fmt.Sprintf("/s/all/%d%s", i, name), 4096, "all of them")
		all.BTime, all.Nlink = s.T.Add(-100*time.Hour).UnixNano(), 2
		s.Scanned(all)
		if i == 0 {
			link := all // a hard link: same inode
			link.Path = "/s/all/hard link of 0"
			s.Scanned(link)
		}
	}
	for i, name := range StrangeNames[:6] {
		zip := fmt.Sprintf("/s/z%d-%s.zip", i, name)
		z := s.File(zip, 9000, fmt.Sprintf("zip %d", i))
		z.Archive = &events.Archive{Format: "zip", Members: 1}
		s.Scanned(z)
		m := s.File(zip+"::"+name+"/in.txt", 5000, "member")
		m.Inode, m.Device, m.Nlink, m.UID, m.GID, m.CTime = 0, 0, 0, 0, 0, 0
		m.Archive = &events.Archive{Path: events.Path(zip), Member: []events.Path{events.Path(name + "/in.txt")}, Format: "zip",
			Encoding: "cp437 <&>", CRC32: "0badf00d", Packed: int64(4000 + i)}
		s.Scanned(m)
	}
	tar := s.File("/s/t.tar", 20000, "tar")
	tar.Archive = &events.Archive{Format: "tar", Members: 2}
	s.Scanned(tar)
	hard := s.File("/s/t.tar::b\xe9", 5000, "member")
	hard.Inode, hard.Device, hard.Nlink, hard.CTime = 0, 0, 0, 0
	hard.Target = "a \"<target>\"\xe9"
	hard.Archive = &events.Archive{Path: "/s/t.tar", Member: []events.Path{"b\xe9"}, Format: "tar"}
	s.Scanned(hard)
	rot := s.File("/s/rot \"x\"", 5000, "rot")
	s.Scanned(rot)
	read := rot
	read.Hashes = Hashes("rot with a flipped bit")
	s.Changed(read, rot.Hashes.SHA256, events.ReasonBitRot)
	s.Scanned(s.File("/s/rot-copy", 5000, "rot with a flipped bit"))
	return s.Complete(events.ScanCounts{Seen: int64(3*len(StrangeNames) + 16)})
}
