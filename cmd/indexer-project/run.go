package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/web"
)

// DefaultListen is where run serves the embedded NATS server, so scanners on
// this and other machines can publish to it: NATS's port 4222 plus 22, to
// stay clear of a NATS server already running on the machine.
const DefaultListen = "127.0.0.1:4244"

// StatusFile is the file in the data directory where a running projector
// keeps its status for `indexer-project status` (another process cannot
// open index.db while the projector holds it).
const StatusFile = "projector.json"

// RunCommand follows the log into index.db until stopped.
type RunCommand struct {
	*Main
	cfg       app.Config
	listen    string
	http      string
	batch     int
	batchWait time.Duration
}

// Run parses args and runs the projector until ctx ends.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project run", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.StringVar(&c.listen, "listen", app.Getenv("LISTEN", DefaultListen), "serve the embedded NATS server on `host:port` (env INDEXER_LISTEN; ignored with --server)")
	fs.StringVar(&c.http, "http", app.Getenv("HTTP", web.DefaultAddr), "serve the web UI and HTTP API on `host:port`, or \"off\" (env INDEXER_HTTP)")
	fs.IntVar(&c.batch, "batch", projections.DefaultBatchSize, "most events per transaction")
	fs.DurationVar(&c.batchWait, "batch-wait", projections.DefaultBatchWait, "longest a batch gathers events before it commits")
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project [run] [flags]

Follows the event log into DATA/index.db until SIGTERM or Ctrl-C. It owns
the data directory: it runs the embedded NATS server and serves it on
--listen (default `+DefaultListen+`) so scanners can publish to it, or uses
--server. On start it checks the index against the log and rebuilds it when
the stream was recreated or lost its tail.

It answers queries: the web UI and HTTP API on --http (default
`+web.DefaultAddr+`), and the NATS service "indexer" (nats micro ls) for
the indexer command and any machine on the NATS network.
`); err != nil {
		return err
	}
	logger := c.cfg.Logger(c.Stderr)
	env, err := app.Open(ctx, c.cfg, app.OpenOptions{Owner: "indexer-project", Listen: c.listen, LockWithServer: true}, logger)
	if err != nil {
		return err
	}
	defer env.Close()
	p := &projections.Projector{Log: env.Log, Path: c.cfg.IndexPath(), Logger: logger, BatchSize: c.batch, BatchWait: c.batchWait}
	if err := p.Open(); err != nil {
		return err
	}
	defer p.Close()
	url := "(in-process)"
	if env.Server != nil {
		url = env.Server.ClientURL()
	} else if c.cfg.Server != "" {
		url = c.cfg.Server
	}
	logger.Info("projecting", "log", url, "index", p.Path, "checkpoint", p.Checkpoint())

	// Queries: one cache in front of the index, invalidated by the
	// checkpoint, shared by the NATS service and the HTTP server.
	queries := &service.Cache{Queries: &service.Local{Index: p.Index(), Log: env.Log, Checkpoint: p.Checkpoint}, Checkpoint: p.Checkpoint}
	svc, err := service.Serve(env.Log, queries, nil)
	if err != nil {
		return err
	}
	defer svc.Stop()
	runCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	httpDone := make(chan error, 1)
	httpURL := "off"
	if c.http != "off" && c.http != "" {
		hs := &web.Server{Addr: c.http, Handler: web.New(queries, logger), Logger: logger}
		if err := hs.Listen(); err != nil {
			return err
		}
		httpURL = hs.URL()
		go func() { httpDone <- hs.Serve(runCtx) }()
	} else {
		httpDone <- nil
	}
	fmt.Fprintf(c.Stderr, "indexer-project: log %s, web UI and API %s, index %s\n", url, httpURL, p.Path)

	statusPath := filepath.Join(c.cfg.DataDir, StatusFile)
	stopStatus := make(chan struct{})
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			writeStatus(ctx, p, statusPath)
			select {
			case <-stopStatus:
				return
			case <-t.C:
			}
		}
	}()
	err = p.Run(ctx)
	close(stopStatus)
	<-statusDone
	stopHTTP()
	if herr := <-httpDone; herr != nil && err == nil {
		err = herr
	}
	os.Remove(statusPath)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		logger.Info("stopped", "checkpoint", p.Checkpoint())
		return nil // stopped by a signal: a clean stop
	}
	return err
}

// ownerStatus is what the status file holds.
type ownerStatus struct {
	projections.Status
	PID int `json:"pid"`
}

func writeStatus(ctx context.Context, p *projections.Projector, path string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := p.Status(ctx)
	if err != nil && s.Error == "" {
		s.Error = err.Error()
	}
	b, _ := json.Marshal(ownerStatus{Status: s, PID: os.Getpid()})
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

// parse parses args into fs, printing usage and the flags on --help.
func parse(fs *flag.FlagSet, w io.Writer, args []string, help string) error {
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help, "\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n", app.ExitCodes)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func usagef(format string, args ...any) error { return app.Usagef(format, args...) }
