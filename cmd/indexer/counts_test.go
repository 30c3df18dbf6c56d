package main

import (
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// TestLinksAndMembersAreNotFiles: stats, tree and machines count a
// symbolic link as a link and an archive's members apart from files, and
// find --archived lists members by their archive field, not a real file
// whose name holds "::".
func TestLinksAndMembersAreNotFiles(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.LinksAndMembers()...)
	env.Close()

	out := mustRun(t, "stats", "--json", "--data", env.Dir)
	for _, want := range []string{`"files":3,"bytes":1310,"links":1,"archive_members":1,"archive_member_bytes":700`} {
		if !strings.Contains(out, want) {
			t.Errorf("stats --json lacks %s:\n%s", want, out)
		}
	}
	out = mustRun(t, "tree", "/d", "--data", env.Dir)
	if !strings.Contains(out, "m1:/d/  3 files, 1.28 KiB, 1 link, 1 in archives (700 B)") {
		t.Errorf("tree /d:\n%s", out)
	}
	out = mustRun(t, "find", "--archived", "--data", env.Dir)
	if !strings.Contains(out, "/d/z.zip::in.txt") || strings.Contains(out, "odd::name") {
		t.Errorf("find --archived:\n%s", out)
	}
	out = mustRun(t, "tree", "--data", env.Dir)
	if !strings.Contains(out, "LINKS") || !strings.Contains(out, "IN ARCHIVES") {
		t.Errorf("tree (machines):\n%s", out)
	}
}

// TestDescribeForgotten: history says a file was forgotten, under which
// root and why.
func TestDescribeForgotten(t *testing.T) {
	t.Parallel()
	e := events.New("m1", [16]byte{}, time.Now(), &events.FilesForgotten{Root: "/srv/old", Reason: "sold the disk"})
	if d := describe(e, false); !strings.Contains(d, "forgotten") || !strings.Contains(d, "--root /srv/old") || !strings.Contains(d, "sold the disk") {
		t.Fatalf("describe(FilesForgotten) = %q", d)
	}
}
