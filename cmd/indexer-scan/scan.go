package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/scanstate"
	"github.com/indexer/indexer/scanner"
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
embedded NATS server in the data directory and brings the local index up to
date before it exits, so 'indexer dupes' answers right after. As a client
(--server, or an indexer-project owning --data) it only publishes.

Files are lstat'ed and never followed through symbolic links; a symbolic
link is recorded with its target. A PATH that is, or lies under, a symbolic
link is followed and scanned at its real path. FIFOs, sockets and devices are never
opened and not indexed. A .indexerignore file (gitignore syntax) in a
scanned root, or in any directory below it for the paths under that
directory, excludes paths, as does --exclude.

A scan is background work: by default it runs at idle CPU priority
(SCHED_IDLE), so queries, the projector and everything else on the machine
go first, and it runs at full speed when the CPU is otherwise free. Use
--priority normal for a scan that should compete.

Flags:
`

// summary is the outcome printed at the end, and its --json form.
type summary struct {
	Scans   []string `json:"scan_ids"`
	Machine string   `json:"machine"`
	Roots   []string `json:"roots"`
	events.ScanCounts
	Skipped    int64  `json:"skipped"`
	DurationMS int64  `json:"duration_ms"`
	Complete   bool   `json:"complete"`
	Mode       string `json:"mode"`
	Indexed    bool   `json:"index_updated"`
	// PeakRSS is this process's peak resident memory (VmHWM), 0 where the
	// system does not say.
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// Run scans the PATHs in args.
func (m *Main) Run(ctx context.Context, args []string) error {
	start := time.Now()
	fs := flag.NewFlagSet("indexer-scan", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg app.Config
	cfg.RegisterFlags(fs)
	host, _ := m.Hostname()
	machine := fs.String("machine", app.Getenv("MACHINE", events.MachineFromHost(host)), "machine `name` the files belong to (env INDEXER_MACHINE; default: the host name)")
	hashes := fs.String("hashes", strings.Join(scanner.DefaultHashes, ","), "hash `algorithms`, comma-separated: md5, sha1, sha256, blake3 (sha256 is always computed)")
	var excludes multiFlag
	fs.Var(&excludes, "exclude", "leave out paths matching this gitignore-style `pattern` (repeatable)")
	oneFS := fs.Bool("one-file-system", false, "do not enter directories on other file systems")
	verify := fs.Bool("verify", false, "re-read every file, and report content that changed while size and mtime did not (bit rot)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	quiet := fs.Bool("quiet", false, "print nothing but errors and the summary")
	workers := fs.Int("workers", 0, "files read at once, at least 1 (default: four per core)")
	priority := fs.String("priority", app.Getenv("PRIORITY", "idle"), "CPU `priority`: idle (only time nothing else wants), low (nice 19) or normal (env INDEXER_PRIORITY)")
	fs.Usage = func() {
		fmt.Fprint(m.Stderr, usage)
		fs.PrintDefaults()
		fmt.Fprint(m.Stderr, "\n"+app.ExitCodes)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return app.Usagef("%v", err)
	}
	roots := fs.Args()
	if len(roots) == 0 {
		return app.Usagef("no PATH to scan")
	}
	var badWorkers error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "workers" && *workers < 1 {
			badWorkers = app.Usagef("--workers %d: give at least 1, or leave it out for four per core", *workers)
		}
	})
	if badWorkers != nil {
		return badWorkers
	}
	if err := events.ValidateMachine(*machine); err != nil {
		return app.Usagef("%v", err)
	}
	if err := parsePriority(*priority); err != nil {
		return app.Usagef("%v", err)
	}
	for _, p := range excludes {
		if err := scanner.CheckExclude(p); err != nil {
			return app.Usagef("%v (a gitignore pattern: escape a literal '[', '*' or '?' with '\\')", err)
		}
	}
	algos, err := scanner.ParseHashes(*hashes)
	if err != nil {
		return app.Usagef("--hashes: %v", err)
	}
	for _, r := range roots {
		fi, err := os.Stat(r)
		if err != nil {
			return fmt.Errorf("scan root: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("scan root %s: %w", r, scanner.ErrNotDirectory)
		}
	}
	if m.SetPriority != nil {
		if err := m.SetPriority(*priority); err != nil {
			return err
		}
	}
	logger := cfg.Logger(m.Stderr)

	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "indexer-scan", AllowClient: true}, logger)
	if err != nil {
		return err
	}
	defer env.Close()

	holder := fmt.Sprintf(holderFormat+" %s", os.Getpid(), host, time.Now().Format(time.RFC3339))
	lease, err := env.Log.AcquireLease(ctx, *machine, holder, 30*time.Second, func(other string) bool {
		if deadHolder(other, host) {
			logger.Warn("taking over the lease of a scan that no longer runs", "machine", *machine, "holder", other)
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	defer lease.Release(context.WithoutCancel(ctx))

	state, err := scanstate.Open(scanstate.Path(cfg.DataDir, *machine), *machine)
	if err != nil {
		return err
	}
	defer state.Close()
	if n, err := state.CatchUp(ctx, env.Log, logger); err != nil {
		return err
	} else if n > 0 {
		logger.Info("scan state caught up", "events", n)
	}

	sum := summary{Machine: *machine, Mode: env.Mode.String(), Complete: true}
	appender := env.Log.NewAppender()
	// The scan state takes each root's events as the log acknowledges them,
	// and is committed after each root, so a later root (which may overlap
	// an earlier one) and the next scan start from it.
	var stateWriter *scanstate.Writer
	defer func() {
		if stateWriter != nil {
			stateWriter.Commit(false) // applied, but the checkpoint stays: CatchUp redoes it
		}
	}()
	for _, root := range roots {
		stateWriter = state.NewWriter()
		appender.OnStored = stateWriter.Add
		prog := &scanner.Progress{}
		sc := &scanner.Scanner{
			Machine: *machine, Hashes: algos, Exclude: excludes, OneFileSystem: *oneFS, Verify: *verify,
			Workers: *workers, State: state, Sink: &notify{Appender: appender, hook: m.OnScanStart}, Logger: logger, Progress: prog,
		}
		stopProgress := startProgress(m.Stderr, root, prog, *quiet || *asJSON)
		res, err := sc.Scan(ctx, root)
		stopProgress()
		sum.add(res)
		if err != nil {
			if ctx.Err() != nil && env.Mode == app.Standalone {
				ierr := m.indexStored(ctx, cfg, env.Log, logger, "interrupted: indexing what the scan stored")
				if sum.Indexed = ierr == nil; ierr != nil {
					fmt.Fprintf(m.Stderr, "indexer-scan: %v\n", ierr)
				}
			}
			sum.DurationMS = time.Since(start).Milliseconds()
			if res.Root != "" {
				m.print(sum, *asJSON)
			}
			return err
		}
		logger.Info("scan finished", "root", res.Root, "took", res.Duration, "complete", res.Complete)
		if err := lease.Err(); err != nil {
			return err
		}
		err = stateWriter.Commit(true)
		stateWriter = nil
		if err != nil {
			return err
		}
	}
	if env.Mode == app.Standalone {
		if err := m.indexStored(ctx, cfg, env.Log, logger, "the scan is complete: finishing its index before stopping"); errors.Is(err, errIndexSkipped) {
			sum.DurationMS = time.Since(start).Milliseconds()
			m.print(sum, *asJSON)
			return err
		} else if err != nil {
			return fmt.Errorf("scan stored; updating the index: %w", err)
		}
		sum.Indexed = true
	}
	sum.DurationMS = time.Since(start).Milliseconds()
	sum.PeakRSS = peakRSS()
	m.print(sum, *asJSON)
	if sum.Unreadable > 0 {
		return fmt.Errorf("%s could not be read (see the log): %w", app.Count(sum.Unreadable, "path", "paths"), app.ErrPartial)
	}
	return nil
}

func (s *summary) add(r scanner.Result) {
	if r.Root == "" {
		return
	}
	s.Scans = append(s.Scans, r.Scan.String())
	s.Roots = append(s.Roots, r.Root)
	s.ScanCounts.Add(r.Counts)
	s.Skipped += r.Skipped
	s.Complete = s.Complete && r.Complete
}

func (m *Main) print(s summary, asJSON bool) {
	if asJSON {
		json.NewEncoder(m.Stdout).Encode(s)
		return
	}
	state := "complete"
	if !s.Complete {
		state = "INCOMPLETE (interrupted: nothing was deleted)"
	}
	fmt.Fprintf(m.Stdout, "scanned %s on %s: %s\n", strings.Join(s.Roots, ", "), s.Machine, state)
	fmt.Fprintf(m.Stdout, "  seen %d  read %d  added %d  changed %d  moved %d  deleted %d  unreadable %d  skipped %d\n",
		s.Seen, s.Read, s.Added, s.Changed, s.Moved, s.Deleted, s.Unreadable, s.Skipped)
	secs := float64(s.DurationMS) / 1000
	rate := 0.0
	if secs > 0 {
		rate = float64(s.BytesRead) / secs / 1e6
	}
	fmt.Fprintf(m.Stdout, "  %s read in %.2fs (%.0f MB/s)", humanBytes(s.BytesRead), secs, rate)
	if s.PeakRSS > 0 {
		fmt.Fprintf(m.Stdout, ", peak memory %s", humanBytes(s.PeakRSS))
	}
	fmt.Fprintln(m.Stdout)
	if s.Indexed {
		fmt.Fprintln(m.Stdout, "  index updated: try 'indexer dupes' or 'indexer stats'")
	}
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

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
