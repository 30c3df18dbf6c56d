package servicetest

import (
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
)

// ScratchMachine is the machine of UnknownInodes.
const ScratchMachine = "scratch"

// UnknownInodes returns the events of a scan of a file system that reports
// no inode numbers (inode 0): two copies of one 1 MiB content, which must
// count as two copies on disk, not as hard links of one inode, whether the
// duplicates are asked of every machine or of this one.
func UnknownInodes() []events.Event {
	s := NewScan(ScratchMachine, "/mnt", time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC))
	for _, p := range []string{"/mnt/a/blob.bin", "/mnt/b/blob.bin"} {
		f := s.File(p, MiB, "blob")
		f.Inode, f.Device = 0, 0
		s.Scanned(f)
	}
	return s.Complete(events.ScanCounts{Seen: 2, Read: 2, Added: 2, BytesRead: 2 * MiB})
}

// FindQuestions are the find requests that every query path (the index in
// process, the NATS service, HTTP) must answer alike: each filter alone,
// with a name pattern, and over files found by digest. Names are stable
// for tests that check an answer.
func FindQuestions() map[string]service.FindRequest {
	return map[string]service.FindRequest{
		"find report":         {Pattern: "report"},
		"find glob":           {Pattern: "IMG_01?5.jpg", Mode: "glob"},
		"find regex":          {Pattern: `^(song|movie)\.`, Mode: "regex"},
		"find hash":           {Hash: Hashes("song").SHA256, Machine: "nas1"},
		"find archived":       {Archived: true, Ext: "pdf"},
		"find both":           {Pattern: "report", Archived: true},
		"find contains":       {PathContains: "SHARE/VIDEO"},
		"find under":          {Under: "/home/ana/photos", MinSize: 8_000_000, Limit: 2, Offset: 1},
		"find bad glob":       {Pattern: "[", Mode: "glob"},
		"find bad mode":       {Mode: "fuzzy"},
		"find bad hash":       {Hash: "12"},
		"find bad sizes":      {MinSize: 10, MaxSize: 5},
		"find machine":        {Machine: "nas1", Limit: 10},
		"find ext":            {Ext: ".JPG", Limit: 5, Offset: 3},
		"find sizes":          {MinSize: 1000, MaxSize: 5000, Limit: 50},
		"find case":           {Pattern: "IMG", CaseSensitive: true, Limit: 50},
		"find case miss":      {Pattern: "img_0001", CaseSensitive: true},
		"find path":           {Pattern: "ana/docs", Path: true},
		"find path glob":      {Pattern: "/srv/*/video/*", Path: true, Mode: "glob"},
		"find path regex ext": {Pattern: `photos/20`, Path: true, Mode: "regex", Ext: "jpg", Limit: 4},
		"find under machine":  {Under: "/srv/share/", Machine: "nas1", Pattern: "mkv"},
		"find all":            {Limit: 1000},
		"find hash ext":       {Hash: Hashes("report").SHA256, Ext: "pdf", Under: "/home/ana"},
		"find hash archived":  {Hash: Hashes("report").MD5, Archived: true},
		"find hash pattern":   {Hash: Hashes("report").SHA1, Pattern: "COPY"},
		"find hash sizes":     {Hash: Hashes("movie").SHA256, MinSize: 1, MaxSize: 200 * MiB},
		"find hash page":      {Hash: Hashes("report").SHA256, Limit: 2, Offset: 1},
		"find hash prefix":    {Hash: Hashes("movie").SHA256[:10], Path: true, Pattern: "copy"},
		"find hash contains":  {Hash: Hashes("report").SHA256, PathContains: "BACKUP"},
		"find unknown inodes": {Machine: ScratchMachine, Pattern: "blob"},
	}
}

// DupesQuestions are the duplicates requests that every query path must
// answer alike: of every machine and of each one, in each order.
func DupesQuestions() map[string]service.DupesRequest {
	return map[string]service.DupesRequest{
		"dupes":               {Files: 2},
		"dupes count":         {Sort: "count", Asc: true, MinSize: 1},
		"dupes machine":       {Machine: "laptop", Files: -1},
		"dupes bad":           {Sort: "name"},
		"dupes all files":     {Files: 100, Limit: 500},
		"dupes size asc":      {Sort: "size", Asc: true, Files: 1, Limit: 2, Offset: 1},
		"dupes min count":     {MinCount: 3, Files: 10},
		"dupes laptop":        {Machine: "laptop", Files: 100},
		"dupes nas1":          {Machine: "nas1", Files: 100, Sort: "count"},
		"dupes scratch":       {Machine: ScratchMachine, Files: 100},
		"dupes machine big":   {Machine: "laptop", MinSize: 3 * MiB, Files: 1},
		"dupes unknown inode": {MinSize: MiB, Sort: "size", Asc: true, Files: 100, Limit: 1},
	}
}
