package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

const findAbout = `Finds files by name and attributes. PATTERN is a substring of the file's
name, in any case; with --glob a shell pattern of the whole name (*.pdf,
IMG_????.jpg); with --regex a regular expression (RE2) found in the name.
--path matches PATTERN against the whole path instead. Without PATTERN,
the filters alone select.

Without --glob, --regex or --path, PATTERN says what it is: one with * ? or
[ is a glob (as with --glob), and one with / is part of a path (as with
--path): 'indexer find "*.gz"', 'indexer find doc/bash/README'. A glob with /
matches the last components of the path ('doc/*/README'), or the whole path
when it begins with /; its * and ? do not match /. --glob, --regex or --path
turn this reading off.

Examples:
  indexer find report --ext pdf --min-size 1M
  indexer find '*.gz' --under /usr/share
  indexer find share/doc/bash
  indexer find --glob 'IMG_*.jpg' --machine laptop --under /home/ana/photos
  indexer find --hash 845e9183...        (md5, sha1 or sha256, or a prefix of 8+ digits)

--archived keeps only the files inside archives, whose paths are
ARCHIVE::inner/path (indexer-scan indexes the members of zip, tar, 7z and
rar archives unless told --archives=false):
  indexer find --archived --ext jpg
  indexer find --archived --path /home/ana/backup.zip::   (the members of one archive)`

func (m *Main) runFind(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("find", "[PATTERN]", findAbout)
	glob := fs.Bool("glob", false, "PATTERN is a shell pattern of the whole name")
	regex := fs.Bool("regex", false, "PATTERN is a regular expression (RE2)")
	wholePath := fs.Bool("path", false, "match PATTERN against the whole path, not the name")
	caseSens := fs.Bool("case", false, "match case")
	ext := fs.String("ext", "", "only files with this `extension`")
	var minSize, maxSize app.SizeFlag
	fs.Var(&minSize, "min-size", "only files of at least this `size` (300, 10k, 1.5M, 2G)")
	fs.Var(&maxSize, "max-size", "only files of at most this `size`")
	machine := fs.String("machine", "", "only files of this machine `name`")
	under := fs.String("under", "", "only files below this `dir`ectory")
	hash := fs.String("hash", "", "only files with this content `digest` (hex md5, sha1 or sha256, or the first 8 or more digits of one, as history prints them)")
	archived := fs.Bool("archived", false, "only files inside archives (paths ARCHIVE::inner)")
	sameAs := fs.String("same-as", "", "only files with the content of this local `file`, which is hashed here (sha256)")
	sortBy := fs.String("sort", "", "order by `key`: name (the path), size (largest first) or mtime (newest first); reads every match (default: index order)")
	format := fs.String("format", "table", "output `format`: table, json (as --json) or csv")
	limit := fs.Int("limit", 50, "files per page; 0 prints every match")
	page := fs.Int("page", 1, "page `number` to print")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	pattern, err := onlyArg(pos, "PATTERN", true)
	if err != nil {
		return err
	}
	out, err := outputFormat(*format, qf.json)
	if err != nil {
		return err
	}
	switch *sortBy {
	case "", "name", "size", "mtime":
	default:
		return app.Usagef("--sort %q: want name, size or mtime", *sortBy)
	}
	if *sameAs != "" {
		if *hash != "" {
			return app.Usagef("--same-as and --hash exclude each other")
		}
		if *hash, err = fileSHA256(*sameAs); err != nil {
			return err
		}
	}
	q := service.FindRequest{
		Pattern: pattern, Path: *wholePath, CaseSensitive: *caseSens,
		Machine: *machine, Ext: *ext, MinSize: minSize.N, MaxSize: maxSize.N,
		Hash: *hash, Archived: *archived, Limit: *limit,
	}
	if *under != "" {
		q.Under = absPath(*under, *machine)
	}
	switch {
	case *glob && *regex:
		return app.Usagef("--glob and --regex exclude each other")
	case *glob:
		q.Mode = "glob"
	case *regex:
		q.Mode = "regex"
	default:
		plainPattern(&q)
	}
	if *limit < 0 || *page < 1 {
		return app.Usagef("--limit must be at least 0 and --page at least 1")
	}
	if *limit == 0 {
		q.Limit = -1
	} else {
		q.Offset = (*page - 1) * *limit
	}
	offset := q.Offset
	if *sortBy != "" { // sorted here: every match, then the page
		q.Limit, q.Offset = -1, 0
	}
	if maxSize.N > 0 && minSize.N > maxSize.N {
		return app.Usagef("--min-size %d is above --max-size %d", minSize.N, maxSize.N)
	}
	s, err := m.openSession(ctx, qf, "indexer find", false)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.q.Find(ctx, q)
	if err != nil {
		return queryError(err)
	}
	if *sortBy != "" {
		sortFiles(res.Files, *sortBy)
		res.Files = res.Files[min(offset, len(res.Files)):]
		if *limit > 0 && len(res.Files) > *limit {
			res.Files = res.Files[:*limit]
		}
		q.Limit, q.Offset = *limit, offset
	}
	if out == "csv" {
		return writeFilesCSV(m.Stdout, res.Files)
	}
	p := newPrinter(m.Stdout, out == "json")
	if out == "json" {
		for _, f := range res.Files {
			if err := p.obj(f); err != nil {
				return err
			}
		}
		return nil
	}
	if len(res.Files) > 0 {
		p.row("SIZE", "MODIFIED", "MACHINE", "PATH")
	}
	for _, f := range res.Files {
		p.row(sizeCell(f.File), fileTime(f.MTime), f.Machine, pathCell(f.File, string(f.Path)))
	}
	if err := p.flush(); err != nil {
		return err
	}
	total := strconv.Itoa(res.Total)
	if res.TotalCapped { // counting stopped there
		total += "+"
	}
	switch {
	case res.Total == 0:
		fmt.Fprintln(m.Stderr, "no file matches")
	case q.Limit > 0 && (res.Total > q.Offset+len(res.Files) || res.TotalCapped):
		fmt.Fprintf(m.Stderr, "%d-%d of %s files; next page: --page %s\n", q.Offset+1, q.Offset+len(res.Files), total, strconv.Itoa(*page+1))
	default:
		fmt.Fprintln(m.Stderr, app.Count(res.Total, "file", "files"))
	}
	return nil
}

// plainPattern reads a PATTERN given without --glob, --regex or --path as
// plocate and fd users write it: one with glob characters is a glob, one
// with a slash is part of a path. A substring of a path is looked up as the
// part after its last slash in the names (which the name index serves),
// and then in the path.
func plainPattern(q *service.FindRequest) {
	p := q.Pattern
	if strings.ContainsAny(p, "*?[") {
		q.Mode = "glob"
		if q.Path || !strings.Contains(p, "/") {
			return
		}
		// A glob of a path's last components, or of a whole path when it
		// begins with /: as a regular expression, since path.Match
		// anchors at the path's start.
		if re, ok := globRegexp(p); ok {
			q.Mode, q.Pattern, q.Path = "regex", re, true
		} else {
			q.Path = true
		}
		return
	}
	if q.Path || !strings.Contains(p, "/") {
		return
	}
	if q.CaseSensitive { // PathContains ignores case
		q.Path = true
		return
	}
	q.Pattern, q.PathContains = p[strings.LastIndex(p, "/")+1:], p
}

// globRegexp translates a path.Match pattern into a regular expression
// that matches the pattern against a path's last components, or against
// the whole path when the pattern begins with /. ok is false for a pattern
// that is not valid UTF-8 or has an unclosed [.
func globRegexp(g string) (re string, ok bool) {
	if !utf8.ValidString(g) {
		return "", false
	}
	var b strings.Builder
	if strings.HasPrefix(g, "/") {
		b.WriteString("^")
	} else {
		b.WriteString("(?:^|/)")
	}
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '\\':
			if i+1 < len(g) {
				_, n := utf8.DecodeRuneInString(g[i+1:])
				b.WriteString(regexp.QuoteMeta(g[i+1 : i+1+n]))
				i += n
			}
		case '[':
			end := strings.IndexByte(g[i+1:], ']')
			if end == 0 && len(g) > i+2 { // []...]: the ] is a member
				end = 1 + strings.IndexByte(g[i+2:], ']')
			}
			if end <= 0 {
				return "", false
			}
			class := g[i+1 : i+1+end]
			b.WriteString("[")
			b.WriteString(strings.ReplaceAll(class, "[", `\[`))
			b.WriteString("]")
			i += end + 1
		default:
			_, n := utf8.DecodeRuneInString(g[i:])
			b.WriteString(regexp.QuoteMeta(g[i : i+n]))
			i += n - 1
		}
	}
	b.WriteString("$")
	return b.String(), true
}

// outputFormat checks --format; --json is the same as --format json.
func outputFormat(format string, asJSON bool) (string, error) {
	switch {
	case asJSON && format != "table" && format != "json":
		return "", app.Usagef("--json and --format %s exclude each other", format)
	case asJSON:
		return "json", nil
	}
	switch format {
	case "table", "json", "csv":
		return format, nil
	}
	return "", app.Usagef("--format %q: want table, json or csv", format)
}

// sortFiles orders files by key: "name" by machine and path, "size"
// largest first, "mtime" newest first; ties by machine and path.
func sortFiles(files []projections.File, key string) {
	byPath := func(a, b projections.File) int {
		return cmp.Or(cmp.Compare(a.Machine, b.Machine), cmp.Compare(a.Path, b.Path))
	}
	slices.SortStableFunc(files, func(a, b projections.File) int {
		switch key {
		case "size":
			return cmp.Or(cmp.Compare(b.Size, a.Size), byPath(a, b))
		case "mtime":
			return cmp.Or(cmp.Compare(b.MTime, a.MTime), byPath(a, b))
		}
		return byPath(a, b)
	})
}

// fileSHA256 hashes a local file for --same-as.
func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", app.Usagef("--same-as: %v", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return "", app.Usagef("--same-as %s: not a regular file", name)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("--same-as: read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// csvTime formats Unix nanoseconds for CSV: RFC 3339 in UTC, or empty.
func csvTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// writeFilesCSV writes files as CSV with a header. Paths are their exact
// bytes (CSV quotes a name with a comma, quote or newline).
func writeFilesCSV(w io.Writer, files []projections.File) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"machine", "path", "size", "mtime", "sha256"})
	for _, f := range files {
		cw.Write([]string{f.Machine, string(f.Path), strconv.FormatInt(f.Size, 10), csvTime(f.MTime), f.Hashes.SHA256})
	}
	cw.Flush()
	return cw.Error()
}

// sizeCell is a file's size for a table; a symbolic link's recorded size
// is its target's length, not content: it shows as "link".
func sizeCell(f events.File) string {
	if isLink(f.Mode) {
		return "link"
	}
	return app.Bytes(f.Size)
}

// pathCell is name for a table, with " -> target" for a symbolic link.
func pathCell(f events.File, name string) string {
	if isLink(f.Mode) {
		return cell(name) + " -> " + cell(string(f.Target))
	}
	return cell(name)
}
