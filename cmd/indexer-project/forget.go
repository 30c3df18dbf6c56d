package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
)

// ForgetCommand appends a FilesForgotten: a machine's files, or those under
// a root, leave the current view; the log keeps their past.
type ForgetCommand struct {
	*Main
	cfg     app.Config
	machine string
	root    string
	reason  string
	yes     bool
	json    bool
}

// forgotten is what forget did, as --json prints it.
type forgotten struct {
	Machine string      `json:"machine"`
	Root    events.Path `json:"root,omitempty"`
	Seq     uint64      `json:"seq"`
	projections.Counts
	// Indexed is set when index.db was brought up to date with the event
	// (forget owned the data directory); otherwise the running
	// indexer-project applies it.
	Indexed bool `json:"indexed"`
}

const forgetHelp = `Usage: indexer-project forget --machine M [--root DIR] [--yes] [--json]

Takes the files of machine M, or only those under DIR, out of the index's
current view: find, dupes, stats, tree and the web UI no longer show them.
Nothing is deleted from the log: it appends a FilesForgotten event
(idx.M.files.forgotten), so each file's history shows it was forgotten,
and an index rebuilt as of an earlier moment (rebuild --until-time) still
holds them. Use it for a machine that is gone, or a disk that was sold.
The scan state of M forgets them too: a later scan of M records what it
finds there as new files, and deletes nothing.

It says what it will forget and asks before it does, on a terminal;
elsewhere it needs --yes. It holds the machine's scan lease while it
publishes: beside a running scan of M it fails (exit 11) until the scan
ends. Only the log's owner may forget: this data
directory's own credential, or beside a running indexer-project through
it (a scanner's credential is refused). Without a running indexer-project
it also brings index.db up to date.
`

// Run parses args and forgets.
func (c *ForgetCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project forget", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.StringVar(&c.machine, "machine", "", "the machine `name` whose files to forget (required)")
	fs.StringVar(&c.root, "root", "", "forget only the files under this absolute `directory` of the machine")
	fs.StringVar(&c.reason, "reason", "", "a note kept in the event, shown by history")
	fs.BoolVar(&c.yes, "yes", false, "do not ask")
	fs.BoolVar(&c.json, "json", false, "print what was forgotten as one JSON object")
	if err := parse(fs, c.Stderr, args, forgetHelp); err != nil {
		return err
	}
	if c.machine == "" {
		return usagef("--machine is required: the machine whose files to forget (indexer tree lists them)")
	}
	if err := events.ValidateMachine(c.machine); err != nil {
		return usagef("--machine: %v", err)
	}
	if c.root != "" {
		if !strings.HasPrefix(c.root, "/") {
			return usagef("--root %q: want an absolute directory of machine %s, such as /srv/photos", c.root, c.machine)
		}
		c.root = path.Clean(c.root)
		if c.root == "/" {
			c.root = "" // every file of the machine
		}
	}
	if c.cfg.Server == "" {
		// Nothing to forget in a directory that holds no log: do not
		// create one (a mistyped --data).
		if err := c.cfg.Check(); err != nil {
			return err
		}
		dir := c.cfg.Dir()
		if _, err := os.Stat(dir.ServerURLPath()); !dir.HasLog() && err != nil {
			return usagef("no log in %s: point --data (or INDEXER_DATA) at the data directory whose index holds machine %s", c.cfg.DataDir, c.machine)
		}
	}
	logger := c.cfg.Logger(c.Stderr)
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project forget", AllowClient: true, ReadOnlyLog: c.cfg.Server != ""}, logger)
	if err != nil {
		return err
	}
	defer env.Close()
	indexPath := c.cfg.Dir().IndexPath()
	var counts projections.Counts
	if env.Mode == app.Standalone {
		// Nobody projects the log: bring index.db up to date first, so the
		// counts are the current ones.
		if _, err := projections.CatchUp(ctx, env.Log, indexPath, logger); err != nil {
			return err
		}
		db := &store.DB{Path: indexPath, ReadOnly: true}
		if err := db.Open(); err != nil {
			return err
		}
		counts, err = c.counts(ctx, &service.Local{Index: projections.NewIndex(db)})
		db.Close() // before the CatchUp below writes it
	} else {
		q := &service.Client{Log: env.Log}
		if err := caughtUp(ctx, env.Log, q); err != nil {
			return err
		}
		counts, err = c.counts(ctx, q)
	}
	if err != nil {
		return err
	}
	what := c.describe(counts)
	if !c.yes {
		if err := c.confirm(what); err != nil {
			return err
		}
	}
	// The machine's scan lease keeps its scans out while the event is
	// published: a scan's state writer takes every event of its machine
	// up to its last one for its own, and would skip this one.
	host, _ := os.Hostname()
	lease, err := env.Log.AcquireLease(ctx, c.machine, fmt.Sprintf("indexer-project forget (PID %d on %s)", os.Getpid(), host), store.DefaultLeaseTTL, nil)
	if err != nil {
		return fmt.Errorf("forget waits for the scan of %s to end: %w", c.machine, err)
	}
	defer lease.Release(context.WithoutCancel(ctx))
	var seq uint64
	a := env.Log.NewAppender()
	a.OnStored = func(s uint64, _ events.Event) { seq = s }
	e := events.New(c.machine, ulid.ULID{}, time.Now(), &events.FilesForgotten{Root: events.Path(c.root), Reason: c.reason})
	err = a.Append(ctx, e)
	if err == nil {
		err = a.Flush(ctx)
	}
	if errors.Is(err, store.ErrPermission) {
		return fmt.Errorf("%w: only the log's owner may forget files (this data directory's own credential, or a running indexer-project's)", err)
	}
	if err != nil {
		return fmt.Errorf("append FilesForgotten: %w", err)
	}
	out := forgotten{Machine: c.machine, Root: events.Path(c.root), Seq: seq, Counts: counts}
	if env.Mode == app.Standalone {
		if _, err := projections.CatchUp(ctx, env.Log, indexPath, logger); err != nil {
			return fmt.Errorf("the event is stored at seq %d, but updating index.db failed (the next indexer-project or standalone scan does it): %w", seq, err)
		}
		out.Indexed = true
	}
	if c.json {
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.Stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(c.Stdout, "forgot %s (FilesForgotten at seq %d)\n", what, seq)
	if out.Indexed {
		fmt.Fprintln(c.Stdout, "  index updated; history and rebuild --until-time keep the past")
	} else {
		fmt.Fprintln(c.Stdout, "  the running indexer-project applies it; history and rebuild --until-time keep the past")
	}
	return nil
}

// caughtUpWait is how long forget waits for a running projector to reach
// the log's end before it counts what the index holds.
const caughtUpWait = 30 * time.Second

// caughtUp waits until the index q answers from has applied the log up to
// its last sequence now, so the counts forget shows are current.
func caughtUp(ctx context.Context, log *store.Log, q service.Queries) error {
	info, err := log.Info(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, caughtUpWait)
	defer cancel()
	for {
		st, err := q.Status(ctx)
		if err == nil && st.Checkpoint >= info.LastSeq {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("the running indexer-project is at seq %d of %d after %s", st.Checkpoint, info.LastSeq, caughtUpWait)
			}
			return fmt.Errorf("wait for the index to catch up with the log: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// counts returns what the index holds of the machine under the root, or an
// error when it holds nothing there.
func (c *ForgetCommand) counts(ctx context.Context, q service.Queries) (projections.Counts, error) {
	ms, err := q.Machines(ctx)
	if err != nil {
		return projections.Counts{}, err
	}
	known := false
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		known = known || m.Name == c.machine
	}
	if !known {
		return projections.Counts{}, fmt.Errorf("machine %s: %w: the index knows %s", c.machine, projections.ErrNotFound, strings.Join(names, ", "))
	}
	t, err := q.Tree(ctx, service.TreeRequest{Machine: c.machine, Dir: events.Path(c.root), Limit: 1})
	if errors.Is(err, projections.ErrNotFound) {
		return projections.Counts{}, fmt.Errorf("%s on %s: %w: no file of the machine is under it (a directory, as absolute as the scan's root?)", c.root, c.machine, projections.ErrNotFound)
	}
	if err != nil {
		return projections.Counts{}, err
	}
	if t.Counts == (projections.Counts{}) {
		return projections.Counts{}, fmt.Errorf("%s on %s: %w: no file of the machine is left under it (gone, or forgotten already)", c.root, c.machine, projections.ErrNotFound)
	}
	return t.Counts, nil
}

func (c *ForgetCommand) describe(n projections.Counts) string {
	s := fmt.Sprintf("%s (%s)", app.Count(n.Files, "file", "files"), app.Bytes(n.Bytes))
	if n.Links > 0 {
		s += ", " + app.Count(n.Links, "link", "links")
	}
	if n.Members > 0 {
		s += fmt.Sprintf(", %d in archives", n.Members)
	}
	s += " of machine " + c.machine
	if c.root != "" {
		s += " under " + events.Path(c.root).String()
	}
	return s
}

// confirm asks on the terminal; without one it refuses.
func (c *ForgetCommand) confirm(what string) error {
	in := c.Stdin
	if in == nil || !app.IsTerminal(in) {
		return usagef("this forgets %s: add --yes to do it (not asked: standard input is not a terminal)", what)
	}
	fmt.Fprintf(c.Stderr, "Forget %s?\nThey leave the current view; history keeps them. [y/N] ", what)
	line, _ := bufio.NewReader(in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("nothing forgotten")
	}
	return nil
}
