package promtest

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard (classic JSON model) a test
// reads: panels, nested in rows, with their PromQL.
type dashboard struct {
	Title  string  `json:"title"`
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promWords    = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "count": true, "rate": true, "irate": true, "increase": true,
		"histogram_quantile": true, "time": true, "and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"abs": true, "clamp_min": true, "delta": true, "deriv": true, "topk": true, "bottomk": true, "label_replace": true,
	}
)

// DashboardMetrics reads the Grafana dashboard at path, checks its shape
// (a title and uid; every panel has an id, a unique one, a type, a title
// and a place on the grid; every query panel has targets with a refId and
// an expression), and returns the metric names its expressions use.
func DashboardMetrics(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		tb.Fatalf("%s: no title, uid or panels", path)
	}
	names := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.ID == 0 || ids[p.ID] || p.Type == "" || p.Title == "" || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
				tb.Errorf("%s: panel %d %q: missing or duplicate id, type, title or grid place", path, p.ID, p.Title)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				tb.Errorf("%s: panel %q has no query", path, p.Title)
			}
			for _, t := range p.Targets {
				if t.RefID == "" || t.Expr == "" {
					tb.Errorf("%s: panel %q: a target without refId or expr", path, p.Title)
				}
				for _, n := range ExprMetrics(t.Expr) {
					names[n] = true
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	var out []string
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ExprMetrics returns the metric names a PromQL expression selects.
func ExprMetrics(expr string) []string {
	e := promStrings.ReplaceAllString(expr, "")
	e = promMatchers.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	var out []string
	for _, id := range promIdent.FindAllString(e, -1) {
		if !promWords[id] {
			out = append(out, id)
		}
	}
	return out
}

// Has reports whether a scrape exposes name: a family of that name, or
// the _bucket, _sum or _count series of a histogram.
func (f Families) Has(name string) bool {
	if f[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && f[base] != nil {
			return true
		}
	}
	return false
}
