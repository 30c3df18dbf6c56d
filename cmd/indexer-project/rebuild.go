package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
)

// RebuildCommand rebuilds index.db, or builds a past index into a file.
type RebuildCommand struct {
	*Main
	cfg       app.Config
	untilSeq  uint64
	untilTime string
	into      string
	acceptNew bool
}

// Run parses args and rebuilds.
func (c *RebuildCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project rebuild", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.Uint64Var(&c.untilSeq, "until-seq", 0, "build the index as of this log `sequence` (needs --into)")
	fs.StringVar(&c.untilTime, "until-time", "", "build the index as of this `time`, by the log's time of storing (needs --into): RFC 3339, a local date or time (2026-01-02, '2026-01-02 15:04'), or 'N UNIT ago' ('2 weeks ago')")
	fs.StringVar(&c.into, "into", "", "build into this `file` and leave index.db alone")
	fs.BoolVar(&c.acceptNew, "accept-new-log", false, "rebuild even though the log was replaced under the index (deleted and created again, emptied, or older than the index), keeping the old index as index.db.orphaned-TIME")
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project rebuild [flags]

Without flags, rebuilds DATA/index.db from the log: it builds a new file
beside it (index.db.rebuild), catches up and renames it over index.db, so
readers always have an index. An interrupted rebuild resumes. When an
indexer-project is running on the data directory, it asks that process to
rebuild (queries keep being answered meanwhile) and waits for it, printing
progress; Ctrl-C stops the waiting, not the rebuild.

It refuses to replace an index whose log was replaced (the stream deleted
and created again, DATA/jetstream lost, or an older copy of it restored):
the index may be the only copy of what it knew. With --accept-new-log it
keeps that index as index.db.orphaned-TIME and builds a new one from the
log as it is now.

With --into FILE it builds a separate index, as of --until-seq or
--until-time if given (time travel), and works beside a running projector.
FILE must not be the data directory's live index (DATA/index.db) or its
rebuild file (DATA/index.db.rebuild), however it is spelled: a build into
it would replace the live index.
`); err != nil {
		return err
	}
	var until time.Time
	if c.untilTime != "" {
		t, err := parseUntil(c.untilTime, time.Now())
		if err != nil {
			return err
		}
		until = t
	}
	if c.untilSeq > 0 && !until.IsZero() {
		return usagef("give --until-seq or --until-time, not both")
	}
	if c.acceptNew && c.into != "" {
		return usagef("--accept-new-log rebuilds the live index; --into FILE builds another and needs no acceptance")
	}
	if (c.untilSeq > 0 || !until.IsZero()) && c.into == "" {
		return usagef("--until-seq and --until-time need --into FILE: the live index always follows the whole log")
	}
	if c.into != "" {
		if err := checkInto(c.into, c.cfg.Dir().IndexPath()); err != nil {
			return err
		}
	}
	logger := c.cfg.Logger(c.Stderr)
	start := time.Now()
	if c.into != "" {
		env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project rebuild", AllowClient: true, ReadOnlyLog: c.cfg.Server != ""}, logger)
		if err != nil {
			return err
		}
		defer env.Close()
		if !until.IsZero() {
			if err := checkUntil(ctx, env.Log, until); err != nil {
				return err
			}
		}
		cp, err := projections.Build(ctx, env.Log, c.into, projections.BuildOptions{UntilSeq: c.untilSeq, UntilTime: until, Logger: logger})
		if err != nil {
			return err
		}
		if c.untilSeq > cp.Seq {
			fmt.Fprintf(c.Stderr, "the log ends at seq %d, before --until-seq %d: this is the index as of its end\n", cp.Seq, c.untilSeq)
		}
		fmt.Fprintf(c.Stdout, "built %s at seq %d in %s\n", c.into, cp.Seq, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return onIndex(ctx, c.cfg, "indexer-project rebuild", logger, func(p *projections.Projector) error {
		if c.acceptNew {
			orphan, err := p.AcceptNewLog(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Stderr, "the old index is kept as %s\n", orphan)
		} else if err := p.Rebuild(ctx); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "rebuilt %s at seq %d in %s\n", p.Path, p.Checkpoint(), time.Since(start).Round(time.Millisecond))
		return nil
	}, func(locked error) error { return c.viaOwner(ctx, locked, start) })
}

// viaOwner asks the indexer-project that owns the data directory to rebuild
// its index, and waits for it. locked is the error of opening the directory.
func (c *RebuildCommand) viaOwner(ctx context.Context, locked error, start time.Time) error {
	statusPath := c.cfg.Dir().StatusPath()
	st, err := readOwnerStatus(statusPath)
	if err != nil || st.RebuildSubject == "" {
		return fmt.Errorf("%w, and it takes no rebuild requests (no %s with a rebuild subject; an older or stopping indexer-project?): stop it and run rebuild again", locked, statusPath)
	}
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project rebuild", AllowClient: true, ReadOnlyLog: true}, c.cfg.Logger(c.Stderr))
	if err != nil {
		return err
	}
	defer env.Close()
	req, _ := json.Marshal(rebuildRequest{AcceptNewLog: c.acceptNew})
	out, err := env.Log.Request(ctx, st.RebuildSubject, req)
	if err != nil {
		return fmt.Errorf("ask indexer-project PID %d to rebuild: %w", st.PID, err)
	}
	var reply rebuildReply
	if err := json.Unmarshal(out, &reply); err != nil || reply.ID == 0 {
		return fmt.Errorf("ask indexer-project PID %d to rebuild: reply %q", st.PID, out)
	}
	if reply.Joined {
		fmt.Fprintf(c.Stderr, "indexer-project PID %d is already rebuilding; waiting for it\n", st.PID)
	} else {
		fmt.Fprintf(c.Stderr, "indexer-project PID %d is rebuilding %s; queries are answered meanwhile\n", st.PID, c.cfg.Dir().IndexPath())
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastPrint := time.Now()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(c.Stderr, "stopped waiting; the rebuild goes on in indexer-project PID %d (see indexer-project status)\n", st.PID)
			return ctx.Err()
		case <-tick.C:
		}
		s, err := readOwnerStatus(statusPath)
		switch {
		case syscall.Kill(st.PID, 0) == syscall.ESRCH:
			return fmt.Errorf("indexer-project PID %d stopped before its rebuild ended (the index it served is as it was): start indexer-project, then run rebuild again", st.PID)
		case err != nil:
			return fmt.Errorf("indexer-project PID %d stopped reporting its status (%v); the rebuild resumes when it runs again", st.PID, err)
		case s.PID != st.PID:
			return fmt.Errorf("indexer-project PID %d stopped before its rebuild ended; PID %d runs now: run rebuild again", st.PID, s.PID)
		case s.RebuildsDone >= reply.ID && s.RebuildError != "":
			return fmt.Errorf("indexer-project PID %d: %s", st.PID, s.RebuildError)
		case s.RebuildsDone >= reply.ID:
			fmt.Fprintf(c.Stdout, "rebuilt %s at seq %d in %s (by indexer-project PID %d)\n", c.cfg.Dir().IndexPath(), s.Checkpoint, time.Since(start).Round(time.Millisecond), st.PID)
			return nil
		}
		if time.Since(lastPrint) >= 2*time.Second && s.Rebuilding {
			lastPrint = time.Now()
			fmt.Fprintf(c.Stderr, "rebuilding: seq %d of %d\n", s.RebuildSeq, s.StreamLastSeq)
		}
	}
}

// readOwnerStatus reads the status file of a running indexer-project; one
// older than a minute is from a process that is gone.
func readOwnerStatus(path string) (ownerStatus, error) {
	var st ownerStatus
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if time.Since(st.Time) > time.Minute {
		return st, fmt.Errorf("%s is %s old", path, time.Since(st.Time).Round(time.Second))
	}
	return st, nil
}

// checkInto refuses an --into that names the live index or the file its
// rebuild builds beside it, however spelled: relative, through symbolic
// links (of the file or of a directory above it), or as another hard link.
// Building into either would replace the live index with a past or partial
// one.
func checkInto(into, live string) error {
	for _, p := range []string{live, projections.RebuildPath(live)} {
		if samePath(into, p) {
			return usagef("--into %s is the data directory's live index or its rebuild file (%s): build into another file, e.g. --into %s",
				into, p, filepath.Join(os.TempDir(), "index-past.db"))
		}
	}
	// A build replaces what it finds at into, so what is there must be an
	// index (an earlier or interrupted build) or nothing: a mistyped
	// --into ~/notes.txt must not cost the notes.
	fi, err := os.Stat(into)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return usagef("--into %s: %v", into, err)
	case fi.IsDir():
		return usagef("--into %s is a directory: name a file, e.g. --into %s", into, filepath.Join(into, "index-past.db"))
	case fi.Size() > 0 && !projections.IsIndex(into):
		return usagef("--into %s exists and is not an index file (or is in use), which the build would replace: remove it, or choose another file", into)
	}
	if dir := filepath.Dir(canonicalPath(into)); !isDir(dir) {
		return usagef("--into %s: directory %s does not exist", into, dir)
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// samePath reports whether a and b name the same file: the same path once
// made absolute, cleaned and rid of symbolic links, or the same existing
// file.
func samePath(a, b string) bool {
	if canonicalPath(a) == canonicalPath(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// canonicalPath returns p absolute and cleaned, with symbolic links in its
// directories resolved, and p itself followed while it is a symbolic link,
// even one to a file that does not exist yet (which a build would create).
func canonicalPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	for range 40 { // as many links as Linux follows
		dir, base := filepath.Split(abs)
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			dir = r
		}
		abs = filepath.Join(dir, base)
		target, err := os.Readlink(abs)
		if err != nil {
			return abs // not a symbolic link, or nothing there yet
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		abs = filepath.Clean(target)
	}
	return abs
}
