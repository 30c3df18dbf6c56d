package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

const exportAbout = `Writes the event log (or one machine's events, or those from a sequence)
as JSON lines, the form 'indexer events' prints:
  {"seq":12,"subject":"idx.nas1.file.scanned","stored":"...","event":{...}}
to --out FILE (default: standard output). It is the second way a machine
that never reaches the hub gets its events there: export on it, carry the
file (a USB stick), and run 'indexer import FILE' on the hub's side, which
stores each event once however often it is run. A file is written beside
its final name and renamed when complete, so an interrupted export leaves
no half file. Progress goes to standard error; --json prints a summary.`

// exportLine is one line of an export: what 'indexer events' prints.
type exportLine struct {
	Seq     uint64          `json:"seq"`
	Subject string          `json:"subject"`
	Stored  time.Time       `json:"stored"`
	Event   json.RawMessage `json:"event,omitempty"`
	Error   string          `json:"error,omitempty"`
	Raw     string          `json:"raw,omitempty"`
}

// recordLine is the line of r: its event, or when r is not a valid event
// (anyone on the NATS network can publish on idx.>) the error and the raw
// bytes.
func recordLine(r store.Record) exportLine {
	line := exportLine{Seq: r.Seq, Subject: r.Subject, Stored: r.Time}
	if _, err := events.Decode(r.Data); err != nil {
		line.Error, line.Raw = err.Error(), string(r.Data)
	} else if err := store.CheckSource(r); err != nil {
		// A laptop's source delivered what it does not take: written as
		// invalid, so an import does not store it as a plain event.
		line.Error, line.Raw = err.Error(), string(r.Data)
	} else {
		line.Event = r.Data
	}
	return line
}

// exportSummary is what export --json prints.
type exportSummary struct {
	Out        string `json:"out"`
	Events     int64  `json:"events"`
	Invalid    int64  `json:"invalid"` // written with "error" and "raw"; import skips them
	FirstSeq   uint64 `json:"first_seq,omitempty"`
	LastSeq    uint64 `json:"last_seq,omitempty"`
	Bytes      int64  `json:"bytes"`
	DurationMS int64  `json:"duration_ms"`
}

func (m *Main) runExport(ctx context.Context, args []string) error {
	var cfg app.Config
	fs := m.flags("export", "", exportAbout, &cfg)
	from := fs.Uint64("from", 1, "first sequence `number` to write")
	machine := fs.String("machine", "", "only the events of this machine `name`")
	out := fs.String("out", "-", "write to `file` (- for standard output)")
	asJSON := fs.Bool("json", false, "print a summary as one JSON object (on standard output, so give --out)")
	quiet := fs.Bool("quiet", false, "no progress")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), "export"); err != nil {
		return err
	}
	if *asJSON && *out == "-" {
		return app.Usagef("--json prints its summary on standard output: give --out FILE for the events")
	}
	filter, err := eventFilter(*machine, "")
	if err != nil {
		return err
	}
	if err := needLog(cfg); err != nil {
		return err
	}
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "indexer export", AllowClient: true}, cfg.Logger(m.Stderr))
	if err != nil {
		return err
	}
	defer env.Close()

	start := time.Now()
	sum := exportSummary{Out: *out}
	var w io.Writer = m.Stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".part-*"); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	p := newProgress(m.Stderr, *quiet, "exported")
	_, err = env.Log.Replay(ctx, *from, filter, func(r store.Record) error {
		line := recordLine(r)
		if line.Event == nil {
			sum.Invalid++
		} else {
			sum.Events++
		}
		b, err := json.Marshal(line)
		if err != nil {
			return err
		}
		n, err := bw.Write(append(b, '\n'))
		sum.Bytes += int64(n)
		if sum.FirstSeq == 0 {
			sum.FirstSeq = r.Seq
		}
		sum.LastSeq = r.Seq
		p.tick(sum.Events+sum.Invalid, r.Pending)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && f != nil {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), *out)
		}
		if err == nil {
			f = nil
		}
	}
	p.done()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	sum.DurationMS = time.Since(start).Milliseconds()
	if *asJSON {
		return json.NewEncoder(m.Stdout).Encode(sum)
	}
	if *out != "-" {
		fmt.Fprintf(m.Stderr, "exported %d events (seq %d-%d, %s) to %s in %s\n", sum.Events, sum.FirstSeq, sum.LastSeq,
			app.Bytes(sum.Bytes), *out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// progress prints "exported N events" (or imported) on a terminal line,
// at most once a second; nothing when w is not a terminal.
type progress struct {
	w     io.Writer
	quiet bool
	verb  string
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, quiet bool, verb string) *progress {
	return &progress{w: w, quiet: quiet || !app.IsTerminal(w), verb: verb, last: time.Now()}
}

// tick reports n done, and left still to do when known (else 0).
func (p *progress) tick(n int64, left uint64) {
	if p.quiet || time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	p.shown = true
	if left > 0 {
		fmt.Fprintf(p.w, "\r%s %d events, %d to go   ", p.verb, n, left)
		return
	}
	fmt.Fprintf(p.w, "\r%s %d events   ", p.verb, n)
}

// done ends the progress line.
func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
