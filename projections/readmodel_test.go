package projections

import (
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
)

// projectLive projects evs live, one event a batch, checks the index
// against a fresh build in one batch, and returns it.
func projectLive(t *testing.T, evs ...events.Event) *Index {
	t.Helper()
	log := MustOpenLog(t, MustOpenServer(t))
	last := appendAll(t, log, evs...)
	p := MustOpenProjector(t, log, "")
	p.BatchSize = 1
	runProjector(t, p)
	waitFor(t, p, last)
	checkSameAsBuild(t, log, p.Index())
	return p.Index()
}

func symlink(path, target string, ino uint64) events.File {
	f := file(path, int64(len(target)), 0, ino)
	f.Mode, f.Target = 0o777|linkModeBit, events.Path(target)
	return f
}

func member(archive, inner string, size int64, sha byte) events.File {
	f := file(archive+events.MemberSep+inner, size, sha, 0)
	f.Inode, f.Device, f.Nlink, f.UID, f.GID = 0, 0, 0, 0, 0
	f.Archive = &events.Archive{Path: events.Path(archive), Member: []events.Path{events.Path(inner)}, Format: "zip"}
	return f
}

// TestLinksAreNotFiles: a symbolic link is counted as a link, never as a
// file, and its size (its target's length) is in no sum: not in stats,
// the machine's figures, tree totals, nor a duplicate group.
func TestLinksAreNotFiles(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	ix := projectLive(t,
		g.ev(&events.ScanStarted{Root: "/data"}),
		g.ev(&events.FileScanned{File: file("/data/a.txt", 10, 1, 11)}),
		g.ev(&events.FileScanned{File: symlink("/data/sub/link-to-a", "../a.txt", 12)}),
		// A link whose event carries digests (of its target, say) joins
		// no group.
		g.ev(&events.FileScanned{File: func() events.File {
			f := symlink("/data/sub/link2", "/data/a.txt", 13)
			f.Hashes = file("", 0, 1, 0).Hashes
			return f
		}()}),
		g.ev(&events.ScanCompleted{Root: "/data", Complete: true}),
	)
	st, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Bytes != 10 || st.Links != 2 {
		t.Fatalf("stats files %d bytes %d links %d, want 1, 10, 2", st.Files, st.Bytes, st.Links)
	}
	if m := st.Machines[0]; m.Files != 1 || m.Bytes != 10 || m.Links != 2 {
		t.Fatalf("machine %s: files %d bytes %d links %d, want 1, 10, 2", m.Name, m.Files, m.Bytes, m.Links)
	}
	if st.Groups != 0 || st.Wasted != 0 {
		t.Fatalf("stats %d groups %d wasted, want none: links have no content", st.Groups, st.Wasted)
	}
	tr, err := ix.Tree("nas1", "/data", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Files != 1 || tr.Bytes != 10 || tr.Links != 2 {
		t.Fatalf("tree /data: files %d bytes %d links %d, want 1, 10, 2", tr.Files, tr.Bytes, tr.Links)
	}
	if len(tr.Dirs) != 1 || tr.Dirs[0].Files != 0 || tr.Dirs[0].Links != 2 || tr.Dirs[0].Bytes != 0 {
		t.Fatalf("tree /data lists %+v, want sub with 2 links and nothing else", tr.Dirs)
	}
	f, err := ix.Lookup("nas1", "/data/sub/link2")
	if err != nil {
		t.Fatal(err)
	}
	if f.Target == "" || !f.Hashes.IsZero() {
		t.Fatalf("link2: target %q hashes %+v, want its target and no digest", f.Target, f.Hashes)
	}
}

// TestArchiveMembersAreCountedApart: members are told by the event's
// archive field, not by "::" in a path, and directory totals count the
// archive file with the files and its members apart.
func TestArchiveMembersAreCountedApart(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	zip := file("/data/a.zip", 100, 9, 11)
	zip.Archive = &events.Archive{Format: "zip", Members: 2}
	ix := projectLive(t,
		g.ev(&events.ScanStarted{Root: "/data"}),
		g.ev(&events.FileScanned{File: zip}),
		g.ev(&events.FileScanned{File: member("/data/a.zip", "photo.jpg", 70, 1)}),
		g.ev(&events.FileScanned{File: member("/data/a.zip", "docs/b.txt", 50, 2)}),
		// A real file whose name holds "::".
		g.ev(&events.FileScanned{File: file("/data/odd::name", 5, 3, 12)}),
		g.ev(&events.FileScanned{File: file("/data/photo.jpg", 70, 1, 13)}),
		g.ev(&events.ScanCompleted{Root: "/data", Complete: true}),
	)
	st, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Bytes != 175 || st.Members != 2 || st.MemberBytes != 120 {
		t.Fatalf("stats files %d bytes %d members %d member bytes %d, want 3, 175, 2, 120", st.Files, st.Bytes, st.Members, st.MemberBytes)
	}
	// The photo in the zip and the one on disk: one copy too many.
	if st.Groups != 1 || st.Wasted != 70 || st.UniqueBytes != 175+120-70 {
		t.Fatalf("stats groups %d wasted %d unique %d, want 1, 70, %d", st.Groups, st.Wasted, st.UniqueBytes, 175+120-70)
	}
	tr, err := ix.Tree("nas1", "/data", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Files != 3 || tr.Bytes != 175 || tr.Members != 2 || tr.MemberBytes != 120 {
		t.Fatalf("tree /data: %+v, want 3 files of 175 bytes, 2 members of 120", tr.Counts)
	}
	for _, d := range tr.Dirs {
		if d.Name == "a.zip::docs" && (d.Files != 0 || d.Members != 1 || d.MemberBytes != 50) {
			t.Fatalf("tree /data lists %s with %+v, want one member of 50 bytes", d.Name, d.Counts)
		}
	}
	res, err := ix.Find(FindQuery{Archived: true, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Files {
		got = append(got, string(f.Path))
		if f.Archive == nil || f.Archive.Path != "/data/a.zip" || f.Archive.Format != "zip" || !f.IsMember() {
			t.Fatalf("find --archived: %s has archive %+v, want the zip's", f.Path, f.Archive)
		}
	}
	slices.Sort(got)
	if strings.Join(got, ",") != "/data/a.zip::docs/b.txt,/data/a.zip::photo.jpg" || res.Total != 2 {
		t.Fatalf("find --archived = %v (total %d), want the two members and not /data/odd::name", got, res.Total)
	}
	match, err := FindQuery{Archived: true}.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	odd, err := ix.Lookup("nas1", "/data/odd::name")
	if err != nil {
		t.Fatal(err)
	}
	if match(odd) || odd.Archive != nil {
		t.Fatalf("/data/odd::name is taken for a member: archive %+v", odd.Archive)
	}
}

// TestHistoryFollowsMoves: the history of a path a file was moved to
// holds what happened to the file under its earlier paths, marked with
// those paths, and nothing of another file's life there.
func TestHistoryFollowsMoves(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	evs := []events.Event{
		g.ev(&events.ScanStarted{Root: "/data"}),
		g.ev(&events.FileScanned{File: file("/data/a", 10, 1, 11)}), // 2: another file, deleted
		g.ev(&events.FileDeleted{Path: "/data/a"}),                  // 3
		g.ev(&events.FileScanned{File: file("/data/a", 20, 2, 12)}), // 4: the file
		g.ev(&events.FileChanged{File: file("/data/a", 30, 3, 12), PrevSHA256: file("", 0, 2, 0).Hashes.SHA256, Reason: events.ReasonContent}), // 5
		g.ev(&events.FileMoved{From: "/data/a", File: file("/data/b", 30, 3, 12)}),                                                             // 6
		g.ev(&events.FileScanned{File: file("/data/a", 5, 4, 13)}),                                                                             // 7: a new file at a
		g.ev(&events.FileMoved{From: "/data/b", File: file("/data/c/d", 30, 3, 12)}),                                                           // 8
		g.ev(&events.FileChanged{File: file("/data/c/d", 30, 3, 12), Reason: events.ReasonMetadata}),                                           // 9
	}
	ix := projectLive(t, evs...)
	hs, err := ix.History("nas1", "/data/c/d")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		s := string(h.Type)
		if h.MovedAway {
			s += "(away)"
		}
		if h.Path != "" {
			s += "@" + string(h.Path)
		}
		got = append(got, s)
	}
	want := "FileScanned@/data/a FileChanged@/data/a FileMoved@/data/b FileMoved FileChanged"
	if strings.Join(got, " ") != want {
		t.Fatalf("history of /data/c/d:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if hs[0].Seq != 4 || hs[len(hs)-1].Seq != 9 {
		t.Fatalf("history seqs %d..%d, want 4..9", hs[0].Seq, hs[len(hs)-1].Seq)
	}
	// The old path keeps its own history, with no one else's.
	hs, err = ix.History("nas1", "/data/a")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 6 || hs[4].Type != events.TypeFileMoved || !hs[4].MovedAway || hs[5].Seq != 7 {
		t.Fatalf("history of /data/a: %+v", hs)
	}
	for _, h := range hs {
		if h.Path != "" {
			t.Fatalf("history of /data/a has an entry of %s", h.Path)
		}
	}
}

// TestHistoryOfAMoveBackAndForth: a file moved away and back ends.
func TestHistoryOfAMoveBackAndForth(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	ix := projectLive(t,
		g.ev(&events.FileScanned{File: file("/x/a", 1, 1, 1)}),
		g.ev(&events.FileMoved{From: "/x/a", File: file("/x/b", 1, 1, 1)}),
		g.ev(&events.FileMoved{From: "/x/b", File: file("/x/a", 1, 1, 1)}),
	)
	hs, err := ix.History("nas1", "/x/a")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 4 || hs[0].Seq != 1 || hs[0].Path != "" || hs[1].Path != "" || !hs[1].MovedAway || hs[2].Path != "/x/b" || hs[2].Seq != 2 || hs[3].Path != "" {
		t.Fatalf("history of /x/a: %+v", hs)
	}
}

// TestBitRotIsKept: after a verify found bit rot the file keeps the good
// digest recorded before, through metadata changes and moves, until its
// content changes.
func TestBitRotIsKept(t *testing.T) {
	t.Parallel()
	g := newGen("nas1", 1)
	good, rotten := file("/data/a", 10, 1, 11), file("/data/a", 10, 2, 11)
	ix := projectLive(t,
		g.ev(&events.FileScanned{File: good}),
		g.ev(&events.FileScanned{File: file("/data/copy", 10, 1, 12)}),
		g.ev(&events.FileChanged{File: rotten, PrevSHA256: good.Hashes.SHA256, Reason: events.ReasonBitRot}),
		g.ev(&events.FileChanged{File: rotten, Reason: events.ReasonMetadata}),
		g.ev(&events.FileMoved{From: "/data/a", File: file("/data/b", 10, 2, 11)}),
		g.ev(&events.FileScanned{File: file("/data/c", 10, 2, 13)}),
		g.ev(&events.FileChanged{File: file("/data/c", 10, 2, 13), PrevSHA256: good.Hashes.SHA256, Reason: events.ReasonBitRot}),
		g.ev(&events.FileChanged{File: file("/data/c", 10, 1, 13), PrevSHA256: rotten.Hashes.SHA256, Reason: events.ReasonContent}),
	)
	b, err := ix.Lookup("nas1", "/data/b")
	if err != nil {
		t.Fatal(err)
	}
	if b.BitRot != good.Hashes.SHA256 {
		t.Fatalf("/data/b: bit rot %q, want the good sha256 %s", b.BitRot, good.Hashes.SHA256)
	}
	c, err := ix.Lookup("nas1", "/data/c")
	if err != nil {
		t.Fatal(err)
	}
	if c.BitRot != "" {
		t.Fatalf("/data/c, restored: bit rot %q, want none", c.BitRot)
	}
	hs, err := ix.History("nas1", "/data/b")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 4 || hs[1].Type != events.TypeFileChanged || hs[1].Path != "/data/a" {
		t.Fatalf("history of /data/b: %+v, want the bit rot under /data/a", hs)
	}
}

// TestForget: a FilesForgotten takes a machine's files under a root (or
// all of them) out of every model, with an entry in each one's history,
// whatever the batches; other machines and other roots keep theirs.
func TestForget(t *testing.T) {
	t.Parallel()
	g, h := newGen("nas1", 1), newGen("laptop", 1)
	op := newGen("nas1", 0)
	op.scan = [16]byte{}
	ix := projectLive(t,
		g.ev(&events.ScanStarted{Root: "/"}),
		g.ev(&events.FileScanned{File: file("/data/a", 10, 1, 11)}),
		g.ev(&events.FileScanned{File: file("/data/sub/b", 20, 2, 12)}),
		g.ev(&events.FileScanned{File: symlink("/data/sub/l", "b", 13)}),
		g.ev(&events.FileScanned{File: member("/data/z.zip", "m.txt", 10, 1)}),
		g.ev(&events.FileScanned{File: file("/data2/c", 30, 2, 14)}),
		g.ev(&events.FileScanned{File: file("/home/d", 30, 2, 15)}),
		h.ev(&events.FileScanned{File: file("/data/a", 10, 1, 21)}),
		op.ev(&events.FilesForgotten{Root: "/data", Reason: "test"}),
		g.ev(&events.FileScanned{File: file("/data/new", 1, 5, 16)}),
	)
	st, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Machine{}
	for _, m := range st.Machines {
		byName[m.Name] = m
	}
	if m := byName["nas1"]; m.Files != 3 || m.Bytes != 61 || m.Links != 0 || m.Members != 0 {
		t.Fatalf("nas1 after forgetting /data: %+v, want /data/new, /data2/c and /home/d", m.Counts)
	}
	if m := byName["laptop"]; m.Files != 1 {
		t.Fatalf("laptop: %+v, want its file", m.Counts)
	}
	// /data/a of laptop and /data2/c, /home/d of nas1: two groups left of
	// the three contents.
	if st.Groups != 1 {
		t.Fatalf("%d groups, want 1 (sha 2: /data2/c and /home/d)", st.Groups)
	}
	if _, err := ix.Lookup("nas1", "/data/a"); err == nil {
		t.Fatal("/data/a of nas1 is still there")
	}
	got, err := ix.ByHash("sha256", file("", 0, 1, 0).Hashes.SHA256)
	if err != nil || len(got) != 1 || got[0].Machine != "laptop" {
		t.Fatalf("by hash: %+v, %v; want laptop's /data/a alone", got, err)
	}
	hs, err := ix.History("nas1", "/data/sub/b")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[1].Type != events.TypeFilesForgotten {
		t.Fatalf("history of /data/sub/b: %+v, want scanned, then forgotten", hs)
	}
	res, err := ix.Find(FindQuery{Pattern: "b", Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 0 {
		t.Fatalf("find b: %+v, want nothing", res.Files)
	}

	// The whole machine.
	op2 := newGen("laptop", 3)
	op2.scan = [16]byte{}
	ix = projectLive(t,
		h.ev(&events.FileScanned{File: file("/data/a", 10, 1, 21)}),
		h.ev(&events.FileScanned{File: file("/x/y/z", 10, 1, 22)}),
		op2.ev(&events.FilesForgotten{}),
	)
	st, err = ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 0 || st.Groups != 0 || st.Bytes != 0 {
		t.Fatalf("stats after forgetting laptop: %+v", st)
	}
}
