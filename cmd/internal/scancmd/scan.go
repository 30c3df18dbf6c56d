package scancmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/scanstate"
	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/scanner/archive"
	"github.com/indexer/indexer/store"
)

// Main is the indexer-scan program; tests drive it directly.
type Main struct {
	Stdout, Stderr io.Writer
	// Hostname returns the default machine name.
	Hostname func() (string, error)
	// OnIndexing, when set, is called when a standalone scan starts
	// updating the index.
	OnIndexing func()
	// OnScanStart, when set, is called once, when the scan of the first
	// root has begun publishing (for tests that interrupt a scan).
	OnScanStart func()
	// SetPriority, when set, applies --priority to the process (nil in
	// tests that drive Main in their own process).
	SetPriority func(string) error
	// OnWatching, when set, is called once --watch watches every directory.
	OnWatching func()
	// OnRescan, when set, is called after each rescan of --watch, with the
	// directories it rescanned (the index is up to date with it then).
	OnRescan func(dirs []string)
	// OnMetrics, when set, is called with the --metrics URL once it
	// serves, and BeforeExit once the run ended, before the metrics
	// server stops (for tests that scrape a finished scan).
	OnMetrics  func(url string)
	BeforeExit func()
	// Program is the program's name in --help and --version:
	// indexer-scan when empty.
	Program string
	// ExecWatch, when set, runs --watch in another program and returns
	// only when it cannot: indexer-scan sets it to ExecWatch, which
	// replaces the process with indexer-watch (see watch.go).
	ExecWatch func(args []string) error
}

// program is the program's name.
func (m *Main) program() string {
	if m.Program == "" {
		return "indexer-scan"
	}
	return m.Program
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Hostname: os.Hostname, SetPriority: setPriority}
}

const usage = `Usage: indexer-scan [flags] PATH...

Walks each PATH, a directory (a single file is refused: scan the directory
that holds it), hashes every file that is new or changed since this
machine's last scan, and appends the facts (FileScanned, FileChanged,
FileMoved, FileDeleted, FileUnreadable) to the event log.

Standalone (no --server, no indexer-project running on --data), it runs the
embedded NATS server in the data directory and indexes what it stores as it
scans, so 'indexer dupes' answers right after it exits; queries asked while
it runs are answered by it, from the index as far as it got. As a client
(--server, or an indexer-project owning --data) it only publishes; when the
process that owns --data does not index, the summary says the index was
not updated and the scan exits 4.

A scan that would delete more than 100 files and more than half of a
root's, or every file of a file system it no longer finds (an unmounted
disk's mount point is an empty directory), deletes none of them without
--allow-mass-delete, and exits 5. --verify reports bit rot apart, with
the paths, and exits 6.

Files are lstat'ed and never followed through symbolic links; a symbolic
link is recorded with its target. A PATH that is, or lies under, a symbolic
link is followed and scanned at its real path. FIFOs, sockets and devices are never
opened and not indexed. A .indexerignore file (gitignore syntax) in a
scanned root, or in any directory below it for the paths under that
directory, excludes paths, as does --exclude; files indexed before under
a path now excluded leave the index. Pseudo file systems (proc, sysfs,
devtmpfs, cgroup, ...) below a PATH are not entered (--pseudo-fs enters
them). A file that changes on every read (a growing log) is recorded
without hashes, with a warning; 'indexer scans --problems' lists the last
scan's unreadable and unhashed paths.

The members of archives are files of the index too, named ARCHIVE::inner
(zip, tar, tar.gz/.bz2/.xz/.zst, 7z, rar; a single .gz, .bz2, .xz or .zst
file holds one member), hashed as they are decompressed, nothing extracted
to disk; an archive unchanged since the last scan is not opened again.
--archives=false turns this off.

A scan is background work: by default it runs at idle CPU priority
(SCHED_IDLE), so queries, the projector and everything else on the machine
go first, and it runs at full speed when the CPU is otherwise free. Use
--priority normal for a scan that should compete.

With --watch it does not exit after the scan: it watches the PATHs
(inotify) and rescans the directories where something changed once
nothing has changed for --watch-delay, so the index stays current (the
same events as a scan; standalone, the index is updated after each
rescan and queries read it in between). When the kernel's event queue
overflows, and every --rescan-every, it rescans every PATH. The watch runs
as indexer-watch (exec), a program that does not contain the NATS server,
so it uses no CPU while nothing changes.

Flags:
`

// summary is the outcome printed at the end, and its --json form.
type summary struct {
	Scans   []string `json:"scan_ids"`
	Machine string   `json:"machine"`
	Roots   []string `json:"roots"`
	events.ScanCounts
	Skipped int64 `json:"skipped"`
	// TooLarge counts files larger than MaxFileSize, recorded without
	// hashes.
	TooLarge    int64 `json:"too_large"`
	MaxFileSize int64 `json:"max_file_size"`
	// Rot counts the files --verify found changed under unchanged metadata
	// (bit rot); Changed does not count them. RotFiles lists them.
	Rot      int64         `json:"rot"`
	RotFiles []scanner.Rot `json:"rot_files,omitempty"`
	// Changing counts the files that changed on every attempt to read
	// them (a growing log), recorded without hashes; ChangingFiles lists
	// them.
	Changing      int64    `json:"changing"`
	ChangingFiles []string `json:"changing_files,omitempty"`
	// Excluded counts the paths exclude patterns left out, Pruned the
	// pseudo file systems not entered, and Left the recorded files under
	// them that left the view (not counted in Deleted).
	Excluded int64            `json:"excluded"`
	Pruned   []scanner.Pruned `json:"pruned,omitempty"`
	Left     int64            `json:"left_view"`
	// NotIndexed, when set, says why the index was not updated although
	// the scan's events are stored.
	NotIndexed string `json:"not_indexed,omitempty"`
	// IndexedBy names the owner of the data directory that indexes the
	// scan's events as they arrive (a client scan beside indexer-project).
	IndexedBy string `json:"indexed_by,omitempty"`
	// Held lists the roots whose deletions the mass-delete guard held.
	Held       []heldRoot `json:"deletions_held,omitempty"`
	DurationMS int64      `json:"duration_ms"`
	Complete   bool       `json:"complete"`
	Mode       string     `json:"mode"`
	Indexed    bool       `json:"index_updated"`
	// PeakRSS is this process's peak resident memory (VmHWM), 0 where the
	// system does not say.
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// Run scans the PATHs in args, in steps: read and check the flags and the
// roots, set the CPU priority, open the data directory (standalone or as a
// client) with the machine's scan lease and scan state, scan each root, and
// finish (standalone, index what was stored; print the summary).
func (m *Main) Run(ctx context.Context, args []string) error {
	if app.IsVersionFlag(args) {
		fmt.Fprintln(m.Stdout, app.Version(m.program()))
		return nil
	}
	r := &scanRun{Main: m, start: time.Now()}
	if err := r.parseFlags(args); err != nil {
		return err
	}
	if err := r.checkRoots(); err != nil {
		return err
	}
	if r.watch && m.ExecWatch != nil {
		err := m.ExecWatch(args)
		r.cfg.Logger(r.Stderr).Warn("watching in this process, which links the embedded server, whose timer wakes it every second while nothing changes: install indexer-watch beside indexer-scan (go build -o bin/ ./cmd/...)", "err", err)
	}
	if m.SetPriority != nil {
		if err := m.SetPriority(r.priority); err != nil {
			return err
		}
	}
	if r.metricsAddr != "" {
		r.metrics = newScanMetrics(r.machine)
		url, stop, err := serveMetrics(r.metricsAddr, r.metrics, r.cfg.Logger(r.Stderr))
		if err != nil {
			return err
		}
		defer stop()
		if m.OnMetrics != nil {
			m.OnMetrics(url)
		}
	}
	if m.BeforeExit != nil {
		defer m.BeforeExit()
	}
	defer r.close(ctx)
	if err := r.open(ctx); err != nil {
		return err
	}
	if r.env.Mode == app.Standalone {
		defer startMemoryBudget().stop()
	}
	var w *watcher
	if r.watch {
		var err error
		if w, err = r.newWatcher(); err != nil {
			return err
		}
		defer w.Close()
	}
	if err := r.scanRoots(ctx, r.roots); err != nil {
		return err
	}
	err := r.finish(ctx)
	if w == nil || (err != nil && !errors.Is(err, app.ErrPartial)) {
		return err
	}
	return w.run(ctx)
}

// scanRun is one Run's state.
type scanRun struct {
	*Main
	options
	start  time.Time
	logger *slog.Logger
	env    *app.Env
	lease  *store.Lease
	state  *scanstate.State
	sum    summary
	// owner is the process that owns the data directory when the scan is
	// its client (no --server), nil otherwise.
	owner *store.LockedError
	// metrics, with --metrics: nil records nothing.
	metrics *scanMetrics
	// live indexes a standalone scan's events as they are stored; nil as
	// a client, or when index.db could not be opened (updateIndex then
	// indexes them after the scan).
	live *liveIndex
}

// options are Run's flags.
type options struct {
	cfg      app.Config
	host     string // this host's name: the default machine, and the lease's holder
	machine  string
	hashes   []string
	excludes multiFlag
	oneFS    bool
	pseudoFS bool
	verify   bool
	massDel  bool
	asJSON   bool
	quiet    bool
	workers  int
	priority string
	maxSize  app.SizeFlag
	roots    []string
	archives bool
	depth    int
	watchOptions
	// metricsAddr is --metrics: "" serves none.
	metricsAddr string
}

// parseFlags reads args into r.options and checks every value, so a usage
// error is reported before anything is opened.
func (r *scanRun) parseFlags(args []string) error {
	fs := flag.NewFlagSet(r.program(), flag.ContinueOnError)
	fs.SetOutput(r.Stderr)
	r.cfg.RegisterFlags(fs)
	r.host, _ = r.Hostname()
	fs.StringVar(&r.machine, "machine", app.Getenv("MACHINE", events.MachineFromHost(r.host)), "machine `name` the files belong to (env INDEXER_MACHINE; default: the host name)")
	hashes := fs.String("hashes", strings.Join(scanner.DefaultHashes, ","), "hash `algorithms`, comma-separated: md5, sha1, sha256, blake3 (sha256 is always computed)")
	fs.Var(&r.excludes, "exclude", "leave out paths matching this gitignore-style `pattern` (repeatable)")
	fs.BoolVar(&r.oneFS, "one-file-system", false, "do not enter directories on other file systems")
	fs.BoolVar(&r.pseudoFS, "pseudo-fs", false, "also enter pseudo file systems (proc, sysfs, devtmpfs, cgroup, ...), which are pruned by default")
	fs.BoolVar(&r.verify, "verify", false, "re-read every file, and report content that changed while size and mtime did not (bit rot)")
	fs.BoolVar(&r.massDel, "allow-mass-delete", false, fmt.Sprintf("delete what the scan finds gone even when it is more than %d files and more than %.0f%% of a root's, or all the files of a file system it no longer finds (an unmounted disk reads as an empty directory)", scanner.MassDeleteMin, 100*scanner.MassDeleteShare))
	fs.BoolVar(&r.asJSON, "json", false, "print the summary as one JSON object")
	fs.BoolVar(&r.quiet, "quiet", false, "print nothing but errors and the summary")
	r.maxSize = app.SizeFlag{N: defaultMaxFileSize}
	fs.Var(&r.maxSize, "max-file-size", "files larger than this `size` are recorded without hashes and reported (0: no limit)")
	fs.BoolVar(&r.archives, "archives", true, "index the members of zip, tar (also .gz, .bz2, .xz, .zst), 7z and rar archives, and of single .gz, .bz2, .xz and .zst files, as files ARCHIVE::inner")
	fs.IntVar(&r.depth, "archive-depth", archive.DefaultDepth, "levels of archives inside archives whose members are indexed too (0: only the members of archives on disk)")
	fs.IntVar(&r.workers, "workers", 0, "files read at once, at least 1 (default: four per core)")
	fs.StringVar(&r.metricsAddr, "metrics", app.Getenv("SCAN_METRICS", ""), "serve Prometheus metrics on `host:port` while scanning (:port is loopback; env INDEXER_SCAN_METRICS)")
	fs.StringVar(&r.priority, "priority", app.Getenv("PRIORITY", "idle"), "CPU `priority`: idle (only time nothing else wants), low (nice 19) or normal (env INDEXER_PRIORITY)")
	fs.BoolVar(&r.watch, "watch", false, "after the scan, keep watching the PATHs (inotify) and rescan what changes, until interrupted")
	fs.DurationVar(&r.rescanEvery, "rescan-every", time.Hour, "with --watch, rescan every PATH this often as well (0: never)")
	fs.DurationVar(&r.delay, "watch-delay", 100*time.Millisecond, "with --watch, rescan once nothing changed for this long")
	fs.Usage = func() {
		if r.program() == WatchProgram {
			fmt.Fprint(r.Stderr, watchUsage)
		}
		fmt.Fprint(r.Stderr, usage)
		fs.PrintDefaults()
		fmt.Fprint(r.Stderr, "\n"+app.ExitCodes)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return app.Usagef("%v", err)
	}
	r.roots = fs.Args()
	if len(r.roots) == 0 {
		return app.Usagef("no PATH to scan")
	}
	var badWorkers error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "workers" && r.workers < 1 {
			badWorkers = app.Usagef("--workers %d: give at least 1, or leave it out for four per core", r.workers)
		}
	})
	if badWorkers != nil {
		return badWorkers
	}
	if err := machineOfCredential(fs, r.cfg, &r.machine); err != nil {
		return err
	}
	if r.depth < 0 {
		return app.Usagef("--archive-depth %d: give 0 or more", r.depth)
	}
	if err := events.ValidateMachine(r.machine); err != nil {
		return app.Usagef("%v", err)
	}
	if err := parsePriority(r.priority); err != nil {
		return app.Usagef("%v", err)
	}
	if r.delay <= 0 || r.rescanEvery < 0 {
		return app.Usagef("--watch-delay must be above 0 and --rescan-every at least 0")
	}
	for _, p := range r.excludes {
		if err := scanner.CheckExclude(p); err != nil {
			return app.Usagef("%v (a gitignore pattern: escape a literal '[', '*' or '?' with '\\')", err)
		}
	}
	algos, err := scanner.ParseHashes(*hashes)
	if err != nil {
		return app.Usagef("--hashes: %v", err)
	}
	r.hashes = algos
	return nil
}

// checkRoots refuses a root that is missing or not a directory before
// anything is opened.
func (r *scanRun) checkRoots() error {
	for _, root := range r.roots {
		fi, err := os.Stat(root)
		if err != nil {
			return fmt.Errorf("scan root: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("scan root %s: %w", root, scanner.ErrNotDirectory)
		}
	}
	return nil
}

// open opens the data directory (standalone or as a client), takes the
// machine's scan lease, and catches the machine's scan state up with the
// log. close closes what it opened, also when it failed halfway.
func (r *scanRun) open(ctx context.Context) error {
	r.logger = r.cfg.Logger(r.Stderr)
	var err error
	if r.env, err = app.Open(ctx, r.cfg, app.OpenOptions{Owner: "indexer-scan", AllowClient: true}, r.logger); err != nil {
		return err
	}
	holder := fmt.Sprintf(holderFormat+" %s", os.Getpid(), r.host, time.Now().Format(time.RFC3339))
	r.lease, err = r.env.Log.AcquireLease(ctx, r.machine, holder, store.DefaultLeaseTTL, func(other string) bool {
		if deadHolder(other, r.host) {
			r.logger.Warn("taking over the lease of a scan that no longer runs", "machine", r.machine, "holder", other)
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	// As a client nothing else creates the data directory, which holds
	// the scan state (private: it lists the machine's files).
	if err := os.MkdirAll(r.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if r.state, err = scanstate.Open(r.cfg.Dir().ScanStatePath(r.machine), r.machine); err != nil {
		return err
	}
	if r.state.Discarded != nil {
		r.logger.Warn("scan state discarded: reading this machine's events from the log again", "reason", r.state.Discarded)
	}
	if n, err := r.state.CatchUp(ctx, r.env.Log, r.logger); err != nil {
		return err
	} else if n > 0 {
		r.logger.Info("scan state caught up", "events", n)
	}
	r.sum = summary{Machine: r.machine, Mode: r.env.Mode.String(), Complete: true, MaxFileSize: r.maxSize.N}
	if r.env.Mode == app.Standalone {
		if r.live, err = startLiveIndex(r.cfg, r.env.Log, r.logger); err != nil {
			r.logger.Info("indexing after the scan, not beside it", "err", err)
		}
	}
	if r.env.Mode == app.Client && r.cfg.Server == "" {
		if o, err := app.DirOwner(r.cfg.Dir(), "indexer-scan probe"); err == nil {
			r.owner = o.Lock // nil if the owner ended since Open
		}
	}
	return nil
}

// close closes what open opened, in reverse order.
func (r *scanRun) close(ctx context.Context) {
	if r.live != nil {
		r.live.close()
		r.live = nil
	}
	if r.state != nil {
		r.state.Close()
	}
	if r.lease != nil {
		r.lease.Release(context.WithoutCancel(ctx))
	}
	if r.env != nil {
		r.env.Close()
	}
}

// scanRoots scans the roots in turn. The scan state takes each root's events
// as the log acknowledges them, and is committed after each root, so a
// later root (which may overlap an earlier one) and the next scan start
// from it. A scan that fails ends the run (scanFailed).
func (r *scanRun) scanRoots(ctx context.Context, roots []string) error {
	appender := r.env.Log.NewAppender()
	for _, root := range roots {
		stateWriter := r.state.NewWriter()
		var stored storedCounts
		appender.OnStored = func(seq uint64, e events.Event) {
			stateWriter.Add(seq, e)
			r.live.add(seq, e)
			stored.add(e)
		}
		res, err := r.scan(ctx, root, appender)
		r.sum.add(stored.of(res))
		if err != nil {
			stateWriter.Commit(false) // applied, but the checkpoint stays: CatchUp redoes it
			r.scanFailed(ctx, res)
			return r.explain(err)
		}
		r.logger.Info("scan finished", "machine", r.machine, "root", res.Root, "scan", res.Scan.String(), "took", res.Duration, "complete", res.Complete,
			"seen", res.Counts.Seen, "read", res.Counts.Read, "added", res.Counts.Added, "changed", res.Counts.Changed,
			"moved", res.Counts.Moved, "deleted", res.Counts.Deleted, "unreadable", res.Counts.Unreadable,
			"skipped", res.Skipped, "bytes_read", res.Counts.BytesRead)
		if err := r.lease.Err(); err != nil {
			stateWriter.Commit(false)
			return err
		}
		if err := stateWriter.Commit(true); err != nil {
			return err
		}
	}
	return nil
}

// projectorOwner is how indexer-project names itself in the data
// directory's lock: the one owner that indexes what a client stores.
const projectorOwner = "indexer-project"

// notIndexed says why the index was not updated after a client scan whose
// data directory's owner does not index the log (indexer events --follow,
// a query, a rebuild, another machine's standalone scan), or "".
func (r *scanRun) notIndexed() string {
	if r.owner == nil || r.owner.Owner == projectorOwner {
		return ""
	}
	return fmt.Sprintf("%s is held by %s (pid %d), which does not index the log", r.cfg.DataDir, r.owner.Owner, r.owner.PID)
}

// explain rewords an error of the log for a client of the data directory's
// owner: the generic hint would blame a --server the user did not give.
func (r *scanRun) explain(err error) error {
	if r.cfg.Server != "" || r.env.Mode != app.Client || !errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%v\nthe process that owns %s, whose server this scan published to, went away; what the log acknowledged is stored and counted above: run the scan again (standalone once nothing owns the directory, or with indexer-project running)", err, r.cfg.DataDir)
}

// storedCounts counts a scan's file events as the log acknowledges them.
type storedCounts struct {
	counts events.ScanCounts
	left   int64 // FileDeleted with a reason: left the view
	rot    map[string]bool
}

func (s *storedCounts) add(e events.Event) {
	switch d := e.Data.(type) {
	case *events.FileScanned:
		s.counts.Added++
	case *events.FileChanged:
		s.counts.Changed++
		if d.Reason == events.ReasonBitRot {
			if s.rot == nil {
				s.rot = map[string]bool{}
			}
			s.rot[string(d.Path)] = true
		}
	case *events.FileMoved:
		s.counts.Moved++
	case *events.FileDeleted:
		if d.Reason != "" {
			s.left++ // still on disk: excluded or pruned now
		} else {
			s.counts.Deleted++
		}
	case *events.FileUnreadable:
		s.counts.Unreadable++
	}
}

// of returns res with its event counts, and its rotten files, those the
// log acknowledged: what the scan emitted may not all be stored when it
// failed. Seen, read and bytes read stay the walk's.
func (s *storedCounts) of(res scanner.Result) scanner.Result {
	c := &res.Counts
	c.Added, c.Changed, c.Moved, c.Deleted, c.Unreadable = s.counts.Added, s.counts.Changed, s.counts.Moved, s.counts.Deleted, s.counts.Unreadable
	res.Left = s.left
	rot := res.Rot[:0:0]
	for _, f := range res.Rot {
		if s.rot[f.Path] {
			rot = append(rot, f)
		}
	}
	res.Rot = rot
	return res
}

// scan scans one root, showing its progress.
func (r *scanRun) scan(ctx context.Context, root string, appender *store.Appender) (scanner.Result, error) {
	prog := &scanner.Progress{}
	sc := &scanner.Scanner{
		Machine: r.machine, Hashes: r.hashes, Exclude: r.excludes, OneFileSystem: r.oneFS, Verify: r.verify,
		AllowMassDelete: r.massDel, Workers: r.workers, MaxFileSize: r.maxSize.N, State: r.state, Sink: r.metrics.sink(&notify{Appender: appender, hook: r.OnScanStart}), Logger: r.logger, Progress: prog,
		Archives: r.archives, ArchiveDepth: archiveDepth(r.depth), PseudoFS: r.pseudoFS,
	}
	stopProgress := startProgress(r.Stderr, root, prog, r.quiet || r.asJSON)
	defer stopProgress()
	r.metrics.begin(prog)
	res, err := sc.Scan(ctx, root)
	r.metrics.end(res)
	return res, err
}

// archiveDepth is the scanner's ArchiveDepth for --archive-depth n: 0
// there means none (negative), not the default.
func archiveDepth(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// scanFailed ends a run whose scan of res.Root failed or was interrupted:
// standalone, an interrupted scan's events are indexed all the same; the
// summary is printed if the scan began.
func (r *scanRun) scanFailed(ctx context.Context, res scanner.Result) {
	if ctx.Err() != nil && r.env.Mode == app.Standalone {
		err := r.indexStored(ctx, "interrupted: indexing what the scan stored")
		if r.sum.Indexed = err == nil; err != nil {
			fmt.Fprintf(r.Stderr, "indexer-scan: %v\n", err)
		}
	}
	if res.Root != "" {
		r.report()
	}
}

// finish ends a run whose scans all finished: standalone, it brings the
// index up to date first; then it prints the summary. Unreadable paths make
// the run partial.
func (r *scanRun) finish(ctx context.Context) error {
	if r.env.Mode == app.Standalone {
		// The scan state's pages reach the disk while the index takes the
		// scan's last events, not after.
		r.state.SyncBehind()
		err := r.indexStored(ctx, "the scan is complete: finishing its index before stopping")
		if errors.Is(err, errIndexSkipped) {
			r.report()
			return err
		} else if err != nil {
			return fmt.Errorf("scan stored; updating the index: %w", err)
		}
		r.sum.Indexed = true
	}
	r.sum.NotIndexed = r.notIndexed()
	if r.owner != nil && r.owner.Owner == projectorOwner {
		r.sum.IndexedBy = fmt.Sprintf("%s (pid %d)", r.owner.Owner, r.owner.PID)
	}
	r.sum.PeakRSS = peakRSS()
	r.report()
	return r.sum.outcome()
}

// outcome is the error, and so the exit code, of a run whose scans all
// finished: nil, or every problem the summary reports, the most urgent
// deciding the exit code (app.ExitCode).
func (s *summary) outcome() error {
	var errs []error
	if s.Rot > 0 {
		errs = append(errs, fmt.Errorf("%w: %s changed while size, times and inode did not (listed above; the recorded sha256 is the good content's: 'indexer find --hash' finds its copies)",
			app.ErrBitRot, app.Count(s.Rot, "file", "files")))
	}
	for _, h := range s.Held {
		errs = append(errs, fmt.Errorf("%w under %s (see the summary): files gone were not deleted; if they are really gone (not an unmounted disk), run again with --allow-mass-delete",
			app.ErrDeletionsHeld, h.Root))
	}
	if s.NotIndexed != "" {
		errs = append(errs, fmt.Errorf("%w: the scan's events are stored; run indexer-project (it indexes them, and keeps the index current), or run the scan again once that process ends", app.ErrNotIndexed))
	}
	if s.Unreadable > 0 {
		errs = append(errs, fmt.Errorf("%s could not be read (see the log): %w", app.Count(s.Unreadable, "path", "paths"), app.ErrPartial))
	}
	return errors.Join(errs...)
}

// report prints the summary as it stands.
func (r *scanRun) report() {
	r.sum.DurationMS = time.Since(r.start).Milliseconds()
	r.print(r.sum, r.asJSON)
}

func (s *summary) add(r scanner.Result) {
	if r.Root == "" {
		return
	}
	s.Scans = append(s.Scans, r.Scan.String())
	s.Roots = append(s.Roots, r.Root)
	s.ScanCounts.Add(r.Counts)
	s.Skipped += r.Skipped
	s.TooLarge += r.TooLarge
	s.Rot += int64(len(r.Rot))
	s.Changed -= int64(len(r.Rot))
	s.RotFiles = append(s.RotFiles, r.Rot...)
	s.Changing += int64(len(r.Changing))
	s.Excluded += r.Excluded
	s.Pruned = append(s.Pruned, r.Pruned...)
	s.Left += r.Left
	s.ChangingFiles = append(s.ChangingFiles, r.Changing...)
	if h := r.MassDelete; h != nil {
		s.Held = append(s.Held, heldRoot{Root: r.Root, Gone: h.Gone, Recorded: h.Recorded, Reason: h.Reason})
	}
	s.Complete = s.Complete && r.Complete
}

func (m *Main) print(s summary, asJSON bool) {
	if asJSON {
		json.NewEncoder(m.Stdout).Encode(s)
		return
	}
	state := "complete"
	if !s.Complete {
		state = "INCOMPLETE (stopped before the end: nothing was deleted; the counts are what the log stored)"
	}
	fmt.Fprintf(m.Stdout, "scanned %s on %s: %s\n", strings.Join(s.Roots, ", "), s.Machine, state)
	fmt.Fprintf(m.Stdout, "  seen %d  read %d  added %d  changed %d  moved %d  deleted %d  unreadable %d  skipped %d",
		s.Seen, s.Read, s.Added, s.Changed, s.Moved, s.Deleted, s.Unreadable, s.Skipped)
	if s.Rot > 0 {
		fmt.Fprintf(m.Stdout, "  ROT %d", s.Rot)
	}
	fmt.Fprintln(m.Stdout)
	secs := float64(s.DurationMS) / 1000
	rate := 0.0
	if secs > 0 {
		rate = float64(s.BytesRead) / secs / 1e6
	}
	fmt.Fprintf(m.Stdout, "  %s read in %.2fs (%.0f MB/s)", app.Bytes(s.BytesRead), secs, rate)
	if s.PeakRSS > 0 {
		fmt.Fprintf(m.Stdout, ", peak memory %s", app.Bytes(s.PeakRSS))
	}
	fmt.Fprintln(m.Stdout)
	if s.TooLarge > 0 {
		fmt.Fprintf(m.Stdout, "  %s larger than --max-file-size %s: recorded without hashes (see the log; raise it, or 0 for no limit)\n",
			app.Count(s.TooLarge, "file", "files"), (&app.SizeFlag{N: s.MaxFileSize}).String())
	}
	if s.Excluded > 0 || len(s.Pruned) > 0 || s.Left > 0 {
		fmt.Fprintf(m.Stdout, "  left out: %s excluded", app.Count(s.Excluded, "path", "paths"))
		if len(s.Pruned) > 0 {
			var ps []string
			for _, p := range s.Pruned {
				ps = append(ps, fmt.Sprintf("%s (%s)", events.Path(p.Path), p.Type))
			}
			fmt.Fprintf(m.Stdout, ", pseudo file systems pruned: %s (--pseudo-fs enters them)", strings.Join(ps, ", "))
		}
		if s.Left > 0 {
			fmt.Fprintf(m.Stdout, "; %s recorded before left the view", app.Count(s.Left, "file", "files"))
		}
		fmt.Fprintln(m.Stdout)
	}
	if s.Changing > 0 {
		fmt.Fprintf(m.Stdout, "  %s changed on every attempt to read it (a growing log?): recorded without hashes, read again next scan:\n",
			app.Count(s.Changing, "file", "files"))
		printSome(m.Stdout, s.ChangingFiles)
	}
	if s.Rot > 0 {
		fmt.Fprintf(m.Stdout, "  BIT ROT: %s changed while size, times and inode did not:\n", app.Count(s.Rot, "file", "files"))
		for _, r := range s.RotFiles {
			fmt.Fprintf(m.Stdout, "    %s\n      recorded sha256 %s (the good content)\n      read now sha256 %s\n",
				events.Path(r.Path), r.Recorded, r.Read)
		}
	}
	for _, h := range s.Held {
		fmt.Fprintf(m.Stdout, "  DELETIONS HELD under %s: %s gone, not deleted (%d recorded): %s; if they are really gone: --allow-mass-delete\n",
			h.Root, app.Count(h.Gone, "file", "files"), h.Recorded, h.Reason)
	}
	if s.NotIndexed != "" {
		fmt.Fprintf(m.Stdout, "  index NOT updated: %s; queries do not show this scan yet\n", s.NotIndexed)
	}
	if s.IndexedBy != "" {
		fmt.Fprintf(m.Stdout, "  indexed by %s as it arrives: try 'indexer dupes' or 'indexer stats'\n", s.IndexedBy)
	}
	if s.Indexed {
		fmt.Fprintln(m.Stdout, "  index updated: try 'indexer dupes' or 'indexer stats'")
	}
}

// printSome prints the first paths of a list, one a line, and how many
// more there are: 'indexer scans --problems' lists them all.
func printSome(w io.Writer, paths []string) {
	const most = 20
	for i, p := range paths {
		if i == most {
			fmt.Fprintf(w, "    and %d more: 'indexer scans --problems' lists them all\n", len(paths)-most)
			break
		}
		fmt.Fprintf(w, "    %s\n", events.Path(p))
	}
}

// heldRoot is a root whose deletions the mass-delete guard held.
type heldRoot struct {
	Root     string `json:"root"`
	Gone     int64  `json:"gone"`
	Recorded int64  `json:"recorded"`
	Reason   string `json:"reason"`
}

// notify is a Sink that calls a hook once, after the first flush
// (ScanStarted stored).
type notify struct {
	*store.Appender
	hook func()
}

func (n *notify) Flush(ctx context.Context) error {
	err := n.Appender.Flush(ctx)
	if n.hook != nil && err == nil {
		n.hook()
		n.hook = nil
	}
	return err
}

// peakRSS returns the process's peak resident memory from /proc (VmHWM:
// unlike getrusage's maxrss, it does not count the parent's memory that a
// forked child held before exec).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// defaultMaxFileSize is --max-file-size's default, 1 TiB: larger than any
// real disk image most machines hold, and about 45 minutes of hashing. A
// sparse file can claim up to 8 EiB in a few bytes of disk, and its holes
// cost hashing time like data (see README, Real disks).
const defaultMaxFileSize = 1 << 40

// holderFormat starts how a scan names itself in its lease: "indexer-scan
// pid N on HOST since T".
const holderFormat = "indexer-scan pid %d on %s since"

// deadHolder reports whether a lease holder (holderFormat) is a process of
// this host that no longer runs, such as a scan killed with SIGKILL.
func deadHolder(holder, host string) bool {
	var pid int
	var on string
	if _, err := fmt.Sscanf(holder, holderFormat, &pid, &on); err != nil || on != host || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ",") }
func (f *multiFlag) Set(v string) error { *f = append(*f, v); return nil }
