package web_test

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/projections/web"
)

// rotServer serves the fixture after a --verify scan of the laptop that
// found notes.txt rotten: the same size and mtime, other content.
func rotServer(t *testing.T) *httptest.Server {
	t.Helper()
	env := servicetest.MustOpen(t, servicetest.Options{})
	evs := servicetest.Fixture()
	s := servicetest.NewScan("laptop", "/home/ana", time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC))
	notes := s.File(servicetest.NotesPath, 1500, "notes v2")
	good := notes.Hashes.SHA256
	notes.Hashes = servicetest.Hashes("notes v2 with a flipped bit")
	s.Changed(notes, good, events.ReasonBitRot)
	env.Publish(t, append(evs, s.Complete(events.ScanCounts{Seen: 1, Changed: 1})...)...)
	srv := httptest.NewServer(web.New(&service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}, nil))
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserBitRot: a file whose last verify found bit rot says so on its
// page, with the recorded (good) and the found sha256, and its history
// names the event; the dashboard warns and lists such files.
func TestBrowserBitRot(t *testing.T) {
	t.Parallel()
	srv := rotServer(t)
	ctx := newBrowser(t)
	var page string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/#/file?m=laptop&p="+url.QueryEscape(servicetest.NotesPath)),
		chromedp.WaitVisible("section.rot", chromedp.ByQuery),
		screenshot(t, "bit-rot"),
		chromedp.Text("main", &page, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	recorded := servicetest.Hashes("notes v2").SHA256
	found := servicetest.Hashes("notes v2 with a flipped bit").SHA256
	mustContain(t, "bit rot page", page, "Bit rot", "Recorded SHA-256 (good)", recorded, "Found SHA-256", found, "Bit rot found")

	// The dashboard warns, and its link lists the files.
	var list string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/#/"),
		chromedp.WaitVisible(`#rot-slot a[href="#/rot"]`, chromedp.ByQuery),
		chromedp.Click(`#rot-slot a[href="#/rot"]`, chromedp.ByQuery),
		chromedp.WaitVisible("main table a.row-link", chromedp.ByQuery),
		screenshot(t, "bit-rot-list"),
		chromedp.Text("main", &list, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "bit rot list", list, "1 file", servicetest.NotesPath, recorded[:12])
}

// TestBrowserDuplicateCounts: the dashboard's count of duplicate groups is
// the Duplicates page's (the empty file's group left out of both), and the
// page shows that group only when asked.
func TestBrowserDuplicateCounts(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	ctx := newBrowser(t)
	var card, dupes, withEmpty string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/#/"),
		chromedp.WaitVisible(".card.waste a", chromedp.ByQuery),
		chromedp.Text(".card.waste a", &card, chromedp.ByQuery),
		chromedp.Click(".card.waste a", chromedp.ByQuery),
		chromedp.WaitVisible("a.group-link", chromedp.ByQuery),
		chromedp.Text("main section.panel h2", &dupes, chromedp.ByQuery),
		chromedp.Click(`input[name="empty"]`, chromedp.ByQuery),
		chromedp.Click(`#dupes-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//main//section//h2[contains(., "5 groups")]`, chromedp.BySearch),
		chromedp.Text("main section.panel h2", &withEmpty, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	if card != "4 duplicate groups" || dupes != "4 groups" || withEmpty != "5 groups" {
		t.Fatalf("dashboard %q, Duplicates page %q, with empty files %q; want 4, 4 and 5", card, dupes, withEmpty)
	}
}

// TestBrowserArchives: the tree enters an archive as a folder, its folders
// and members below, and the Duplicates page shows a zip member beside the
// plain files with the same content.
func TestBrowserArchives(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	ctx := newBrowser(t)
	var home, archive, inner, crumbs, dupes, hash string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/#/tree?m=laptop&d=/home/ana/"),
		chromedp.WaitVisible(".ico-archive", chromedp.ByQuery),
		chromedp.Text("main", &home, chromedp.ByQuery),
		chromedp.Click(`//a[.//span[@class="ico-archive"]]`, chromedp.BySearch),
		chromedp.WaitVisible(`//main//a[contains(., "docs")]`, chromedp.BySearch),
		screenshot(t, "tree-archive"),
		chromedp.Text("main", &archive, chromedp.ByQuery),
		chromedp.Click(`//main//table//a[contains(., "docs")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//main//table//a[contains(., "report-2025.pdf")]`, chromedp.BySearch),
		chromedp.Text("main", &inner, chromedp.ByQuery),
		chromedp.Text("nav.crumbs", &crumbs, chromedp.ByQuery),
		chromedp.Evaluate(`location.hash`, &hash),
		chromedp.Navigate(srv.URL+"/#/dupes"),
		chromedp.WaitVisible("a.group-link", chromedp.ByQuery),
		screenshot(t, "duplicates-archive"),
		chromedp.Text("main section.panel", &dupes, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "home folder", home, "backup.zip", "archive")
	if strings.Contains(home, "backup.zip::") {
		t.Errorf("the folder lists members beside their archive:\n%s", home)
	}
	mustContain(t, "archive listing", archive, "An archive: 1 member", "docs")
	mustContain(t, "folder in the archive", inner, "report-2025.pdf")
	if crumbs = strings.Join(strings.Fields(crumbs), " "); !strings.Contains(crumbs, "ana / backup.zip :: docs") {
		t.Errorf("crumbs %q, want the archive and its folder", crumbs)
	}
	if want := url.QueryEscape("/home/ana/backup.zip::docs/"); !strings.Contains(hash, want) && !strings.Contains(hash, "backup.zip%3A%3Adocs%2F") {
		t.Errorf("folder in the archive at %q", hash)
	}
	mustContain(t, "duplicates", dupes, "in archive", "/home/ana/backup.zip::docs/report-2025.pdf", servicetest.ReportPath)
}

// TestBrowserNarrowAndLongPaths: at 420 px wide no page scrolls sideways
// and no table is cut; a long path keeps to one line, cut with an
// ellipsis, its full text in the title; a deep folder's crumbs too.
func TestBrowserNarrowAndLongPaths(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	ctx := newBrowser(t)
	fits := `(() => {
		const d = document.documentElement;
		if (d.scrollWidth > d.clientWidth) return "the page is " + d.scrollWidth + " px wide in " + d.clientWidth;
		for (const t of document.querySelectorAll("main table")) {
			if (t.scrollWidth > t.parentElement.clientWidth + 1) return "a table is " + t.scrollWidth + " px wide in " + t.parentElement.clientWidth;
		}
		const c = document.querySelector("nav.crumbs");
		if (c && c.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(c).fontSize) * 1.45) return "the folder's crumbs take " + c.getBoundingClientRect().height + " px: more than one line";
		return "";
	})()`
	long := url.QueryEscape(servicetest.LongPath)
	pages := map[string]string{
		"dashboard":  "/#/",
		"search":     "/#/search?q=rather-long-name",
		"duplicates": "/#/dupes",
		"tree":       "/#/tree?m=laptop&d=/home/ana/",
		"archive":    "/#/tree?m=laptop&d=/home/ana/backup.zip",
		"long file":  "/#/file?m=laptop&p=" + long,
		"long tree":  "/#/tree?m=laptop&d=" + url.QueryEscape(servicetest.LongPath[:strings.LastIndexByte(servicetest.LongPath, '/')+1]),
	}
	for _, width := range []int64{420, 1280} {
		for name, path := range pages {
			var problem string
			if err := chromedp.Run(ctx,
				chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(srv.URL+path),
				chromedp.WaitVisible("main h1", chromedp.ByQuery),
				chromedp.WaitNotPresent("main .loading", chromedp.ByQuery),
				screenshot(t, strings.ReplaceAll(name, " ", "-")+"-"+map[int64]string{420: "narrow", 1280: "wide"}[width]),
				chromedp.Evaluate(fits, &problem),
			); err != nil {
				t.Fatalf("%s at %d px: %v", name, width, err)
			}
			if problem != "" {
				t.Errorf("%s at %d px: %s", name, width, problem)
			}
		}
	}
	// One line, an ellipsis, the whole path on hover: in a list and on
	// the file's page.
	oneLine := `((sel) => {
		const el = document.querySelector(sel);
		if (!el) return "no " + sel;
		const box = getComputedStyle(el).display === "inline" ? el.closest("td") : el;
		const cs = getComputedStyle(box);
		const rs = [...el.getClientRects()];
		const high = Math.max(...rs.map((r) => r.bottom)) - Math.min(...rs.map((r) => r.top));
		if (high > 1.5 * Math.max(...rs.map((r) => r.height))) return sel + " takes " + high + " px: more than one line";
		if (cs.whiteSpace !== "nowrap" || cs.textOverflow !== "ellipsis") return sel + ": white-space " + cs.whiteSpace + ", text-overflow " + cs.textOverflow;
		if (!(box.scrollWidth > box.clientWidth)) return sel + " is not cut (" + box.scrollWidth + " in " + box.clientWidth + ")";
		return el.title;
	})`
	for _, c := range []struct{ page, sel, want string }{
		{"/#/search?q=rather-long-name", "main tbody td:nth-child(2) .path", servicetest.LongPath[:strings.LastIndexByte(servicetest.LongPath, '/')+1]},
		{"/#/file?m=laptop&p=" + long, ".fullpath > .path", servicetest.LongPath},
	} {
		for _, width := range []int64{420, 1280} {
			var title string
			if err := chromedp.Run(ctx,
				chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(srv.URL+c.page),
				chromedp.WaitVisible(c.sel, chromedp.ByQuery),
				chromedp.Evaluate(oneLine+`(`+"`"+c.sel+"`"+`)`, &title),
			); err != nil {
				t.Fatal(err)
			}
			if title != c.want {
				t.Errorf("%s at %d px: %s, want the title %q", c.page, width, title, c.want)
			}
		}
	}
}

// TestBrowserHistoryReasons: a file's history shows its events at the path
// it was moved from with that path, a deletion of a path still on disk
// with its reason, and a forget as "Forgotten" with its root and reason.
func TestBrowserHistoryReasons(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	at := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC)
	s := servicetest.NewScan("laptop", "/home/ana", at)
	s.T = s.T.Add(time.Second)
	s.Events = append(s.Events, events.New(s.Machine, s.ID, s.T, &events.FileDeleted{Path: servicetest.NotesPath, Reason: events.DeletedExcluded}))
	evs := append(servicetest.Fixture(), s.Complete(events.ScanCounts{Deleted: 1})...)
	evs = append(evs, events.New("laptop", ulid.ULID{}, at.Add(time.Hour), &events.FilesForgotten{Root: "/home/ana/music", Reason: "sold the disk"}))
	env.Publish(t, evs...)
	srv := httptest.NewServer(web.New(&service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}, nil))
	t.Cleanup(srv.Close)
	ctx := newBrowser(t)
	texts := map[string]string{servicetest.MovedTo: "", servicetest.NotesPath: "", "/home/ana/music/song.flac": ""}
	for p := range texts {
		var text string
		if err := chromedp.Run(ctx,
			chromedp.Navigate(srv.URL+"/#/file?m=laptop&p="+url.QueryEscape(p)),
			chromedp.WaitVisible("ol.timeline", chromedp.ByQuery),
			screenshot(t, "history-"+p[strings.LastIndexByte(p, '/')+1:]),
			chromedp.Text("ol.timeline", &text, chromedp.ByQuery),
		); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		texts[p] = text
	}
	mustContain(t, "moved file's history", texts[servicetest.MovedTo], "First seen", "at "+servicetest.MovedFrom, "Moved here", "from "+servicetest.MovedFrom)
	mustContain(t, "excluded file's history", texts[servicetest.NotesPath], "Deleted", "excluded: still on disk")
	mustContain(t, "forgotten file's history", texts["/home/ana/music/song.flac"], "Forgotten", "--root /home/ana/music", "sold the disk")
}

// TestBrowserDashboardLinksAndMembers: the dashboard shows the symbolic
// links and the archive members the index counts apart from files, in
// total and per machine.
func TestBrowserDashboardLinksAndMembers(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, servicetest.LinksAndMembers()...)
	srv := httptest.NewServer(web.New(&service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}, nil))
	t.Cleanup(srv.Close)
	ctx := newBrowser(t)
	var cards, head string
	var row []string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/#/"),
		chromedp.WaitVisible("section.panel tbody tr", chromedp.ByQuery),
		screenshot(t, "dashboard-links-members"),
		chromedp.Text(".cards", &cards, chromedp.ByQuery),
		chromedp.Text("section.panel thead", &head, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll("section.panel tbody tr:first-child td")].map((td) => td.innerText.trim())`, &row),
	); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "cards", cards, "1 machine · 1 link · 1 in archives (700 B)")
	mustContain(t, "machines", head, "Links", "In archives")
	if len(row) < 5 || row[0] != "m1" || row[1] != "3" || row[3] != "1" || row[4] != "1" {
		t.Errorf("machine row %q, want m1 with 3 files, 1 link, 1 in archives", row)
	}
}
