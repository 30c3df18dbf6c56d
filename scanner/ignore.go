package scanner

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// IgnoreFile is the name of the file in a scanned root whose patterns (in
// gitignore syntax) exclude paths from the scan.
const IgnoreFile = ".indexerignore"

// matcher decides which paths a scan leaves out, with gitignore semantics:
// the last matching pattern wins, "!" re-includes, a trailing "/" matches
// only directories, a pattern with a "/" in it is anchored at the root, one
// without matches at any depth, "*" and "?" stay within a name, "**" spans
// directories. An excluded directory is not entered, so nothing below it
// can be re-included (as in git).
type matcher struct {
	rules []rule
}

type rule struct {
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
	source  string
}

// newMatcher builds a matcher from --exclude patterns and, when present, the
// root's .indexerignore.
func newMatcher(root string, excludes []string) (*matcher, error) {
	m := &matcher{}
	for _, p := range excludes {
		if err := m.add(p, "--exclude"); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(root + "/" + IgnoreFile)
	if os.IsNotExist(err) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", IgnoreFile, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if err := m.add(sc.Text(), fmt.Sprintf("%s:%d", IgnoreFile, line)); err != nil {
			return nil, err
		}
	}
	return m, sc.Err()
}

func (m *matcher) add(p, source string) error {
	if strings.HasPrefix(p, "#") || strings.TrimSpace(p) == "" {
		return nil
	}
	// Trailing spaces are dropped unless escaped.
	for strings.HasSuffix(p, " ") && !strings.HasSuffix(p, `\ `) {
		p = p[:len(p)-1]
	}
	r := rule{source: source}
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
		return fmt.Errorf("%s: pattern %q: %w", source, p, err)
	}
	if anchored {
		expr = "^" + expr + "$"
	} else {
		expr = "^(?:.*/)?" + expr + "$"
	}
	if r.re, err = regexp.Compile(expr); err != nil {
		return fmt.Errorf("%s: pattern %q: %w", source, p, err)
	}
	m.rules = append(m.rules, r)
	return nil
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
	if m == nil || len(m.rules) == 0 {
		return false
	}
	out := false
	for i := range m.rules {
		r := &m.rules[i]
		if r.dirOnly && !isDir {
			continue
		}
		if r.re.MatchString(rel) {
			out = !r.negate
		}
	}
	return out
}
