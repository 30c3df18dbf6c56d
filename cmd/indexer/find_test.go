package main

import (
	"regexp"
	"testing"
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
