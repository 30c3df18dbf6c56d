package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections/service/servicetest"
)

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
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.Fixture()...)
	env.Close()
	data := env.Dir

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
