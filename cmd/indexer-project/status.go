package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// StatusCommand shows how far the index is behind the log.
type StatusCommand struct {
	*Main
	cfg  app.Config
	json bool
}

// Run parses args and prints the status.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project status", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.BoolVar(&c.json, "json", false, "print one JSON object")
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project status [flags]

Prints the index's checkpoint, the log's last sequence, the lag, whether the
index is caught up, the projection rate, the index size and the number of
dead letters (events that could not be applied). While an indexer-project
runs it reports that process's view; otherwise it reads index.db and says
that no projector is running (--json: "projector_running": false), since
then nothing works the lag off until indexer-project or a standalone
indexer-scan runs.
`); err != nil {
		return err
	}
	if err := c.cfg.Check(); err != nil {
		return err
	}
	logger := c.cfg.Logger(c.Stderr)
	// status only reads: a data directory with nothing in it yet is not
	// made one (no log, no index created).
	dir := c.cfg.Dir()
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }
	if c.cfg.Server == "" && !exists(dir.IndexPath()) && !dir.HasLog() && !exists(dir.ServerURLPath()) {
		return fmt.Errorf("nothing at %s yet (no log, no index): scan something first (indexer-scan PATH), or point --data at a data directory", c.cfg.DataDir)
	}
	// status only reads: the stream of a --server is another's, never
	// created or configured from here.
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project status", AllowClient: true, ReadOnlyLog: c.cfg.Server != ""}, logger)
	var st ownerStatus
	running := false
	if errors.Is(err, store.ErrLocked) {
		// The owner serves no log here (a read replica, or any
		// indexer-project on --server): its status file, written every
		// second, is the answer.
		s, serr := readOwnerStatus(dir.StatusPath())
		if serr != nil {
			return err
		}
		return c.print(s, true)
	}
	if err != nil {
		return err
	}
	defer env.Close()
	if env.Mode == app.Client {
		// Another process may own index.db: ask its status file.
		if s, err := readOwnerStatus(dir.StatusPath()); err == nil {
			st, running = s, true
		}
	}
	if running {
		if info, err := env.Log.Info(ctx); err == nil {
			st.StreamLastSeq, st.Lag = info.LastSeq, info.Lag(st.Checkpoint)
			st.CaughtUp = st.Lag == 0 && st.Error == ""
			if info.LastSeq < st.Checkpoint {
				st.CaughtUp = false
				if st.Error == "" {
					st.Error = fmt.Sprintf("the index is at seq %d, past the log's last seq %d: the log lost events the index holds", st.Checkpoint, info.LastSeq)
				}
			}
		}
	} else if !exists(dir.IndexPath()) {
		// No index yet (a first standalone scan has not finished): the
		// whole log is the lag. Opening a projector would create one.
		info, err := env.Log.Info(ctx)
		if err != nil {
			return err
		}
		st.Time, st.StreamLastSeq, st.Lag = time.Now().UTC(), info.LastSeq, info.Lag(0)
		st.CaughtUp = st.Lag == 0
	} else {
		p, err := openProjector(env, c.cfg, logger)
		if err != nil {
			if errors.Is(err, store.ErrLocked) {
				return fmt.Errorf("%w; its owner wrote no status in %s", err, dir.StatusPath())
			}
			return err
		}
		defer p.Close()
		s, err := p.Status(ctx)
		if err != nil {
			return err
		}
		st.Status = s
	}
	return c.print(st, running)
}

// print prints st; running says whether an indexer-project wrote it.
func (c *StatusCommand) print(st ownerStatus, running bool) error {
	dir := c.cfg.Dir()
	judgeOnce(&st)
	if c.json {
		return json.NewEncoder(c.Stdout).Encode(struct {
			ownerStatus
			// ProjectorRunning is false when no indexer-project follows
			// the log into this index: a lag then stays until one runs.
			ProjectorRunning bool `json:"projector_running"`
		}{st, running})
	}
	state := "caught up"
	switch {
	case st.Error != "":
		state = "stopped: see error"
	case st.Lag == 0 && st.CaughtUp:
	case running:
		state = "catching up"
	case scanning(dir):
		state = "a standalone indexer-scan is running: it updates the index when it finishes"
	default:
		state = app.NoProjector
	}
	who := "no projector running"
	if running {
		who = fmt.Sprintf("indexer-project PID %d", st.PID)
		if st.ReplicaOf != "" {
			who += ", a read replica of " + st.ReplicaOf
		}
	}
	fmt.Fprintf(c.Stdout, "projector        %s\n", who)
	fmt.Fprintf(c.Stdout, "checkpoint       %d\n", st.Checkpoint)
	fmt.Fprintf(c.Stdout, "stream last seq  %d\n", st.StreamLastSeq)
	fmt.Fprintf(c.Stdout, "lag              %d (%s)\n", st.Lag, state)
	fmt.Fprintf(c.Stdout, "events/s         %.0f\n", st.EventsPerSec)
	if running {
		fmt.Fprintf(c.Stdout, "commits          %d\n", st.Commits)
	}
	fmt.Fprintf(c.Stdout, "index            %s (%s)\n", app.Bytes(st.IndexBytes), c.cfg.Dir().IndexPath())
	fmt.Fprintf(c.Stdout, "dead letters     %d\n", st.DeadLetters)
	if len(st.Skipped) > 0 {
		fmt.Fprintf(c.Stdout, "skipped          %s (by the operator; see indexer-project deadletters)\n", seqList(st.Skipped))
	}
	if st.StoppedAt > 0 {
		fmt.Fprintf(c.Stdout, "stopped at       seq %d: this binary cannot apply it (see error)\n", st.StoppedAt)
	}
	if st.Rebuilding {
		fmt.Fprintf(c.Stdout, "rebuilding       yes, at seq %d\n", st.RebuildSeq)
	}
	if st.Error != "" {
		fmt.Fprintf(c.Stdout, "error            %s\n", st.Error)
	}
	printHealth(c.Stdout, st.Health)
	return nil
}

// scanning reports whether a standalone indexer-scan owns dir.
func scanning(dir store.Dir) bool {
	o, err := app.DirOwner(dir, "indexer-project status")
	return err == nil && o.Owner == app.Scanner
}

// seqList writes sequences as "3, 7, 9".
func seqList(seqs []uint64) string {
	var b strings.Builder
	for i, s := range seqs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(s, 10))
	}
	return b.String()
}
