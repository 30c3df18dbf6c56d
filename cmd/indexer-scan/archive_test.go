package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// TestArchiveMemberIsADuplicate: a zip holding a copy of a plain file,
// scanned standalone: the index groups the member with the file, find's
// archived filter lists the members, and a member is looked up by its
// ARCHIVE::inner path with the hashes unzip and sha256sum give.
func TestArchiveMemberIsADuplicate(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	same := strings.Repeat("a photo, twice\n", 500)
	for p, c := range map[string]string{"photos/cat.jpg": same, "w/2019/cat.jpg": same, "w/notes.txt": "notes"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	cmd := exec.Command("sh", "-ec", "cd w && zip -qr ../backup.zip 2019 notes.txt && cd .. && rm -r w")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v\n%s", err, out)
	}
	if code, out, errs := run(t, context.Background(), "--data", data, "--quiet", root); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	db := &store.DB{Path: store.Dir(data).IndexPath(), ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ix := projections.NewIndex(db)
	member := root + "/backup.zip::2019/cat.jpg"

	res, err := ix.TopDuplicateGroups(projections.DupesQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].Count != 2 || res.Groups[0].Wasted != uint64(len(same)) {
		t.Fatalf("duplicate groups: %+v", res.Groups)
	}
	_, files, err := ix.Group(res.Groups[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, string(f.Path))
	}
	slices.Sort(paths)
	if want := []string{member, root + "/photos/cat.jpg"}; !slices.Equal(paths, want) {
		t.Fatalf("the group holds %q, want %q", paths, want)
	}

	found, err := ix.Find(projections.FindQuery{Archived: true})
	if err != nil {
		t.Fatal(err)
	}
	if found.Total != 2 {
		t.Fatalf("find archived: %d files", found.Total)
	}

	f, err := ix.Lookup("testhost", events.Path(member))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", "unzip -p "+root+"/backup.zip 2019/cat.jpg | sha256sum").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(string(out))[0]; f.Hashes.SHA256 != want || f.Size != int64(len(same)) {
		t.Fatalf("member %s: sha256 %s size %d, unzip | sha256sum says %s", member, f.Hashes.SHA256, f.Size, want)
	}
}

func TestArchivesFlag(t *testing.T) {
	t.Parallel()
	root, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("a"), 0o644)
	cmd := exec.Command("zip", "-q", "a.zip", "a.txt")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v\n%s", err, out)
	}
	if code, out, errs := run(t, context.Background(), "--data", data, "--quiet", "--archives=false", root); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if st := indexStats(t, data); st.Files != 2 {
		t.Fatalf("--archives=false indexed %d files, want the 2 on disk", st.Files)
	}
	if code, _, errs := run(t, context.Background(), "--data", data, "--archive-depth", "-1", root); code != 2 || !strings.Contains(errs, "--archive-depth") {
		t.Fatalf("--archive-depth -1: exit %d, %s", code, errs)
	}
}
