package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
)

// SkipCommand skips an event of a newer schema that stopped projection.
type SkipCommand struct {
	*Main
	cfg app.Config
}

// skipRequest asks a running projector to skip an event.
type skipRequest struct {
	Seq uint64 `json:"seq"`
}

// Run parses args and skips.
func (c *SkipCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project skip", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	pos, err := parseArgs(fs, c.Stderr, args, `Usage: indexer-project skip [flags] SEQ

Skips the event at log sequence SEQ, one of a newer schema that this binary
cannot apply and that stopped projection (indexer-project status says
where: "stopped at"). Run a newer indexer-project instead if there is one:
skipping loses what the event says (a file, usually) from the index until a
binary that knows its schema rebuilds it. The skip is recorded in the index,
listed by status and, as a dead letter, by deadletters, and kept by
rebuilds. It refuses an event this binary applies. With a running
indexer-project it asks that process, which then goes on.
`)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give the sequence of one event to skip, e.g. indexer-project skip 42 (see indexer-project status)")
	}
	seq, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil || seq == 0 {
		return usagef("SEQ %q: want a log sequence, a positive integer", pos[0])
	}
	logger := c.cfg.Logger(c.Stderr)
	return onIndex(ctx, c.cfg, "indexer-project skip", logger, func(p *projections.Projector) error {
		if err := p.Skip(ctx, seq); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "skipped seq %d: the next indexer-project or standalone scan goes on past it\n", seq)
		return nil
	}, func(locked error) error {
		req, _ := json.Marshal(skipRequest{Seq: seq})
		if _, err := askOwner(ctx, c.cfg, locked, func(st ownerStatus) string { return st.SkipSubject }, req, logger); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "skipped seq %d (by the running indexer-project)\n", seq)
		return nil
	})
}

// parseArgs is parse for a command that takes positional arguments, which
// may come before, between or after the flags; it returns them.
func parseArgs(fs *flag.FlagSet, w io.Writer, args []string, help string) ([]string, error) {
	var pos []string
	for {
		var rest []string
		for i, a := range args { // flags up to the first positional argument
			if len(a) == 0 || a[0] != '-' {
				if i > 0 && !strings.Contains(args[i-1], "=") && takesValue(fs, args[i-1]) {
					continue
				}
				rest, args = args[i:], args[:i]
				break
			}
		}
		if err := parse(fs, w, args, help); err != nil {
			return nil, err
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// takesValue reports whether the flag a (as written: -name or --name)
// takes the next argument as its value.
func takesValue(fs *flag.FlagSet, a string) bool {
	f := fs.Lookup(strings.TrimLeft(a, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// askOwner sends req to the endpoint of the indexer-project that owns the
// data directory whose subject subject picks from its status file, and
// returns the reply. locked is the error of opening the directory.
func askOwner(ctx context.Context, cfg app.Config, locked error, subject func(ownerStatus) string, req []byte, logger *slog.Logger) ([]byte, error) {
	st, err := readOwnerStatus(cfg.Dir().StatusPath())
	if err != nil || subject(st) == "" {
		return nil, fmt.Errorf("%w, and it takes no such request (no %s with its subject; an older or stopping indexer-project?): stop it and run this again", locked, cfg.Dir().StatusPath())
	}
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "indexer-project", AllowClient: true, ReadOnlyLog: true}, logger)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	out, err := env.Log.Request(ctx, subject(st), req)
	if err != nil {
		return nil, fmt.Errorf("ask indexer-project PID %d: %w", st.PID, err)
	}
	return out, nil
}
