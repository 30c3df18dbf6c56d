package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

const eventsAbout = `Prints the event log, one JSON object a line (with or without --json):
  {"seq":12,"subject":"idx.nas1.file.scanned","stored":"...","event":{...}}
An entry that is not a valid event (anyone on the NATS network can publish
on idx.>) is printed with "error" and its "raw" bytes instead of "event".`

func (m *Main) runEvents(ctx context.Context, args []string) error {
	var cfg app.Config
	fs := m.flags("events", "", eventsAbout, &cfg)
	from := fs.Uint64("from", 1, "first sequence `number` to print")
	follow := fs.Bool("follow", false, "keep printing new events as they arrive, until interrupted")
	machine := fs.String("machine", "", "only events of this machine `name`")
	typ := fs.String("type", "", "only events of this `type`: "+typeList())
	fs.Bool("json", false, "print JSON lines: events prints nothing else, with or without it (accepted as every command takes --json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), "events"); err != nil {
		return err
	}
	filter, err := eventFilter(*machine, *typ)
	if err != nil {
		return err
	}
	if err := needLog(cfg); err != nil {
		return err
	}
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "indexer events", AllowClient: true}, cfg.Logger(m.Stderr))
	if err != nil {
		return err
	}
	defer env.Close()

	w := bufio.NewWriterSize(m.Stdout, 64<<10)
	defer w.Flush()
	print := func(r store.Record) error {
		b, err := json.Marshal(recordLine(r))
		if err != nil {
			return err
		}
		w.Write(append(b, '\n'))
		if *follow && r.Pending == 0 {
			return w.Flush()
		}
		return nil
	}
	if *follow {
		err = env.Log.Follow(ctx, *from, filter, print)
		if ctx.Err() != nil {
			return nil // Ctrl-C ends a follow; that is its normal end
		}
		return err
	}
	_, err = env.Log.Replay(ctx, *from, filter, print)
	return err
}

func typeList() string {
	var names []string
	for _, t := range events.Types {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// eventFilter returns the subject filter for a machine and a type, either
// of which may be empty.
func eventFilter(machine, typ string) (string, error) {
	if machine != "" {
		if err := events.ValidateMachine(machine); err != nil {
			return "", app.Usagef("--machine: %v", err)
		}
	}
	if typ == "" {
		return events.MachineSubjects(machine), nil
	}
	for _, t := range events.Types {
		if strings.EqualFold(string(t), typ) || events.Kind(t) == typ {
			if machine == "" {
				machine = "*"
			}
			return events.SubjectPrefix + "." + machine + "." + events.Kind(t), nil
		}
	}
	return "", app.Usagef("--type %q: want one of %s", typ, typeList())
}

// needLog refuses, with a usage error, a data directory that holds no log
// and is served by no process: a command that only reads must not make one
// (opening the log there would create the directory and an empty log, which
// later commands take for a scan that stopped before it indexed).
func needLog(cfg app.Config) error {
	if cfg.Server != "" {
		return nil
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	dir := cfg.Dir()
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, os.ErrNotExist) {
		return app.Usagef("no data directory at %s: point --data (or INDEXER_DATA) at one, or scan something first (indexer-scan PATH)", cfg.DataDir)
	}
	if _, err := os.Stat(dir.ServerURLPath()); dir.HasLog() || err == nil {
		return nil
	}
	// Another user's directory (0700) reads as empty: say so, not "no log".
	if _, err := os.Stat(dir.JetStreamPath()); errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("cannot read the log in %s: %w (run as the user who owns it, or ask its indexer-project with --server)", cfg.DataDir, err)
	}
	return app.Usagef("no log in %s (not a data directory, or nothing scanned into it yet): point --data (or INDEXER_DATA) at one, or scan something first (indexer-scan PATH)", cfg.DataDir)
}
