package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

// Main is the indexer-project program; tests drive it with their own
// writers and arguments.
type Main struct {
	Stdout, Stderr io.Writer
	// Stdin is where forget reads its confirmation, when it is a
	// terminal; nil: no terminal.
	Stdin io.Reader
}

// NewMain returns a Main on the process's stdin, stdout and stderr.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin} }

// Run runs the subcommand named by args[0], or run when args start with a
// flag or are empty.
func (m *Main) Run(ctx context.Context, args []string) error {
	if app.IsVersionFlag(args) {
		fmt.Fprintln(m.Stdout, app.Version("indexer-project"))
		return nil
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		// No command named: the commands first, then run's flags.
		fmt.Fprint(m.Stderr, usage, "\n")
	}
	args = app.CommandFirst(args, func(s string) bool {
		return s == "run" || s == "rebuild" || s == "status" || s == "compact" || s == "credentials" || s == "skip" || s == "deadletters" || s == "check" || s == "forget" || s == "help"
	})
	name := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	switch name {
	case "run":
		return (&RunCommand{Main: m}).Run(ctx, args)
	case "rebuild":
		return (&RebuildCommand{Main: m}).Run(ctx, args)
	case "status":
		return (&StatusCommand{Main: m}).Run(ctx, args)
	case "compact":
		return (&CompactCommand{Main: m}).Run(ctx, args)
	case "credentials":
		return (&CredentialsCommand{Main: m}).Run(ctx, args)
	case "skip":
		return (&SkipCommand{Main: m}).Run(ctx, args)
	case "deadletters":
		return (&DeadLettersCommand{Main: m}).Run(ctx, args)
	case "check":
		return (&CheckCommand{Main: m}).Run(ctx, args)
	case "forget":
		return (&ForgetCommand{Main: m}).Run(ctx, args)
	case "help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	case app.SiblingCommand:
		return m.runServeFor(ctx, args)
	}
	return usagef("unknown command %q; the commands are run, rebuild, status, compact, skip, deadletters, credentials, check and forget", name)
}

const usage = `indexer-project folds the indexer's event log into the read models of
DATA/index.db, which the indexer command queries.

Usage:
  indexer-project [run] [flags]     follow the log until stopped (SIGTERM, Ctrl-C)
  indexer-project rebuild [flags]   rebuild index.db from the log, or build a past index into a file
  indexer-project status [flags]    checkpoint, lag, events/s, index size, dead letters, health
  indexer-project compact [flags]   rewrite index.db to its live size (queries keep being answered)
  indexer-project skip SEQ          skip an event of a newer schema that stopped projection
  indexer-project deadletters       list the events not applied, with the reasons
  indexer-project credentials add|list|revoke
                                    credentials for scanners on other machines, and readers
  indexer-project check [flags]     read every page of index.db and check it
  indexer-project forget --machine M [--root DIR]
                                    take a machine's files (under DIR) out of the current view

Run 'indexer-project COMMAND --help' for a command's flags, 'indexer-project
--version' for the version.
`

// onIndex runs local on the data directory's index when this command can
// own the directory, or remote, with the error of opening it, when a
// running indexer-project owns it (compact, skip, rebuild).
func onIndex(ctx context.Context, cfg app.Config, owner string, logger *slog.Logger, local func(*projections.Projector) error, remote func(locked error) error) error {
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: owner, LockWithServer: true, ReadOnlyLog: cfg.Server != ""}, logger)
	if errors.Is(err, store.ErrLocked) {
		return remote(err)
	}
	if err != nil {
		return err
	}
	defer env.Close()
	p, err := openProjector(env, cfg, logger)
	if err != nil {
		return err
	}
	defer p.Close()
	return local(p)
}

// openProjector opens the data directory's index on env's log, for the
// commands that work on the index without following the log (compact,
// skip, rebuild, status).
func openProjector(env *app.Env, cfg app.Config, logger *slog.Logger) (*projections.Projector, error) {
	p := &projections.Projector{Log: env.Log, Path: cfg.Dir().IndexPath(), Logger: logger}
	if err := p.Open(); err != nil {
		return nil, err
	}
	return p, nil
}
