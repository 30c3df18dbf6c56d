package main

import (
	"context"
	"fmt"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
)

const rotAbout = `Lists the files whose last --verify found bit rot: content that changed
while size, times and inode did not (a FileChanged with reason
content-without-metadata), and that hold that content still. Each comes
with the sha256 recorded before, the good content's: 'indexer find --hash'
with it finds the good copies. A file whose content changes again (a
restore), or that is deleted or forgotten (indexer-project forget), leaves
the list; one that moves takes its rot along. It reads the log's changes,
moves, deletions and forgets.`

// rotFile is a file whose last content event is bit rot.
type rotFile struct {
	Machine  string    `json:"machine"`
	Path     string    `json:"path"`
	Good     string    `json:"recorded_sha256"` // before the rot
	Read     string    `json:"read_sha256"`     // what the verify read
	Seq      uint64    `json:"seq"`             // the FileChanged that found it
	Detected time.Time `json:"detected"`
}

func (m *Main) runRot(ctx context.Context, args []string) error {
	var cfg app.Config
	fs := m.flags("rot", "", rotAbout, &cfg)
	machine := fs.String("machine", "", "only files of this machine `name`")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), "rot"); err != nil {
		return err
	}
	if *machine != "" {
		if err := events.ValidateMachine(*machine); err != nil {
			return app.Usagef("--machine: %v", err)
		}
	}
	if err := needLog(cfg); err != nil {
		return err
	}
	env, err := app.Open(ctx, cfg, app.OpenOptions{Owner: "indexer rot", AllowClient: true}, cfg.Logger(m.Stderr))
	if err != nil {
		return err
	}
	defer env.Close()
	rot, err := rotten(ctx, env.Log, *machine)
	if err != nil {
		return err
	}
	p := newPrinter(m.Stdout, *asJSON)
	if *asJSON {
		for _, r := range rot {
			if err := p.obj(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rot) == 0 {
		fmt.Fprintln(m.Stdout, "no file's last verify found bit rot")
		return nil
	}
	for _, r := range rot {
		p.row(r.Machine, cell(r.Path), "good sha256 "+r.Good, "read "+r.Read, stamp(r.Detected))
	}
	if err := p.flush(); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s with bit rot: 'indexer find --hash SHA256' lists the copies of the good content\n", app.Count(len(rot), "file", "files"))
	return nil
}

// rotten lists the files whose last content event is bit rot, in machine
// and path order (service.RotInLog).
func rotten(ctx context.Context, log *store.Log, machine string) ([]rotFile, error) {
	rs, err := service.RotInLog(ctx, log, machine)
	if err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	out := make([]rotFile, 0, len(rs))
	for _, r := range rs {
		out = append(out, rotFile{Machine: r.Machine, Path: string(r.Path), Good: r.Recorded, Read: r.Read, Seq: r.Seq, Detected: r.Detected})
	}
	return out, nil
}
