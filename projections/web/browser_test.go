package web_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/indexer/indexer/projections/service/servicetest"
)

// chromium returns the browser to drive: $CHROMIUM, or Debian's
// chromium. Where it is missing and the tests run as root on Debian (as CI
// does), it is installed with apt-get, so the README's test command needs
// no other set-up; elsewhere the test fails and says what to install.
func chromium(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser"} {
			if name == "" {
				continue
			}
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	installOnce.Do(func() {
		if os.Getuid() != 0 {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		t.Log("installing chromium with apt-get for the browser tests")
		for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("apt-get %v: %v\n%s", args, err, out)
				return
			}
		}
	})
	if p := find(); p != "" {
		return p
	}
	t.Fatal("no chromium on PATH and it could not be installed: run apt-get install -y chromium (or set CHROMIUM)")
	return ""
}

var installOnce sync.Once

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab's context. JavaScript exceptions and console errors fail the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				problems = append(problems, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("page: %s", p)
		}
	})
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot saves the whole page as name.png in $INDEXER_SCREENSHOTS (or
// the test's temp dir).
func screenshot(t *testing.T, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var buf []byte
		if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
			return err
		}
		dir := os.Getenv("INDEXER_SCREENSHOTS")
		if dir == "" {
			dir = t.TempDir()
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// mustContain fails unless s holds every want, ignoring case (CSS may
// upper-case what innerText returns).
func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(strings.ToLower(s), strings.ToLower(w)) {
			t.Fatalf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestBrowser drives the web UI in a real headless Chromium over the
// fixture index: every page loads with real data, a search finds a file, a
// click on a duplicate group opens the file page, and the keyboard works.
func TestBrowser(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	ctx := newBrowser(t)
	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	var hash string

	// Dashboard: totals, machines, scans and the biggest waste.
	run("dashboard",
		chromedp.Navigate(srv.URL+"/#/"),
		chromedp.WaitVisible(".cards .card", chromedp.ByQuery),
		chromedp.WaitVisible("section.panel tbody tr", chromedp.ByQuery),
		screenshot(t, "dashboard"))
	mustContain(t, "dashboard", text("main"), "Wasted by duplicates", "114 MiB", "laptop", "nas1", "movie.mkv")

	// The dark scheme follows the system's.
	run("dark",
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Navigate(srv.URL+"/#/dupes"),
		chromedp.WaitVisible("a.group-link", chromedp.ByQuery),
		screenshot(t, "duplicates-dark"),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}),
		chromedp.Navigate(srv.URL+"/#/"),
		chromedp.WaitVisible(".cards .card", chromedp.ByQuery))

	// Search from the header box with the keyboard: "/" focuses the header's search box. (CDP sends the key's character
	// as a separate event that the page's preventDefault cannot stop, so
	// the box is cleared before typing; a real keyboard types nothing.)
	var focused string
	run("slash",
		chromedp.KeyEvent("/"),
		chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "quick-q" {
		t.Fatalf("after / the focus is on %q, want the search box", focused)
	}
	run("search",
		chromedp.Evaluate(`document.querySelector("#quick-q").value = ""`, nil),
		chromedp.SendKeys("#quick-q", "report"+kb.Enter, chromedp.ByQuery),
		chromedp.WaitVisible("#search-form", chromedp.ByQuery),
		chromedp.WaitVisible("main table a.row-link", chromedp.ByQuery),
		screenshot(t, "search"))
	mustContain(t, "search results", text("main section.panel"), "4 files", "report-2025.pdf")

	// Duplicates: biggest waste first; a click on the group opens the file.
	run("duplicates",
		chromedp.Navigate(srv.URL+"/#/dupes"),
		chromedp.WaitVisible("a.group-link", chromedp.ByQuery),
		screenshot(t, "duplicates"))
	mustContain(t, "duplicates", text("main section.panel"), "4 groups", "1 hard link")
	run("open group",
		chromedp.Click("a.group-link", chromedp.ByQuery),
		chromedp.WaitVisible(".fullpath", chromedp.ByQuery),
		chromedp.WaitVisible("ol.timeline", chromedp.ByQuery),
		chromedp.Evaluate(`location.hash`, &hash),
		screenshot(t, "file"))
	if !strings.HasPrefix(hash, "#/file?") {
		t.Fatalf("after the click the page is %q, want the file page", hash)
	}
	mustContain(t, "file page", text("main"), "movie", "Same content: 2 paths", "First seen")

	// The keyboard alone: j selects the first row, Enter opens it.
	run("keyboard",
		chromedp.Navigate(srv.URL+"/#/dupes?sort=count"),
		chromedp.WaitVisible("a.group-link", chromedp.ByQuery),
		chromedp.KeyEvent("j"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(".fullpath", chromedp.ByQuery),
		chromedp.Evaluate(`location.hash`, &hash))
	if s := text(".fullpath"); !strings.Contains(s, "report-2025") {
		t.Fatalf("keyboard opened %q (%s), want a report copy", hash, s)
	}

	// Tree with sizes, and names that are not UTF-8, hold a newline or HTML.
	run("tree",
		chromedp.Navigate(srv.URL+"/#/tree?m=laptop&d=/home/ana/"),
		chromedp.WaitVisible("nav.crumbs", chromedp.ByQuery),
		screenshot(t, "tree"),
		chromedp.Navigate(srv.URL+"/#/tree?m=laptop&d=/home/ana/weird/"),
		chromedp.WaitVisible("main table a.row-link", chromedp.ByQuery),
		screenshot(t, "tree-weird"))
	mustContain(t, "weird names", text("main"), `caf\xe9-latin1.txt`, `line\nbreak.txt`, "<img src=x onerror=alert(1)>.html")
	var imgs int
	run("no injected html", chromedp.Evaluate(`document.querySelectorAll("main img").length`, &imgs))
	if imgs != 0 {
		t.Fatalf("a file name became HTML: %d <img> in the page", imgs)
	}
	// Open the Latin-1 name: its exact bytes go back as path_b64.
	run("latin1 file",
		chromedp.Click(`//a[contains(., "latin1")]`, chromedp.BySearch),
		chromedp.WaitVisible(".fullpath", chromedp.ByQuery))
	if s := text("h1"); !strings.Contains(s, `caf\xe9-latin1.txt`) {
		t.Fatalf("latin1 file page title %q", s)
	}

	// A very long path stays on one line instead of widening the page.
	run("long path",
		chromedp.Navigate(srv.URL+"/#/search?q=rather-long-name"),
		chromedp.WaitVisible("main table a.row-link", chromedp.ByQuery),
		chromedp.Click("main table a.row-link", chromedp.ByQuery),
		chromedp.WaitVisible(".fullpath", chromedp.ByQuery),
		screenshot(t, "file-long-path"))
	var overflow bool
	run("overflow", chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow))
	if overflow {
		t.Fatal("the long path made the page scroll sideways")
	}

	// A bad pattern shows the server's 400 message.
	run("bad regex",
		chromedp.Navigate(srv.URL+"/#/search?q=(&mode=regex"),
		chromedp.WaitVisible("main .error", chromedp.ByQuery))
	if s := text("main .error"); !strings.Contains(s, "regex") {
		t.Fatalf("bad regex message %q", s)
	}
}

// TestBrowserArchiveMember: a zip member that is a duplicate of plain
// files, on its file page (the archive named, the copies listed, no "hard
// link" for a member's inode 0) and in a search with "in archives".
func TestBrowserArchiveMember(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t)
	ctx := newBrowser(t)
	var page, results string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/#/file?m=laptop&p="+url.QueryEscape(servicetest.ArchiveInner)),
		chromedp.WaitVisible("dl.kv", chromedp.ByQuery),
		screenshot(t, "archive-member"),
		chromedp.Text("main", &page, chromedp.ByQuery),
		chromedp.Navigate(srv.URL+"/#/search?archived=1"),
		chromedp.WaitVisible("main tbody tr", chromedp.ByQuery),
		screenshot(t, "search-in-archives"),
		chromedp.Text("main tbody", &results, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "member page", page, "report-2025.pdf", "Archive", servicetest.ArchivePath, servicetest.ReportPath, servicetest.NASReport)
	if strings.Contains(strings.ToLower(page), "hard link") || strings.Contains(page, "Inode") {
		t.Errorf("member page shows an inode or a hard link:\n%s", page)
	}
	mustContain(t, "in archives", results, "report-2025.pdf")
	if strings.Contains(results, "IMG_") {
		t.Errorf("in archives lists plain files:\n%s", results)
	}
}
