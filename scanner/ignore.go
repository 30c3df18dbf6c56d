package scanner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// IgnoreFile is the name of the file whose patterns (in gitignore syntax)
// exclude paths from the scan: in the scanned root, or in any directory
// below it for the paths under that directory.
const IgnoreFile = ".indexerignore"

// matcher decides which paths a scan leaves out, with gitignore semantics:
// the last matching pattern wins, "!" re-includes, a trailing "/" matches
// only directories, a pattern with a "/" in it is anchored at the root, one
// without matches at any depth, "*" and "?" stay within a name, "**" spans
// directories. An excluded directory is not entered, so nothing below it
// can be re-included (as in git). Patterns from a directory's own
// IgnoreFile apply below it, relative to it, and win over those from
// above.
//
// The walk lists directories in parallel, so rules are replaced, never
// changed: readers load the current slice, and addFile copies it.
type matcher struct {
	mu    sync.Mutex // held by addFile
	rules atomic.Pointer[[]rule]
}

type rule struct {
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
	source  string
	base    string // "" for the root's rules, else "dir/sub/" relative to the root
}

// CheckExclude reports whether pattern is a valid exclude pattern
// (gitignore syntax), with the error Scan would return for it.
func CheckExclude(pattern string) error {
	_, err := parseRule(pattern, "--exclude", "")
	return err
}

// newMatcher builds a matcher from --exclude patterns and, when present, the
// root's .indexerignore.
func newMatcher(root string, excludes []string) (*matcher, error) {
	var rules []rule
	for _, p := range excludes {
		r, err := parseRule(p, "--exclude", "")
		if err != nil {
			return nil, err
		}
		if r != nil {
			rules = append(rules, *r)
		}
	}
	m := &matcher{}
	m.rules.Store(&rules)
	f, err := openIgnore(unix.AT_FDCWD, root+"/"+IgnoreFile, root+"/"+IgnoreFile)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", IgnoreFile, err)
	}
	defer f.Close()
	if bad := m.addFile(f, IgnoreFile, ""); len(bad) > 0 {
		return nil, bad[0]
	}
	return m, nil
}

// openIgnore opens the IgnoreFile name relative to dirfd (path names it in
// messages) without ever blocking: not through a symbolic link, and not
// when it is a FIFO or anything else that is not a regular file.
func openIgnore(dirfd int, name, path string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return f, nil
}

// addFile adds the patterns of an IgnoreFile read from r, named source in
// messages, for the paths under base ("dir/sub/", or "" for the root). It
// returns the errors of the lines it could not use (and left out) and of
// reading.
func (m *matcher) addFile(r io.Reader, source, base string) []error {
	var add []rule
	var bad []error
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		r, err := parseRule(sc.Text(), fmt.Sprintf("%s:%d", source, line), base)
		if err != nil {
			bad = append(bad, err)
		} else if r != nil {
			add = append(add, *r)
		}
	}
	if err := sc.Err(); err != nil {
		bad = append(bad, fmt.Errorf("read %s: %w", source, err))
	}
	if len(add) > 0 {
		m.mu.Lock()
		rules := append(append([]rule(nil), *m.rules.Load()...), add...)
		m.rules.Store(&rules)
		m.mu.Unlock()
	}
	return bad
}

// parseRule parses one line of gitignore syntax; nil for a blank line or a
// comment.
func parseRule(p, source, base string) (*rule, error) {
	if strings.HasPrefix(p, "#") || strings.TrimSpace(p) == "" {
		return nil, nil
	}
	// Trailing spaces are dropped unless escaped.
	for strings.HasSuffix(p, " ") && !strings.HasSuffix(p, `\ `) {
		p = p[:len(p)-1]
	}
	r := rule{source: source, base: base}
	if strings.HasPrefix(p, "!") {
		r.negate, p = true, p[1:]
	} else if strings.HasPrefix(p, `\!`) || strings.HasPrefix(p, `\#`) {
		p = p[1:]
	}
	if strings.HasSuffix(p, "/") {
		r.dirOnly, p = true, strings.TrimRight(p, "/")
	}
	anchored := strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	expr, err := globRegexp(p)
	if err != nil {
		return nil, fmt.Errorf("%s: pattern %q: %w", source, p, err)
	}
	if anchored {
		expr = "^" + expr + "$"
	} else {
		expr = "^(?:.*/)?" + expr + "$"
	}
	if r.re, err = regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("%s: pattern %q: %w", source, p, err)
	}
	return &r, nil
}

// globRegexp translates one gitignore glob to a regular expression.
func globRegexp(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "/**") && i+3 == len(p):
			b.WriteString("/.*")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return "", fmt.Errorf("unclosed [")
			}
			class := p[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	return b.String(), nil
}

// excluded reports whether rel (the path relative to the root, "/"
// separated) is left out.
func (m *matcher) excluded(rel string, isDir bool) bool {
	if m == nil {
		return false
	}
	rules := *m.rules.Load()
	out := false
	for i := range rules {
		r := &rules[i]
		if r.dirOnly && !isDir || !strings.HasPrefix(rel, r.base) {
			continue
		}
		if r.re.MatchString(rel[len(r.base):]) {
			out = !r.negate
		}
	}
	return out
}
