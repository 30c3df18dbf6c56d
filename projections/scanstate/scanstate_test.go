package scanstate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/scanstate"
	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// dump lists everything a state answers for the paths of evs.
func dump(t *testing.T, st *scanstate.State, dirs []string) string {
	t.Helper()
	out := ""
	for _, d := range dirs {
		st.Dir(d, func(name string, e *scanner.Entry) {
			full, ok := st.Get(d + "/" + name)
			out += fmt.Sprintf("%s/%s %+v full=%v %+v\n", d, name, *e, ok, full)
		})
	}
	st.Dirs("/r", func(dir string) error { out += "dir " + dir + "\n"; return nil })
	return out
}

// logOf opens a log on a new server in dir, holding evs.
func logOf(t *testing.T, dir string, evs ...events.Event) *store.Log {
	t.Helper()
	l := storetest.MustOpenLog(t, storetest.MustOpenServer(t, dir, true))
	if err := l.Append(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	return l
}

func history() []events.Event {
	scan, now := events.NewID(), time.Now()
	f := func(p string, ino uint64, sha string) events.File {
		return events.File{Path: events.Path(p), Size: int64(len(p)), MTime: 1, CTime: 2, Inode: ino, Device: 7,
			BTime:  100*int64(ino) - 150, // negative for inode 1: a varint
			Hashes: events.Hashes{MD5: "0123456789abcdef0123456789abcdef", SHA256: sha}}
	}
	sha := func(i int) string { return fmt.Sprintf("%064x", i) }
	var out []events.Event
	for _, d := range []events.Payload{
		&events.FileScanned{File: f("/r/a", 1, sha(1))},
		&events.FileScanned{File: f("/r/d/b", 2, sha(2))},
		&events.FileScanned{File: f("/r/d/c\xe9", 3, sha(3))},
		&events.FileScanned{File: f("/r/e/x", 4, sha(4))},
		&events.FileChanged{File: f("/r/a", 1, sha(5)), Reason: events.ReasonContent},
		&events.FileMoved{From: "/r/d/b", File: f("/r/moved", 2, sha(2))},
		&events.FileDeleted{Path: "/r/e/x"},
		&events.FileUnreadable{Path: "/r/nope", Error: "denied"},
	} {
		out = append(out, events.New("m", scan, now, d))
	}
	return out
}

func TestWriterEqualsCatchUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l := storetest.MustOpenLog(t, storetest.MustOpenServer(t, dir, true))
	direct, err := scanstate.Open(filepath.Join(dir, "direct.db"), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.CatchUp(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	w := direct.NewWriter()
	a := l.NewAppender()
	a.OnStored = w.Add
	for _, e := range history() {
		if err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(true); err != nil {
		t.Fatal(err)
	}
	replayed, err := scanstate.Open(filepath.Join(dir, "replayed.db"), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer replayed.Close()
	if n, err := replayed.CatchUp(ctx, l, nil); err != nil || n != len(history()) {
		t.Fatalf("catch up applied %d, %v", n, err)
	}
	dirs := []string{"/r", "/r/d", "/r/e"}
	a1, a2 := dump(t, direct, dirs), dump(t, replayed, dirs)
	if a1 != a2 {
		t.Fatalf("writer and catch-up differ:\n%s\n%s", a1, a2)
	}
	// The committed writer moved the checkpoint: nothing left to catch up.
	if n, _ := direct.CatchUp(ctx, l, nil); n != 0 {
		t.Fatalf("after commit, catch up applied %d more", n)
	}
	want := []string{"/r/a", "/r/moved", "/r/d/c\xe9"}
	var got []string
	for _, d := range dirs {
		direct.Dir(d, func(name string, _ *scanner.Entry) { got = append(got, d+"/"+name) })
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
	if p, e, ok := direct.Inode(7, 2); !ok || p != "/r/moved" || e.Hashes.SHA256 != fmt.Sprintf("%064x", 2) || e.BTime != 50 {
		t.Fatalf("inode 2: %q %+v %v", p, e, ok)
	}
	if _, _, ok := direct.Inode(7, 4); ok {
		t.Fatal("deleted file's inode still indexed")
	}
	if e, ok := direct.Get("/r/a"); !ok || e.Hashes.SHA256 != fmt.Sprintf("%064x", 5) || e.Hashes.MD5 == "" || e.BTime != -50 {
		t.Fatalf("Get /r/a: %+v", e)
	}
}

func TestDamagedOrStaleStateIsRebuilt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l := logOf(t, dir, history()...)
	path := filepath.Join(dir, "state.db")
	if err := os.WriteFile(path, []byte("not a bbolt file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := scanstate.Open(path, "m")
	if err != nil {
		t.Fatalf("a damaged state file must be started anew: %v", err)
	}
	if st.Discarded == nil {
		t.Fatal("a damaged state file was started anew without saying why")
	}
	if n, err := st.CatchUp(ctx, l, nil); err != nil || n != len(history()) || st.Len() != 3 {
		t.Fatalf("rebuilt: applied %d, %d paths, %v", n, st.Len(), err)
	}
	st.Close()

	// The same state against a new stream (recreated, same name) starts over.
	dir2 := t.TempDir()
	l2 := storetest.MustOpenLog(t, storetest.MustOpenServer(t, dir2, true))
	if err := l2.Append(ctx, history()[0]); err != nil {
		t.Fatal(err)
	}
	st, _ = scanstate.Open(path, "m")
	defer st.Close()
	if _, err := st.CatchUp(ctx, l2, nil); err != nil {
		t.Fatal(err)
	}
	if st.Len() != 1 {
		t.Fatalf("state of another stream kept %d paths, want 1", st.Len())
	}
}

// TestLenOfAnOlderFile checks Len on a state file written before the count
// of paths was kept: Open counts them once and stores the count.
func TestLenOfAnOlderFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	put := func(keys ...string) {
		t.Helper()
		db := &store.DB{Path: path}
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *store.Tx) error {
			for _, k := range keys {
				if err := tx.Bucket([]byte("files")).Put([]byte(k), []byte{1}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	lenAfterOpen := func() int {
		t.Helper()
		st, err := scanstate.Open(path, "m")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		return st.Len()
	}
	put("/r\x00a", "/r\x00b")
	if n := lenAfterOpen(); n != 2 {
		t.Fatalf("Len of an older file = %d, want 2", n)
	}
	// Counted once: a key written behind the state's back is not counted.
	put("/r\x00c")
	if n := lenAfterOpen(); n != 2 {
		t.Fatalf("Len = %d, want the count stored at the first open, 2", n)
	}
}

// TestUnknownInodeNamesNoFile checks that files whose inode is unknown (0)
// are not recorded by inode: a new file with inode 0 must not be taken for
// a move or a hard link of another.
func TestUnknownInodeNamesNoFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	f := events.File{Path: "/r/a", Size: 5, MTime: 1, Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", 1)}}
	l := logOf(t, dir, events.New("m", events.NewID(), time.Now(), &events.FileScanned{File: f}))
	st, err := scanstate.Open(filepath.Join(dir, "state.db"), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CatchUp(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get("/r/a"); !ok {
		t.Fatal("the file is not recorded")
	}
	if p, _, ok := st.Inode(0, 0); ok {
		t.Fatalf("inode 0 names %s", p)
	}
}

// TestArchiveMembers: members are kept apart from files (no directory,
// no inode), listed per archive, moved and deleted by their display path.
func TestArchiveMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	scan, now := events.NewID(), time.Now()
	member := func(archive, inner string, sha string) events.File {
		return events.File{Path: events.Path(archive + "::" + inner), Size: 3, MTime: 9,
			Hashes: events.Hashes{SHA256: sha},
			Archive: &events.Archive{Path: events.Path(archive), Member: []events.Path{events.Path(inner)},
				Format: "zip", CRC32: "0000abcd"}}
	}
	sha := func(i int) string { return fmt.Sprintf("%064x", i) }
	var evs []events.Event
	for _, d := range []events.Payload{
		&events.FileScanned{File: events.File{Path: "/r/a.zip", Size: 100, Inode: 5, Device: 7,
			Archive: &events.Archive{Format: "zip", Members: 3}}},
		&events.FileScanned{File: member("/r/a.zip", "d/x", sha(1))},
		&events.FileScanned{File: member("/r/a.zip", "y\xe9", sha(2))},
		&events.FileScanned{File: member("/r/a.zip", "z", sha(3))},
		// a real file whose name holds "::", and the members of an archive
		// named like that
		&events.FileScanned{File: events.File{Path: "/r/a.zip::odd", Inode: 6, Device: 7}},
		&events.FileScanned{File: member("/r/a.zip::odd", "w", sha(4))},
		&events.FileChanged{File: member("/r/a.zip", "z", sha(5)), Reason: events.ReasonContent},
		&events.FileDeleted{Path: "/r/a.zip::d/x"},
		&events.FileMoved{From: "/r/a.zip::y\xe9", File: member("/r/b.zip", "y\xe9", sha(2))},
	} {
		evs = append(evs, events.New("m", scan, now, d))
	}
	st, err := scanstate.Open(filepath.Join(dir, "s.db"), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CatchUp(ctx, logOf(t, dir, evs...), nil); err != nil {
		t.Fatal(err)
	}
	list := func(archive string) map[string]string {
		out := map[string]string{}
		st.Members(archive, func(p string, e *scanner.Entry) {
			out[p] = e.Hashes.SHA256[60:] + " " + e.Archive.CRC32 + " " + string(e.Archive.Member[0])
		})
		return out
	}
	if got, want := list("/r/a.zip"), map[string]string{"/r/a.zip::z": "0005 0000abcd z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members of a.zip = %v, want %v", got, want)
	}
	if got, want := list("/r/b.zip"), map[string]string{"/r/b.zip::y\xe9": "0002 0000abcd y\xe9"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members of b.zip = %v, want %v", got, want)
	}
	if got := list("/r/a.zip::odd"); len(got) != 1 {
		t.Errorf("members of a.zip::odd = %v", got)
	}
	var names []string
	st.Dir("/r", func(name string, _ *scanner.Entry) { names = append(names, name) })
	if want := []string{"a.zip", "a.zip::odd"}; !reflect.DeepEqual(names, want) {
		t.Errorf("files of /r = %q, want %q (members are not files of a directory)", names, want)
	}
	if n := st.Len(); n != 2 {
		t.Errorf("Len = %d, want the 2 files", n)
	}
}

// TestForgetDropsPaths: a FilesForgotten of the machine drops the paths
// under its root (and no others: /r/dx is not under /r/d), archive members
// and inodes too, so the next scan records them as new rather than
// unchanged, and deletes none of them; one without a root drops all.
func TestForgetDropsPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scan, now := events.NewID(), time.Now()
	f := func(p string, ino uint64) events.File {
		return events.File{Path: events.Path(p), Size: 1, MTime: 1, CTime: 2, Inode: ino, Device: 7,
			Hashes: events.Hashes{SHA256: fmt.Sprintf("%064x", ino)}}
	}
	m := f("/r/d/z.zip::m", 0)
	m.Archive = &events.Archive{Path: "/r/d/z.zip", Member: []events.Path{"m"}, Format: "zip"}
	ev := func(machine string, d events.Payload) events.Event { return events.New(machine, scan, now, d) }
	dir := t.TempDir()
	l := logOf(t, dir,
		ev("m", &events.FileScanned{File: f("/r/a", 1)}),
		ev("m", &events.FileScanned{File: f("/r/d/b", 2)}),
		ev("m", &events.FileScanned{File: f("/r/d/e/c", 3)}),
		ev("m", &events.FileScanned{File: f("/r/d/z.zip", 4)}),
		ev("m", &events.FileScanned{File: m}),
		ev("m", &events.FileScanned{File: f("/r/dx/c", 5)}),
		ev("other", &events.FilesForgotten{}),
		events.New("m", ulid0, now, &events.FilesForgotten{Root: "/r/d"}),
	)
	st, err := scanstate.Open(filepath.Join(dir, "st.db"), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CatchUp(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"/r/a": true, "/r/d/b": false, "/r/d/e/c": false, "/r/d/z.zip": false, "/r/dx/c": true} {
		if _, ok := st.Get(p); ok != want {
			t.Errorf("after forgetting /r/d: Get(%s) = %v, want %v", p, ok, want)
		}
	}
	if _, ok := st.Member("/r/d/z.zip", "/r/d/z.zip::m"); ok {
		t.Error("the member of /r/d/z.zip is still remembered")
	}
	if p, _, ok := st.Inode(7, 2); ok {
		t.Errorf("inode 2 still names %s", p)
	}
	var dirs []string
	st.Dirs("/r", func(d string) error { dirs = append(dirs, d); return nil })
	if fmt.Sprint(dirs) != "[/r /r/dx]" {
		t.Errorf("dirs after forgetting /r/d: %v, want /r and /r/dx", dirs)
	}
	if err := l.Append(ctx, events.New("m", ulid0, now, &events.FilesForgotten{})); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CatchUp(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/r/a", "/r/dx/c"} {
		if _, ok := st.Get(p); ok {
			t.Errorf("after forgetting everything: %s is still remembered", p)
		}
	}
}

var ulid0 = ulid.ULID{} // the operator's events belong to no scan

// TestScanAfterForget: after the operator forgets a directory, the next
// scan of the machine records the files still there as new and deletes
// nothing, also where a file went away meanwhile; the index then holds
// what the disk does.
func TestScanAfterForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	for _, p := range []string{"a", "sub/b", "sub/c", "subx/d"} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := storetest.MustOpenLog(t, storetest.MustOpenServer(t, dir, true))
	st, err := scanstate.Open(filepath.Join(dir, "st.db"), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scan := func() []string {
		t.Helper()
		if _, err := st.CatchUp(ctx, l, nil); err != nil {
			t.Fatal(err)
		}
		info, err := l.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := &scanner.Scanner{Machine: "m", State: st, Sink: l.NewAppender()}
		if _, err := s.Scan(ctx, root); err != nil {
			t.Fatal(err)
		}
		var out []string
		if _, err := l.Replay(ctx, info.LastSeq+1, "", func(r store.Record) error {
			e, err := events.Decode(r.Data)
			if err != nil {
				return err
			}
			switch d := e.Data.(type) {
			case *events.FileScanned:
				out = append(out, "scanned "+string(d.Path)[len(root):])
			case *events.FileDeleted:
				out = append(out, "deleted "+string(d.Path)[len(root):])
			case *events.FileChanged, *events.FileMoved:
				out = append(out, string(e.Type))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	scan()
	if err := l.Append(ctx, events.New("m", ulid0, time.Now(), &events.FilesForgotten{Root: events.Path(root + "/sub")})); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "sub/c")); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(scan()), "[scanned /sub/b]"; got != want {
		t.Fatalf("the scan after forgetting %s/sub stored %s, want %s: the files there anew, nothing deleted", root, got, want)
	}
	if got := scan(); len(got) != 0 {
		t.Fatalf("a rescan stored %v, want nothing", got)
	}
}

// A machine's scan state on a hub skips its events that a modified laptop
// delivered through the laptop's source (see store.CheckSource), as the
// hub's index does: else the next scan would start from files the machine
// never had.
func TestRogueLaptopEventsSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hub, l, cred := storetest.LeafHub(t, "laptop")
	sha := events.Hashes{SHA256: fmt.Sprintf("%064x", 1)}
	evs := []events.Event{
		events.New("laptop", events.NewID(), time.Now(), &events.FileScanned{File: events.File{Path: "/home/ok", Size: 1, Hashes: sha}}),
		events.New("desktop", events.NewID(), time.Now(), &events.FileScanned{File: events.File{Path: "/etc/planted", Size: 1, Hashes: sha}}),
	}
	storetest.RogueLaptop(t, hub, cred, "laptop", evs...)
	storetest.WaitForMsgs(t, l, uint64(len(evs)))
	for _, c := range []struct{ machine, path string }{{"desktop", "/etc/planted"}, {"laptop", "/home/ok"}} {
		st, err := scanstate.Open(filepath.Join(t.TempDir(), "state.db"), c.machine)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.CatchUp(ctx, l, nil); err != nil {
			t.Fatal(err)
		}
		if _, ok := st.Get(c.path); ok != (c.machine == "laptop") {
			t.Errorf("%s's scan state holds %s: %v", c.machine, c.path, ok)
		}
	}
}
