package main

import (
	"cmp"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// fixtureData returns a data directory holding servicetest's fixture,
// owned by no process.
func fixtureData(t *testing.T) string {
	t.Helper()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	env.Close()
	return env.Dir
}

func TestGlobRegexp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		glob  string
		match []string
		miss  []string
	}{
		{"doc/*/README", []string{"/usr/share/doc/bash/README", "doc/x/README"}, []string{"/usr/doc/a/b/README", "/usr/xdoc/bash/README", "/doc/bash/README.md"}},
		{"/usr/*/doc", []string{"/usr/share/doc"}, []string{"/x/usr/share/doc", "/usr/doc"}},
		{"a?c/[xy]", []string{"/abc/x", "/a.c/y"}, []string{"/a/c/x", "/abc/z"}},
		{"d/[^xy]", []string{"/d/z"}, []string{"/d/x"}},
		{"d/[]x]", []string{"/d/]", "/d/x"}, []string{"/d/y"}},
		{`d/\*.(1)+`, []string{"/d/*.(1)+"}, []string{"/d/a.(1)+", "/d/*x(1)+"}},
		{"café/*", []string{"/café/x"}, []string{"/cafe/x"}},
	} {
		re, ok := globRegexp(c.glob)
		if !ok {
			t.Fatalf("globRegexp(%q) refused", c.glob)
		}
		rx := regexp.MustCompile(re)
		for _, s := range c.match {
			if !rx.MatchString(s) {
				t.Errorf("%q (%s) does not match %q", c.glob, re, s)
			}
		}
		for _, s := range c.miss {
			if rx.MatchString(s) {
				t.Errorf("%q (%s) matches %q", c.glob, re, s)
			}
		}
	}
	for _, g := range []string{"a/[b", "caf\xe9/*"} {
		if re, ok := globRegexp(g); ok {
			t.Errorf("globRegexp(%q) = %q, want it refused", g, re)
		}
	}
}

// show on a directory and tree on a file say which command fits; paths as
// find prints them (spaces, escaped control characters and bytes that are
// not UTF-8) are found again by show.
func TestPathsPasteBack(t *testing.T) {
	t.Parallel()
	data := fixtureData(t)

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"show", "/home/ana/docs"}, "is a directory: try: indexer tree /home/ana/docs"},
		{[]string{"show", "/home/ana/docs", "--machine", "laptop"}, "is a directory"},
		{[]string{"tree", servicetest.NotesPath}, "is a file: try: indexer show " + servicetest.NotesPath},
		{[]string{"tree", servicetest.ReportCopy, "--machine", "laptop"}, "is a file: try: indexer show '" + servicetest.ReportCopy + "'"},
	} {
		_, errOut, code := runMain(t, append(c.args, "--data", data)...)
		if code != app.ExitUsage || !strings.Contains(errOut, c.msg) {
			t.Errorf("indexer %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, errOut, app.ExitUsage, c.msg)
		}
	}

	out := mustRun(t, "find", "--under", "/home/ana", "--limit", "0", "--data", data)
	var pasted int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		i := strings.Index(l, "/home/ana/")
		if i < 0 {
			t.Fatalf("no path in %q", l)
		}
		p := l[i:]
		if !strings.ContainsAny(p, ` \`) {
			continue
		}
		pasted++
		for _, machine := range [][]string{nil, {"--machine", "laptop"}} {
			args := append([]string{"show", p, "--data", data}, machine...)
			if _, errOut, code := runMain(t, args...); code != 0 {
				t.Errorf("indexer show %q %v: exit %d: %s", p, machine, code, errOut)
			}
		}
	}
	if pasted < 3 { // the copy with spaces, the Latin-1 name, the newline
		t.Fatalf("only %d paths with spaces or escapes in:\n%s", pasted, out)
	}
}

// find --sort, --same-as and --format csv; dupes --format csv and the
// empty files' group.
func TestFindSortSameAsCSV(t *testing.T) {
	t.Parallel()
	data := fixtureData(t)

	// Sorted by size, largest first, over every match and then paged.
	var sizes []float64
	for page := 1; page <= 3; page++ {
		for _, l := range lines(t, mustRun(t, "find", "--under", "/home/ana", "--sort", "size", "--limit", "4", "--page", strconv.Itoa(page), "--json", "--data", data)) {
			sizes = append(sizes, l["size"].(float64))
		}
	}
	if len(sizes) != 12 || !slices.IsSortedFunc(sizes, func(a, b float64) int { return cmp.Compare(b, a) }) {
		t.Fatalf("--sort size over 3 pages: %v", sizes)
	}
	if sizes[0] < 3*servicetest.MiB {
		t.Fatalf("--sort size: the first page does not start with the largest file: %v", sizes)
	}

	// CSV, sorted by name: a header, then machine, path, size, mtime, sha256.
	out := mustRun(t, "find", "--under", "/home/ana/weird", "--sort", "name", "--format", "csv", "--data", data)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("find --format csv: %v\n%s", err, out)
	}
	if len(rows) != 5 || strings.Join(rows[0], ",") != "machine,path,size,mtime,sha256" {
		t.Fatalf("find --format csv: %q", rows)
	}
	var paths []string
	for _, r := range rows[1:] {
		paths = append(paths, r[1])
	}
	if !slices.IsSorted(paths) || !slices.Contains(paths, servicetest.NewlinePath) || !slices.Contains(paths, servicetest.Latin1Path) {
		t.Fatalf("find --format csv paths: %q (want the exact bytes, sorted)", paths)
	}

	// --same-as hashes a local file and lists its copies.
	local := filepath.Join(t.TempDir(), "mine.pdf")
	if err := os.WriteFile(local, []byte("report"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, mustRun(t, "find", "--same-as", local, "--json", "--data", data)); len(got) != 4 {
		t.Fatalf("--same-as: %d files, want the 4 copies of the report", len(got))
	}
	if _, errOut, code := runMain(t, "find", "--same-as", filepath.Dir(local), "--data", data); code != app.ExitUsage {
		t.Fatalf("--same-as a directory: exit %d %s", code, errOut)
	}
	for _, args := range [][]string{{"find", "--format", "xml"}, {"find", "--sort", "color"}, {"dupes", "--format", "csv", "--json"}} {
		if _, errOut, code := runMain(t, append(args, "--data", data)...); code != app.ExitUsage {
			t.Errorf("%v: exit %d %s, want a usage error", args, code, errOut)
		}
	}

	// dupes: the empty files' group only with --empty; CSV rows per file.
	out = mustRun(t, "dupes", "--format", "csv", "--files", "0", "--data", data)
	rows, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || strings.Join(rows[0], ",") != "group,sha256,size,machine,path,device,inode" {
		t.Fatalf("dupes --format csv: %v %q", err, rows)
	}
	if strings.Contains(out, "/home/ana/empty-1") {
		t.Fatalf("dupes lists the empty files without --empty:\n%s", out)
	}
	if out := mustRun(t, "dupes", "--format", "csv", "--empty", "--data", data); !strings.Contains(out, "/home/ana/empty-1") {
		t.Fatalf("dupes --empty lacks the empty files:\n%s", out)
	}
}
