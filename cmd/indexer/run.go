package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/indexer/indexer/cmd/internal/app"
)

// Main is the indexer program; tests drive it directly.
type Main struct {
	Stdout, Stderr io.Writer
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// command is one subcommand: its one-line summary and what runs it.
type command struct {
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

var commands = map[string]command{
	"events":   {"print the event log as JSON lines", (*Main).runEvents},
	"export":   {"write the log (or a machine's events) to a file, for import elsewhere", (*Main).runExport},
	"import":   {"store an export's events in this log, each once", (*Main).runImport},
	"find":     {"find files by name, glob, regex, size, extension or hash", (*Main).runFind},
	"dupes":    {"list duplicate files, biggest waste first", (*Main).runDupes},
	"stats":    {"print totals: files, bytes, duplicates, per machine", (*Main).runStats},
	"show":     {"print everything about one file", (*Main).runShow},
	"history":  {"print a path's events from the log", (*Main).runHistory},
	"tree":     {"list a directory with recursive sizes", (*Main).runTree},
	"ls":       {"same as tree", (*Main).runTree},
	"machines": {"list the machines in the index", (*Main).runMachines},
	"scans":    {"list scans, newest first", (*Main).runScans},
	"rot":      {"list files whose last --verify found bit rot", (*Main).runRot},
}

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if app.IsVersionFlag(args) {
		fmt.Fprintln(m.Stdout, app.Version("indexer"))
		return nil
	}
	args = app.CommandFirst(args, func(s string) bool { _, ok := commands[s]; return ok })
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		m.usage()
		if len(args) == 0 {
			return app.Usagef("no command")
		}
		return flag.ErrHelp
	}
	c, ok := commands[args[0]]
	if !ok {
		return app.Usagef("unknown command %q", args[0])
	}
	return c.run(m, ctx, args[1:])
}

func (m *Main) usage() {
	fmt.Fprint(m.Stderr, "Usage: indexer COMMAND [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(m.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(m.Stderr, "\nRun 'indexer COMMAND --help' for a command's flags, 'indexer --version' for the version.\n\n"+app.ExitCodes)
}

// flags returns a FlagSet for a subcommand with the common flags and a
// usage text.
func (m *Main) flags(name, args, about string, cfg *app.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("indexer "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	cfg.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "Usage: indexer %s [flags] %s\n\n%s\n\nFlags:\n", name, args, strings.TrimSpace(about))
		fs.PrintDefaults()
		fmt.Fprint(m.Stderr, "\n"+app.ExitCodes)
	}
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return app.Usagef("%v", err)
	}
	return nil
}
