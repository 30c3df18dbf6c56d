package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/store"
)

const importAbout = `Stores the events of FILE (an 'indexer export', or 'indexer events'
output; - for standard input) in this log, in the file's order, each once:
before it appends the first event of a machine it reads which event ids the
log already holds for that machine, and skips those. Running it twice, or
again after an interruption, stores nothing twice, however much later (the
log's own deduplication window is 3 seconds).

It holds each imported machine's scan lease while it runs, so no scan of
that machine, and no other import of it, runs at the same time. It refuses
a machine whose events this log takes from a laptop through a leaf
connection (INDEXER_HUB): they would come twice. Lines that are not events
(an export's "error" lines, events of a newer schema than this binary
knows) are counted and skipped. With no indexer-project owning the data
directory it brings index.db up to date, as a scan does.`

// importSummary is what import --json prints.
type importSummary struct {
	Lines   int64 `json:"lines"`
	Stored  int64 `json:"stored"`  // appended now
	Already int64 `json:"already"` // the log held them (an earlier import, or the machine's own scans): not sent
	// Deduplicated are events sent and found stored by the server's
	// deduplication (an Appender's retry).
	Deduplicated int64    `json:"deduplicated"`
	Invalid      int64    `json:"invalid"`  // lines that are not events this binary can store
	Machines     []string `json:"machines"` // the machines whose events the file held
	Indexed      bool     `json:"indexed"`  // index.db was brought up to date here
	// DurationMS is the whole import, including reading the log's ids.
	DurationMS int64 `json:"duration_ms"`
}

// ErrLeafMachine is returned by import for a machine that reaches the log
// through a leaf connection: the source would deliver the imported events
// again.
var ErrLeafMachine = errors.New("this log takes the machine's events from its laptop through a leaf connection")

func (m *Main) runImport(ctx context.Context, args []string) error {
	var cfg app.Config
	fs := m.flags("import", "FILE", importAbout, &cfg)
	asJSON := fs.Bool("json", false, "print a summary as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return app.Usagef("import: give one FILE (an 'indexer export'; - for standard input)")
	}
	name := fs.Arg(0)
	var in io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return app.Usagef("import: %v", err)
		}
		defer f.Close()
		in = f
	}
	logger := cfg.Logger(m.Stderr)
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "indexer import", AllowClient: true}, logger)
	if err != nil {
		return err
	}
	defer env.Close()
	im := &importer{log: env.Log, have: map[string]map[ulid.ULID]struct{}{}, p: newProgress(m.Stderr, *quiet, "imported")}
	defer im.release()
	start := time.Now()
	err = im.run(ctx, in)
	im.p.done()
	if err == nil && env.Mode == app.Standalone {
		_, err = projections.CatchUp(ctx, env.Log, cfg.Dir().IndexPath(), logger)
		im.sum.Indexed = err == nil
	}
	if err != nil {
		return fmt.Errorf("import %s: after %d lines (%d stored, %d already there; run it again: nothing is stored twice): %w",
			name, im.sum.Lines, im.sum.Stored, im.sum.Already, err)
	}
	im.sum.DurationMS = time.Since(start).Milliseconds()
	slices.Sort(im.sum.Machines)
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(im.sum)
	}
	fmt.Fprintf(m.Stdout, "imported %s: %d stored, %d already in the log, %d not events, machines %v, in %s\n",
		name, im.sum.Stored, im.sum.Already, im.sum.Invalid, im.sum.Machines, time.Since(start).Round(time.Millisecond))
	return nil
}

// importer appends a file's events that the log does not hold.
type importer struct {
	log *store.Log
	// have is, per machine seen so far, the ids the log holds (read once,
	// when the machine's first event comes) and those appended since.
	have   map[string]map[ulid.ULID]struct{}
	leases []*store.Lease
	p      *progress
	sum    importSummary
}

func (im *importer) run(ctx context.Context, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20) // an event is at most 1 MiB (the stream's MaxMsgSize), escaped in JSON
	a := im.log.NewAppender()
	a.OnStored = func(uint64, events.Event) { im.sum.Stored++ }
	for sc.Scan() {
		im.sum.Lines++
		e, ok := im.event(sc.Bytes())
		if !ok {
			im.sum.Invalid++
			continue
		}
		have, err := im.machine(ctx, e.Machine)
		if err != nil {
			return err
		}
		if _, dup := have[e.ID]; dup {
			im.sum.Already++
			continue
		}
		if err := a.Append(ctx, e); err != nil {
			return err
		}
		have[e.ID] = struct{}{}
		im.p.tick(im.sum.Lines, 0)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := a.Flush(ctx); err != nil {
		return err
	}
	im.sum.Deduplicated = a.Duplicates
	im.sum.Stored -= a.Duplicates
	return nil
}

// event decodes one line: an export line, or a bare event.
func (im *importer) event(line []byte) (events.Event, bool) {
	var l exportLine
	if err := json.Unmarshal(line, &l); err != nil {
		return events.Event{}, false
	}
	data := []byte(l.Event)
	if len(data) == 0 {
		data = line // a bare event
	}
	e, err := events.Decode(data)
	if err != nil || (l.Subject != "" && l.Subject != events.Subject(e.Machine, e.Type)) {
		return events.Event{}, false
	}
	return e, true
}

// machine returns the ids the log holds of machine m, reading them the
// first time m comes, after taking m's scan lease and checking that no
// leaf source brings m's events.
func (im *importer) machine(ctx context.Context, m string) (map[ulid.ULID]struct{}, error) {
	if have, ok := im.have[m]; ok {
		return have, nil
	}
	if srcs, err := im.log.Sources(ctx); err == nil {
		for _, s := range srcs {
			if s.Machine == m {
				return nil, fmt.Errorf("machine %s: %w; its events come from there", m, ErrLeafMachine)
			}
		}
	}
	holder := fmt.Sprintf("indexer import (pid %d) at %s", os.Getpid(), time.Now().Format(time.RFC3339))
	lease, err := im.log.AcquireLease(ctx, m, holder, store.DefaultLeaseTTL, nil)
	if err != nil {
		return nil, fmt.Errorf("machine %s: %w", m, err)
	}
	im.leases = append(im.leases, lease)
	have := map[ulid.ULID]struct{}{}
	if _, err := im.log.IDs(ctx, 1, events.MachineSubjects(m), func(id string, _ uint64) {
		if u, err := ulid.Parse(id); err == nil {
			have[u] = struct{}{}
		}
	}); err != nil {
		return nil, fmt.Errorf("machine %s: read the ids the log holds: %w", m, err)
	}
	im.have[m] = have
	im.sum.Machines = append(im.sum.Machines, m)
	return have, nil
}

// release gives the leases back.
func (im *importer) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range im.leases {
		l.Release(ctx)
	}
}
