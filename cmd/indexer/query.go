package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
)

// The query commands (find, dupes, stats, show, history, tree, machines,
// scans) share how they reach the index and how they print.
//
// Reaching the index: with --server, or when another process owns index.db
// (an indexer-project, or a standalone indexer-scan indexing as it scans),
// the command asks that process's NATS query service;
// otherwise it opens DATA/index.db read-only. Commands that print events
// (show, history) also open the log then, through app.Open.

// queryFlags are the flags every query command has.
type queryFlags struct {
	cfg   app.Config
	json  bool
	index string
}

func (m *Main) queryFlags(name, args, about string) (*flag.FlagSet, *queryFlags) {
	qf := &queryFlags{}
	fs := m.flags(name, args, about, &qf.cfg)
	fs.BoolVar(&qf.json, "json", false, "print JSON: one object per line for lists, one object otherwise")
	fs.StringVar(&qf.index, "index", "", "ask this index `file` instead of the data directory's: one built as of a past moment with 'indexer-project rebuild --until-time T --into FILE'")
	return fs, qf
}

// session is an open way to ask queries.
type session struct {
	q      service.Queries
	remote bool
	// logRead is set when the queries' Status reads the log's last
	// sequence: asked remotely, or the log opened beside index.db.
	logRead bool
	closers []func() error
}

func (s *session) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// errNoIndex is returned when the data directory has no index yet.
var errNoIndex = errors.New("no index")

// openSession reaches the index as the package comment says. withLog also
// opens the log in the standalone case, for the events of a history.
func (m *Main) openSession(ctx context.Context, qf *queryFlags, owner string, withLog bool) (*session, error) {
	cfg := qf.cfg
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	logger := cfg.Logger(m.Stderr)
	s := &session{}
	dialOwner := func(opts app.OpenOptions) (*session, error) {
		env, err := app.Open(ctx, cfg, opts, logger)
		if err != nil {
			return nil, err
		}
		if env.Mode != app.Client {
			// The owner that served the directory stopped in the meantime.
			env.Close()
			return nil, fmt.Errorf("the process that owned %s stopped while this command started: run it again", cfg.DataDir)
		}
		s.closers = append(s.closers, env.Close)
		s.q, s.remote, s.logRead = &service.Client{Log: env.Log}, true, true
		return s, nil
	}
	remote := func() (*session, error) { return dialOwner(app.OpenOptions{Owner: owner, AllowClient: true}) }
	// Events' details (history, show) come from the log, beside the index.
	withLogOf := func(local *service.Local) {
		if !withLog {
			return
		}
		env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: owner, AllowClient: true}, logger)
		if err != nil {
			fmt.Fprintf(m.Stderr, "%s: the log cannot be read (%v); events are listed without their details\n", owner, err)
			return
		}
		s.closers = append(s.closers, env.Close)
		local.Log, s.logRead = env.Log, true
	}
	if qf.index != "" {
		if cfg.Server != "" {
			return nil, app.Usagef("--index reads a file here: it does not go with --server")
		}
		if _, err := os.Stat(qf.index); err != nil {
			return nil, app.Usagef("--index: %v", err)
		}
		db := &store.DB{Path: qf.index, ReadOnly: true}
		if err := db.Open(); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, db.Close)
		local := &service.Local{Index: projections.NewIndex(db)}
		s.q = local
		// The data directory's log, if it has one: not one made here.
		if cfg.Dir().HasLog() {
			withLogOf(local)
		}
		return s, nil
	}
	if cfg.Server != "" {
		return remote()
	}
	dir := cfg.Dir()
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, os.ErrNotExist) {
		return nil, app.Usagef("no data directory at %s: point --data (or INDEXER_DATA) at one, or scan something first (indexer-scan PATH)", cfg.DataDir)
	}
	path := dir.IndexPath()
	_, err := os.Stat(path)
	noIndex := errors.Is(err, os.ErrNotExist)
	var db *store.DB
	if !noIndex {
		db = &store.DB{Path: path, ReadOnly: true, LockTimeout: 100 * time.Millisecond}
		err = db.Open()
		if err != nil && !errors.Is(err, store.ErrLocked) {
			return nil, err
		}
	}
	if noIndex || err != nil {
		// No index, or another process holds it: ask who owns the directory.
		o, oerr := app.DirOwner(dir, owner)
		switch {
		case oerr != nil:
			return nil, oerr
		case o.Owner == app.Project:
			return remote()
		case o.Owner == app.Scanner && noIndex:
			return nil, fmt.Errorf("no index yet at %s: %w, which has not made it yet: ask again in a moment", path, o.Lock)
		case o.Owner == app.Scanner:
			// A scan updates index.db when it finishes (or, one that could
			// not open it at its start, after it), for a moment: wait for it.
			openLocal := func() (*service.Local, error) {
				db := &store.DB{Path: path, ReadOnly: true, LockTimeout: scannerIndexWait}
				if err := db.Open(); err != nil {
					return nil, fmt.Errorf("%w, updating the index: ask again in a moment", o.Lock)
				}
				local := s.local(db)
				withLogOf(local)
				return local, nil
			}
			// A standalone scan holds index.db while it indexes what it
			// stores, and answers queries meanwhile over its server, until
			// it ends: then index.db is asked.
			rs, err := dialOwner(app.OpenOptions{Owner: owner, AllowClient: true, NoReconnect: true})
			if err != nil {
				if _, err := openLocal(); err != nil {
					return nil, err
				}
				return s, nil
			}
			sq := &scanQueries{remote: rs.q, local: func() (service.Queries, error) { return openLocal() }}
			if _, err := sq.Status(ctx); err != nil {
				return nil, err
			}
			s.q = sq
			return s, nil
		case noIndex && dir.HasLog():
			return nil, fmt.Errorf("%w at %s, but %s holds a log (a standalone scan stopped before it indexed?): build the index with 'indexer-project rebuild --data %s', or run indexer-scan again", errNoIndex, path, cfg.DataDir, cfg.DataDir)
		case noIndex:
			return nil, fmt.Errorf("%w at %s: scan something first (indexer-scan PATH), or point --data at a data directory", errNoIndex, path)
		}
		return nil, fmt.Errorf("%w: %s is held by another process that serves no NATS URL in %s (an indexer-project on --server?): pass the same --server", err, path, cfg.DataDir)
	}
	local := s.local(db)
	withLogOf(local)
	return s, nil
}

// scannerIndexWait is how long a query waits for a standalone indexer-scan
// to finish updating index.db.
const scannerIndexWait = 2 * time.Second

// local makes s ask db, index.db opened read-only, here.
func (s *session) local(db *store.DB) *service.Local {
	s.closers = append(s.closers, db.Close)
	local := &service.Local{Index: projections.NewIndex(db)}
	s.q = local
	shortLived()
	return local
}

// shortLived tunes the collector for a command that reads index.db itself
// and exits: the heap such a query builds is garbage at exit, so collecting
// it on the way only costs time (three collections for the duplicates of
// 20,000 files, with their worker threads woken). A collection starts only
// once the heap is 9x what was live at the last one, from 32 MB, or at
// GOGC when the environment sets it.
func shortLived() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
}

// localMachine is this host's machine name, as indexer-scan names it.
func localMachine() string {
	host, _ := os.Hostname()
	return app.Getenv("MACHINE", events.MachineFromHost(host))
}

// resolve finds which machine holds arg, a file or with dir a directory:
// --machine when given, else this host's machine, else the one machine
// where probe finds it. For this host's machine arg is taken as a path here
// (see localPath).
//
// A PATH pasted from a table (find, tree, dupes) shows a name's invalid
// UTF-8 bytes and control characters as escapes (events.Path.String): when
// arg as typed is not found, its unescaped form is tried.
func resolve(ctx context.Context, q service.Queries, machine, arg string, dir bool, probe probe) (string, events.Path, error) {
	raw, escaped := unescapePath(arg)
	if !escaped {
		return resolveArg(ctx, q, machine, arg, dir, probe)
	}
	if machine != "" {
		// resolveArg does not probe a given machine: probe both forms.
		if err := events.ValidateMachine(machine); err != nil {
			return "", "", app.Usagef("--machine: %v", err)
		}
		p := pathOn(machine, arg, dir)
		if ok, err := probe(machine, p); err != nil || ok {
			return machine, p, err
		}
		if rp := pathOn(machine, raw, dir); rp != p {
			if ok, err := probe(machine, rp); err != nil || ok {
				return machine, rp, err
			}
		}
		return machine, p, nil
	}
	m, p, err := resolveArg(ctx, q, machine, arg, dir, probe)
	if errors.Is(err, projections.ErrNotFound) {
		if m2, p2, err2 := resolveArg(ctx, q, machine, raw, dir, probe); err2 == nil || !errors.Is(err2, projections.ErrNotFound) {
			return m2, p2, err2
		}
	}
	return m, p, err
}

// pathOn is arg as a path on machine: for this host's machine a path here
// (see localPath), else as given.
func pathOn(machine, arg string, dir bool) events.Path {
	if machine == localMachine() {
		return localPath(arg, dir)
	}
	return events.Path(arg)
}

// unescapePath undoes events.Path.String: \xNN is the byte NN, \n, \t and
// the other Go escapes of control characters the character. Any other
// backslash is kept, as String writes a name's backslashes as they are.
// escaped reports whether s held an escape.
func unescapePath(s string) (raw string, escaped bool) {
	if !strings.Contains(s, `\`) {
		return s, false
	}
	ctl := map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c, ok := ctl[s[i+1]]; ok {
				b.WriteByte(c)
				i++
				escaped = true
				continue
			}
			if s[i+1] == 'x' && i+3 < len(s) {
				if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(n))
					i += 3
					escaped = true
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), escaped
}

// resolveArg is resolve for arg as typed.
func resolveArg(ctx context.Context, q service.Queries, machine, arg string, dir bool, probe probe) (string, events.Path, error) {
	local := localMachine()
	pathFor := func(m string) events.Path { return pathOn(m, arg, dir) }
	if machine != "" {
		if err := events.ValidateMachine(machine); err != nil {
			return "", "", app.Usagef("--machine: %v", err)
		}
		return machine, pathFor(machine), nil
	}
	ms, err := q.Machines(ctx)
	if err != nil {
		return "", "", err
	}
	var found []string
	for _, m := range ms {
		ok, err := probe(m.Name, pathFor(m.Name))
		if err != nil {
			return "", "", err
		}
		if ok && m.Name == local {
			return local, pathFor(local), nil
		}
		if ok {
			found = append(found, m.Name)
		}
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("%s: %w on any machine (%s in the index)", arg, projections.ErrNotFound, app.Count(len(ms), "machine", "machines"))
	case 1:
		return found[0], pathFor(found[0]), nil
	}
	return "", "", app.Usagef("%s is on several machines (%s): choose one with --machine", arg, strings.Join(found, ", "))
}

// probe reports whether the index knows p on machine, for resolve.
type probe func(machine string, p events.Path) (bool, error)

// probeLookup reports whether a file is at p on machine.
func probeLookup(ctx context.Context, q service.Queries) probe {
	return func(machine string, p events.Path) (bool, error) {
		_, err := q.Lookup(ctx, machine, p)
		if errors.Is(err, projections.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
}

// probeHistory reports whether p on machine has a history.
func probeHistory(ctx context.Context, q service.Queries) probe {
	return func(machine string, p events.Path) (bool, error) {
		hs, err := q.History(ctx, machine, p)
		return len(hs) > 0, err
	}
}

// pathCmd is a command on one PATH, ready to query: its session, flags,
// and the machine and path PATH resolved to.
type pathCmd struct {
	*session
	qf      *queryFlags
	machine string
	path    events.Path
}

// openPathCmd parses the flags of the command name, which takes one PATH
// (what names the PATH in --machine's help), opens its session, and
// resolves PATH with the probe newProbe makes (see resolve).
func (m *Main) openPathCmd(ctx context.Context, args []string, name, what, about string, newProbe func(context.Context, service.Queries) probe) (*pathCmd, error) {
	fs, qf := m.queryFlags(name, "PATH", about)
	machine := fs.String("machine", "", "the machine `name` the "+what+" is on")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	arg, err := onlyArg(pos, "PATH", false)
	if err != nil {
		return nil, err
	}
	s, err := m.openSession(ctx, qf, "indexer "+name, true)
	if err != nil {
		return nil, err
	}
	mach, p, err := resolve(ctx, s.q, *machine, arg, false, newProbe(ctx, s.q))
	if err == nil && name == "show" && *machine != "" {
		// A given machine is not probed: probe it here, for the hint.
		if ok, perr := newProbe(ctx, s.q)(mach, p); perr == nil && !ok {
			err = fmt.Errorf("%s on %s: %w", p, mach, projections.ErrNotFound)
		}
	}
	if errors.Is(err, projections.ErrNotFound) && name == "show" {
		if _, _, derr := resolve(ctx, s.q, *machine, arg, true, probeTree(ctx, s.q)); derr == nil {
			err = app.Usagef("%s is a directory: try: indexer tree %s", arg, shellQuote(arg))
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return &pathCmd{session: s, qf: qf, machine: mach, path: p}, nil
}

// probeTree reports whether a directory, or an archive with members, is at
// p on machine.
func probeTree(ctx context.Context, q service.Queries) probe {
	return func(machine string, p events.Path) (bool, error) {
		_, err := q.Tree(ctx, service.TreeRequest{Machine: machine, Dir: p, Limit: 1})
		if errors.Is(err, projections.ErrNotFound) {
			_, ok, err := archiveTree(ctx, q, machine, p, 1) // an archive lists as a directory
			return ok, err
		}
		return err == nil, err
	}
}

// shellQuote quotes s for a command line to paste, when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@%=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printer writes a command's output: JSON, or aligned columns.
type printer struct {
	w    io.Writer
	json bool
	tw   *tabwriter.Writer
	// buf is reused by obj: one buffer grown once, not one allocated and
	// grown per object.
	buf []byte
}

func newPrinter(w io.Writer, asJSON bool) *printer {
	p := &printer{w: w, json: asJSON}
	if !asJSON {
		p.tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	}
	return p
}

// obj prints one JSON object on its own line, as the HTTP API and the NATS
// service give it (service.AppendReply: modes as stat(2) gives them).
func (p *printer) obj(v any) error {
	b, err := service.AppendReply(p.buf[:0], v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	p.buf = append(b, '\n')
	_, err = p.w.Write(p.buf)
	return err
}

// row prints one table row of tab-separated cells.
func (p *printer) row(cells ...string) {
	fmt.Fprintln(p.tw, strings.Join(cells, "\t"))
}

// flush ends the table.
func (p *printer) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}

// cell makes text safe for a table cell: no tabs or newlines, and names
// that are not UTF-8 shown with escapes (events.Path.String).
func cell(s string) string {
	return strings.NewReplacer("\t", `\t`).Replace(events.Path(s).String())
}

// fileTime formats Unix nanoseconds for a table.
func fileTime(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).Local().Format("2006-01-02 15:04")
}

// stamp formats a time for a table.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// queryError turns a bad query into a usage error, so the exit code says
// the command line was wrong.
func queryError(err error) error {
	if errors.Is(err, projections.ErrBadQuery) {
		return app.Usagef("%v", err)
	}
	return err
}

// parseArgs parses flags given before, between or after the positional
// arguments (`indexer find report --ext pdf`), and returns the positional
// ones. Everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// noArgs refuses the positional arguments of a command that takes none.
func noArgs(pos []string, name string) error {
	if len(pos) > 0 {
		return app.Usagef("unexpected argument %q: indexer %s takes no arguments", pos[0], name)
	}
	return nil
}

// onlyArg returns the single positional argument, or "" when optional and
// absent.
func onlyArg(pos []string, what string, optional bool) (string, error) {
	switch {
	case len(pos) == 0 && optional:
		return "", nil
	case len(pos) == 0:
		return "", app.Usagef("missing %s", what)
	case len(pos) > 1:
		return "", app.Usagef("unexpected argument %q after %s", pos[1], what)
	}
	return pos[0], nil
}

// absPath is the directory p as localPath gives it when it names this
// host's files (no machine given, or this host's machine).
func absPath(p, machine string) events.Path {
	if machine != "" && machine != localMachine() {
		return events.Path(p)
	}
	return localPath(p, true)
}

// localPath is the path p of this host as a scan records it: absolute, and
// real, since a scan resolves the symbolic links of its root. Those of a
// directory are resolved; of a file, those of its directory, as the file
// itself may be a recorded symbolic link. A path that does not resolve
// (gone since it was scanned) is only made absolute.
func localPath(p string, dir bool) events.Path {
	abs, err := filepath.Abs(p)
	if err != nil {
		return events.Path(p)
	}
	if dir {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return events.Path(real)
		}
		return events.Path(abs)
	}
	parent, name := filepath.Split(abs)
	if name == "" {
		return events.Path(abs)
	}
	if real, err := filepath.EvalSymlinks(parent); err == nil {
		return events.Path(filepath.Join(real, name))
	}
	return events.Path(abs)
}
