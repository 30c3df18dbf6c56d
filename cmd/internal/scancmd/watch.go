package scancmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/indexer/indexer/scanner"

	"github.com/indexer/indexer/cmd/internal/app"
)

// Watching (--watch): after the first scan, indexer-scan keeps the index
// current as files change, so "which files are duplicates now?" is a query.
// The directories are watched before the first scan starts, so what changes
// while it runs is rescanned after it.
//
// It uses inotify through fsnotify. fsnotify is not recursive, so every
// directory under the roots is added when the watch starts and each new
// one as it appears (its Create event); fanotify would watch a whole file
// system without that, but needs CAP_SYS_ADMIN, and golang.org/x/sys/unix's
// bare inotify would mean writing fsnotify's event reading again.
//
// A change does not become an event here: it marks its directory dirty, and
// once nothing has changed for --watch-delay (at most 5x that during a
// steady stream of changes) the scanner rescans the lowest directory that
// holds every dirty one, as a root of its own. The scanner diffs against
// the scan state and deletes only under the root it scans, so a rescan of a
// subtree publishes the same events as a full scan would for it, moves
// within it included, and nothing for the rest. Standalone, the index is
// brought up to date after each rescan; as a client, the owner's projector
// does that.
//
// Standalone, the watch holds nothing open while nothing changes: after
// each rescan has reached the index it closes the scan state, frees the
// lease and stops the embedded server (whose timers woke the process ten
// times a second: 0.13 s of CPU in 30 s of nothing), and it opens them again
// for the next rescan, which costs a server start (milliseconds). Meanwhile
// the data directory is free: another scan or an indexer-project may take
// it, and the next rescan is then its client (or, while another scan of
// this machine holds the lease, waits and retries).
//
// Nor does it link the server. Any program that links nats-server runs
// its pse package's timer, armed at init, which reads /proc/PID/stat every
// second for the life of the process (12 ms of CPU in 30 s of nothing,
// and a wake-up that lets Go's sysmon run its checks), with no way to stop
// it. So indexer-scan --watch replaces itself (exec, the same process ID)
// with indexer-watch: this package's code without cmd/internal/inproc,
// which runs the embedded server for each rescan in a child indexer-project
// (app.Sibling) that exits when the watch suspends. Without indexer-watch
// beside it or on PATH (go run), indexer-scan says so and watches itself.
//
// When the kernel's queue overflows (fs.inotify.max_queued_events), events
// were lost: every root is rescanned. Every --rescan-every, too, as a
// safety net for what inotify does not see (changes through another mount
// namespace, network file systems, a watch limit reached).

// WatchProgram is the program --watch runs in.
const WatchProgram = "indexer-watch"

const watchUsage = `Usage: indexer-watch [flags] PATH...

indexer-watch is what indexer-scan --watch runs: it scans the PATHs, then
watches them and rescans what changes, with indexer-scan's flags (--watch
is implied). It does not link the NATS server, so it uses no CPU while
nothing changes; the embedded server runs in indexer-project, found beside
it or on PATH, while it scans. indexer-scan's help follows.

`

// ExecWatch replaces this process with indexer-watch (found by
// app.Beside) given args: a Main's ExecWatch. It returns only when it
// cannot.
func ExecWatch(args []string) error {
	exe := app.Beside(WatchProgram)
	if exe == "" {
		return fmt.Errorf("%s is neither beside this program nor on PATH", WatchProgram)
	}
	err := syscall.Exec(exe, append([]string{exe}, args...), os.Environ())
	return fmt.Errorf("exec %s: %w", exe, err)
}

// watchOptions are the flags of --watch.
type watchOptions struct {
	watch       bool
	rescanEvery time.Duration
	delay       time.Duration
}

// watcher is the state of one watch.
type watcher struct {
	r     *scanRun
	fsw   *fsnotify.Watcher
	roots []string // real paths of the roots
	skip  string   // the data directory: never watched (its writes would wake the watch)
	dirty map[string]bool
	// full is set when events may have been lost: every root is rescanned.
	full bool
	// indexBehind is set when the index could not be updated after a
	// rescan (standalone): the update is retried.
	indexBehind bool
	// pruner tells the pseudo file systems a scan does not enter: they
	// are not watched, and a directory on one is never rescanned alone.
	pruner scanner.Pruner
	// suspended is set while the log, scan state and lease are closed
	// (see suspend).
	suspended bool
}

// pruned reports whether the scan of its root does not enter the
// directory p: p is on a pseudo file system (scanner.PrunedFS) other than
// its root's, and --pseudo-fs was not given.
func (w *watcher) pruned(p string) bool {
	if w.r.pseudoFS {
		return false
	}
	t, dev := w.pruner.TypeOf(p)
	if t == "" {
		return false
	}
	for _, root := range w.roots {
		if p == root || strings.HasPrefix(p, root+"/") || root == "/" {
			if _, rootDev := w.pruner.TypeOf(root); rootDev == dev {
				return false // the root's own file system: scanned
			}
		}
	}
	return true
}

// newWatcher watches every directory under the roots. Run calls it before
// the first scan, so a change made while that scan runs is seen.
func (r *scanRun) newWatcher() (*watcher, error) {
	fsw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &watcher{r: r, fsw: fsw, dirty: map[string]bool{}}
	if data, err := filepath.Abs(r.cfg.DataDir); err == nil {
		if real, err := filepath.EvalSymlinks(data); err == nil {
			data = real
		}
		w.skip = data
	}
	for _, root := range r.roots {
		real, err := realDir(root)
		if err != nil {
			fsw.Close()
			return nil, fmt.Errorf("watch %s: %w", root, err)
		}
		w.roots = append(w.roots, real)
		w.addTree(real)
	}
	return w, nil
}

// Close stops watching.
func (w *watcher) Close() error { return w.fsw.Close() }

// run rescans what changes (see above) until ctx ends.
func (w *watcher) run(ctx context.Context) error {
	r, fsw := w.r, w.fsw
	r.quiet = true // the progress line is for the first scan
	r.logger.Info("watching", "roots", w.roots, "directories", len(fsw.WatchList()), "rescan_every", r.rescanEvery)
	w.suspend(ctx)
	if r.OnWatching != nil {
		r.OnWatching()
	}

	settle := time.NewTimer(time.Hour)
	settle.Stop()
	var since time.Time // the first change not yet rescanned
	changed := func() {
		now := time.Now()
		if since.IsZero() {
			since = now
		}
		// Wait for a quiet moment, but not forever during a steady stream.
		wait := min(r.delay, max(0, 5*r.delay-now.Sub(since)))
		settle.Reset(wait)
	}
	var safety <-chan time.Time
	if r.rescanEvery > 0 {
		t := time.NewTicker(r.rescanEvery)
		defer t.Stop()
		safety = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-fsw.Events:
			if !ok {
				return errors.New("watch: the watcher stopped")
			}
			w.note(ev)
			changed()
		case err, ok := <-fsw.Errors:
			if !ok {
				return errors.New("watch: the watcher stopped")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				r.logger.Warn("watch: the kernel's event queue overflowed: rescanning every root", "err", err)
				w.full = true
			} else {
				r.logger.Warn("watch", "err", err)
			}
			changed()
		case <-settle.C:
			since = time.Time{}
			w.rescan(ctx)
			w.retryLater(settle)
		case <-safety:
			r.logger.Info("watch: periodic full rescan")
			w.full = true
			w.rescan(ctx)
			w.retryLater(settle)
		}
		if w.suspended {
			continue
		}
		if err := r.lease.Err(); err != nil {
			// Another scan of this machine took over: it owns the scan state now.
			return fmt.Errorf("watch: %w", err)
		}
	}
}

// suspend closes the scan state, the lease and the log (the embedded
// server with it) when the watch owns the data directory and the index is
// up to date with what it scanned; resume opens them again.
func (w *watcher) suspend(ctx context.Context) {
	r := w.r
	if w.suspended || r.env == nil || r.env.Mode != app.Standalone || w.indexBehind || w.full {
		return
	}
	r.close(ctx)
	r.state, r.lease, r.env = nil, nil, nil
	w.suspended = true
}

// resume opens what suspend closed, as the first scan opened it.
func (w *watcher) resume(ctx context.Context) error {
	if !w.suspended {
		return nil
	}
	r := w.r
	if err := r.open(ctx); err != nil {
		r.close(ctx)
		r.state, r.lease, r.env = nil, nil, nil
		return err
	}
	w.suspended = false
	return nil
}

// retryLater sets settle to try again what the last rescan could not do
// (the rescan, or the index update after it).
func (w *watcher) retryLater(settle *time.Timer) {
	if w.indexBehind || w.full {
		settle.Reset(5 * w.r.delay)
	}
}

// realDir is a root's absolute real path, as the scanner records it.
func realDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// skipped reports whether p is the data directory or under it.
func (w *watcher) skipped(p string) bool {
	return w.skip != "" && (p == w.skip || strings.HasPrefix(p, w.skip+"/"))
}

// addTree watches dir and every directory under it. A directory that
// cannot be watched (gone, unreadable, the watch limit) is logged; the
// periodic rescan still covers it.
func (w *watcher) addTree(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if w.skipped(p) || w.pruned(p) {
			return filepath.SkipDir
		}
		if err := w.fsw.Add(p); err != nil {
			w.r.logger.Warn("watch: cannot watch a directory; the periodic rescan covers it", "dir", p, "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) || strings.Contains(err.Error(), "no space left") {
				return filepath.SkipAll // the watch limit: more adds fail too
			}
		}
		return nil
	})
}

// note marks what ev changed.
func (w *watcher) note(ev fsnotify.Event) {
	if w.skipped(ev.Name) {
		return
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			// Files may already be in it before its watch is added: the
			// rescan of its parent, which walks it, finds them.
			w.addTree(ev.Name)
		}
	}
	if ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
		// A watched directory moved away or deleted: its new place, if
		// under a root, arrives as a Create.
		w.fsw.Remove(ev.Name)
	}
	w.dirty[filepath.Dir(ev.Name)] = true
}

// rescan scans what is dirty and, standalone, updates the index.
func (w *watcher) rescan(ctx context.Context) {
	dirs := w.targets()
	w.dirty, w.full = map[string]bool{}, false
	if len(dirs) == 0 && !w.indexBehind {
		return
	}
	r := w.r
	start := time.Now()
	if err := w.resume(ctx); err != nil {
		if ctx.Err() == nil {
			r.logger.Warn("watch: cannot open the log to rescan; retrying", "dirs", dirs, "err", err, "in", 5*r.delay)
			w.full = true
		}
		return
	}
	r.sum = summary{Machine: r.machine, Mode: r.env.Mode.String(), Complete: true}
	if len(dirs) > 0 {
		if err := r.scanRoots(ctx, dirs); err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("watch: rescan failed; the next change or the periodic rescan retries", "dirs", dirs, "err", err)
				w.full = true
			}
			return
		}
	}
	if r.env.Mode == app.Standalone {
		// A query holding index.db (read-only, shared) when the update
		// starts makes it fail: the update is retried after the delay
		// until it goes through, so no rescan is left out of the index.
		err := r.indexStored(ctx, "interrupted: finishing the index")
		w.indexBehind = err != nil && ctx.Err() == nil
		if w.indexBehind {
			r.logger.Warn("watch: updating the index failed; retrying", "err", err, "in", 5*r.delay)
			return
		}
	}
	r.logger.Info("watch: rescanned", "dirs", dirs, "took", time.Since(start), "added", r.sum.Added, "changed", r.sum.Changed,
		"moved", r.sum.Moved, "deleted", r.sum.Deleted)
	w.suspend(ctx)
	if r.OnRescan != nil {
		r.OnRescan(dirs)
	}
}

// targets are the directories to rescan: for each root with something
// dirty, the lowest existing directory that holds every dirty one (one scan,
// so a move between two of them is seen as a move), or the root when
// exclusions above that directory apply (subtreeAlone); every root after an
// overflow.
func (w *watcher) targets() []string {
	var out []string
	for _, root := range w.roots {
		if w.full {
			out = append(out, root)
			continue
		}
		common := ""
		for d := range w.dirty {
			if d != root && !strings.HasPrefix(d, root+"/") {
				continue
			}
			if common == "" {
				common = d
			} else {
				common = commonDir(common, d)
			}
		}
		if common == "" {
			continue
		}
		// A dirty directory may be gone since: its parent holds the change.
		for common != root {
			if fi, err := os.Stat(common); err == nil && fi.IsDir() {
				break
			}
			common = filepath.Dir(common)
		}
		if common != root && !w.subtreeAlone(root, common) {
			common = root
		}
		out = append(out, common)
	}
	return out
}

// subtreeAlone reports whether dir, under root, can be scanned as a root of
// its own and exclude what a scan of root excludes: not when --exclude
// patterns were given (a pattern with a slash is anchored at the scanned
// root), nor with --one-file-system when dir is on another file system,
// nor when dir or a directory between it and root is on a pruned pseudo
// file system, nor when root or a directory between it and dir holds an
// .indexerignore (a scan of dir would not read it).
func (w *watcher) subtreeAlone(root, dir string) bool {
	if len(w.r.excludes) > 0 {
		return false
	}
	if w.r.oneFS && !sameDevice(root, dir) {
		return false // a scan of root does not enter dir's file system
	}
	for d := dir; d != root && d != filepath.Dir(d); d = filepath.Dir(d) {
		if w.pruned(d) {
			return false // a scan of root prunes it
		}
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".indexerignore")); err == nil {
			return false
		}
		if d == root || d == filepath.Dir(d) {
			return true
		}
	}
}

// sameDevice reports whether a and b are on the same file system.
func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

// commonDir is the lowest directory holding both a and b (clean absolute
// paths).
func commonDir(a, b string) string {
	for a != b {
		if len(a) > len(b) {
			a = filepath.Dir(a)
		} else if len(b) > len(a) {
			b = filepath.Dir(b)
		} else {
			a, b = filepath.Dir(a), filepath.Dir(b)
		}
	}
	return a
}
