package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/metrics"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/web"
	"github.com/indexer/indexer/store"
)

// DefaultListen is where run serves the embedded NATS server, so scanners on
// this and other machines can publish to it: NATS's port 4222 plus 22, to
// stay clear of a NATS server already running on the machine.
const DefaultListen = "127.0.0.1:4244"

// RunCommand follows the log into index.db until stopped.
type RunCommand struct {
	*Main
	cfg       app.Config
	listen    string
	http      string
	batch     int
	batchWait time.Duration
	commitGap time.Duration
	headStale time.Duration
	tls       serveTLS
	replica   replicaMode
	leaf      leafHub
}

// Run parses args and runs the projector until ctx ends.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("indexer-project run", flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	fs.StringVar(&c.listen, "listen", app.Getenv("LISTEN", DefaultListen), "serve the embedded NATS server on `host:port` (env INDEXER_LISTEN; ignored with --server)")
	fs.StringVar(&c.http, "http", app.Getenv("HTTP", web.DefaultAddr), "serve the web UI and HTTP API on `host:port`, or \"off\" (env INDEXER_HTTP)")
	fs.IntVar(&c.batch, "batch", projections.DefaultBatchSize, "most events per transaction")
	fs.DurationVar(&c.batchWait, "batch-wait", projections.DefaultBatchWait, "longest a batch gathers events before it commits")
	fs.DurationVar(&c.commitGap, "commit-gap", projections.DefaultCommitGap, "least time between commits while events trickle in (0: none)")
	fs.DurationVar(&c.headStale, "head-stale", projections.DefaultHeadStaleAfter, "health: unhealthy when a scan holds its lease and the log's last sequence has not moved for this long (longer than a rescan of your largest unchanged tree takes)")
	c.tls.register(fs)
	c.replica.register(fs)
	c.leaf.register(fs)
	if err := parse(fs, c.Stderr, args, `Usage: indexer-project [run] [flags]

Follows the event log into DATA/index.db until SIGTERM or Ctrl-C. It owns
the data directory: it runs the embedded NATS server and serves it on
--listen (default `+DefaultListen+`) so scanners can publish to it, or uses
--server. It checks the index against the log at start and while it runs:
it rebuilds the index when the log just lost an unsynced tail, and stops
with the reason when the stream was recreated or replaced (the operator
decides: rebuild --accept-new-log).

It answers queries: the web UI and HTTP API on --http (default
`+web.DefaultAddr+`), and the NATS service "indexer" (nats micro ls) for
the indexer command and any machine on the NATS network.

With --replica it is a read replica of the log another indexer-project
owns on --server: it keeps its own index in --data, never creates the
stream or changes its configuration, never writes to the log, and waits
for a stream that is not there yet.

With --leaf-listen it is also the hub of offline laptops: their servers
connect as leaf nodes with a leaf credential (credentials add MACHINE
--leaf), and the log takes each laptop's events once, in its order,
whenever it is connected (README: Many machines).
`); err != nil {
		return err
	}
	logger := c.cfg.Logger(c.Stderr)
	if err := c.tls.check(c.http); err != nil {
		return err
	}
	if err := c.replica.check(c.cfg); err != nil {
		return err
	}
	if err := c.leaf.check(c.cfg); err != nil {
		return err
	}
	opts := app.OpenOptions{Owner: "indexer-project", Listen: c.listen, LockWithServer: true,
		TLSCert: c.tls.cert, TLSKey: c.tls.key, LeafListen: c.leaf.listen}
	c.replica.openOptions(&opts, c.cfg.Server, logger)
	env, err := app.Open(ctx, c.cfg, opts, logger)
	if err != nil {
		return err
	}
	defer env.Close()
	c.leaf.start(env, logger)
	defer c.leaf.Close()
	p := &projections.Projector{Log: env.Log, Path: c.cfg.Dir().IndexPath(), Logger: logger, BatchSize: c.batch, BatchWait: c.batchWait, CommitGap: c.commitGap}
	if c.commitGap == 0 {
		p.CommitGap = -1 // none; the Projector's zero is its default
	}
	pm := metrics.NewProjector(p)
	p.Observer = pm
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
	// The guard answers nothing from an index whose log was replaced.
	local := service.Live(p, env.Log)
	cache := &service.Cache{Queries: local, Checkpoint: p.Checkpoint}
	queries := metrics.NewTimed(guarded{Queries: cache, p: p})
	hw := &healthWatch{p: p, log: env.Log, noLeases: c.replica.reader, judge: projections.Health{HeadStaleAfter: c.headStale}}
	stopQueries, err := c.replica.serveQueries(ctx, env.Log, p, queries, logger)
	if err != nil {
		return err
	}
	defer stopQueries()
	rb := &rebuilder{p: p, ctx: ctx, logger: logger, resumed: make(chan struct{}, 1)}
	if !c.replica.reader { // a reader's credential may not serve subjects
		adminPrefix := "indexer.admin." + events.NewID().String() + "."
		rb.subject, rb.skipSubject, rb.deadSubject = adminPrefix+"rebuild", adminPrefix+"skip", adminPrefix+"deadletters"
		admin, err := env.Log.StartService(store.ServiceConfig{
			Name: "indexer-admin", Version: service.Version,
			Description: "indexer-project's own controls; the subject is in its status file",
			Endpoints: []store.ServiceEndpoint{
				{Name: "rebuild", Subject: rb.subject, Handler: rb.handle},
				{Name: "skip", Subject: rb.skipSubject, Handler: rb.skip},
				{Name: "deadletters", Subject: rb.deadSubject, Handler: rb.deadLetters},
				{Name: "compact", Subject: compactSubject(rb.subject), Handler: compactHandler(p)},
			},
			Logger: logger,
		})
		if err != nil {
			return err
		}
		defer admin.Stop()
	}
	runCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	httpDone := make(chan error, 1)
	httpURL := "off"
	if c.http != "off" && c.http != "" {
		// Behind the guard and the timer, the handler sees neither the
		// cache's nor the gate's figures: newWebHandler is given them.
		handler, err := c.tls.protect(c.cfg.DataDir, c.http, newWebHandler(queries, pm, cache, local.Work, env, hw, logger))
		if err != nil {
			return err
		}
		hs := &web.Server{Addr: c.http, Handler: handler, Logger: logger, TLSCert: c.tls.cert, TLSKey: c.tls.key}
		if err := hs.Listen(); err != nil {
			return err
		}
		httpURL = hs.URL()
		go func() { httpDone <- hs.Serve(runCtx) }()
	} else {
		httpDone <- nil
	}
	fmt.Fprintf(c.Stderr, "indexer-project: log %s, web UI and API %s, index %s\n", url, httpURL, p.Path)
	if srv := inproc.Of(env); srv != nil && srv.LeafURL() != "" {
		fmt.Fprintf(c.Stderr, "indexer-project: laptops connect to %s\n", srv.LeafURL())
	}

	statusPath := c.cfg.Dir().StatusPath()
	replicaOf := ""
	if c.replica.on {
		replicaOf = c.cfg.Server
	}
	stopStatus := make(chan struct{})
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			writeStatus(ctx, p, rb, hw, statusPath, replicaOf)
			select {
			case <-stopStatus:
				return
			case <-t.C:
			}
		}
	}()
	err = runUntilStopped(ctx, p, rb.resumed, logger)
	close(stopStatus)
	<-statusDone
	rb.wait()
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

// runUntilStopped runs p until ctx ends or it fails. When it stops for
// the operator (a log replaced under the index, an event this binary
// cannot apply) the process stays up: status and /health say why, queries
// of an index still right are answered, and the operator's answer
// (rebuild --accept-new-log, skip) resumes it.
func runUntilStopped(ctx context.Context, p *projections.Projector, resumed <-chan struct{}, logger *slog.Logger) error {
	for {
		err := p.Run(ctx)
		if ctx.Err() != nil || !needsOperator(err) {
			return err
		}
		logger.Error("projection stopped; waiting for the operator (see indexer-project status)", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-resumed:
			logger.Info("projection resumes")
		}
	}
}

// needsOperator reports whether err stops projection until the operator
// answers, rather than ends the process.
func needsOperator(err error) bool {
	return errors.Is(err, projections.ErrLogReplaced) || errors.Is(err, events.ErrNewerSchema)
}

// ownerStatus is what the status file holds.
type ownerStatus struct {
	projections.Status
	PID int `json:"pid"`
	rebuildState
	// Health is the projector's judged health (see /health).
	Health *projections.Verdict `json:"health,omitempty"`
	// ReplicaOf is the log's server when the projector is a read replica
	// (run --replica).
	ReplicaOf string `json:"replica_of,omitempty"`
}

func writeStatus(ctx context.Context, p *projections.Projector, rb *rebuilder, hw *healthWatch, path, replicaOf string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st := statusOf(ctx, p, rb, hw)
	st.ReplicaOf = replicaOf
	b, _ := json.Marshal(st)
	store.WriteFileAtomic(path, b) // a missed write is made good a second later
}

// statusOf is what the status file says. The rebuilder's state is read
// before the projector's: a rebuild that ends between the two reads then
// shows as neither done nor running, and is done in the next write. Read
// the other way round, the file said "rebuilding" with the rebuild counted
// done, and `status` printed "rebuilding" after `rebuild` said it ended.
// hw, when not nil, judges the status for the file's health.
func statusOf(ctx context.Context, p *projections.Projector, rb *rebuilder, hw *healthWatch) ownerStatus {
	rs := rb.state()
	s, err := p.Status(ctx)
	var v *projections.Verdict
	if hw != nil {
		j := hw.observe(ctx, s, err)
		v = &j
	}
	if err != nil && s.Error == "" {
		s.Error = err.Error()
	}
	return ownerStatus{Status: s, PID: os.Getpid(), rebuildState: rs, Health: v}
}

// rebuilder runs the rebuilds that `indexer-project rebuild` asks a running
// projector for, one at a time, in the background: the request is answered
// at once with the rebuild's number, and the status file says when that
// number is done.
type rebuilder struct {
	p       *projections.Projector
	ctx     context.Context
	logger  *slog.Logger
	subject string
	// skipSubject and deadSubject are where skip and deadletters ask.
	skipSubject, deadSubject string

	// resumed is signalled when the operator's answer (a new log
	// accepted, an event skipped) lets a stopped projection go on.
	resumed chan struct{}

	mu      sync.Mutex
	running bool
	asked   int    // rebuilds started on request
	done    int    // of those, how many ended
	lastErr string // the last one's error, "" if it succeeded
	wg      sync.WaitGroup
}

// rebuildState is the rebuilder's part of the status file.
type rebuildState struct {
	// RebuildSubject is where `indexer-project rebuild` asks for a rebuild.
	RebuildSubject string `json:"rebuild_subject,omitempty"`
	// RebuildsAsked and RebuildsDone count the rebuilds asked for over
	// RebuildSubject; RebuildError is the last one's error.
	RebuildsAsked int    `json:"rebuilds_asked,omitempty"`
	RebuildsDone  int    `json:"rebuilds_done,omitempty"`
	RebuildError  string `json:"rebuild_error,omitempty"`
	// SkipSubject is where `indexer-project skip` asks to skip an event,
	// DeadLettersSubject where `indexer-project deadletters` asks for the
	// dead letters.
	SkipSubject        string `json:"skip_subject,omitempty"`
	DeadLettersSubject string `json:"deadletters_subject,omitempty"`
}

// rebuildRequest asks a running projector for a rebuild.
type rebuildRequest struct {
	// AcceptNewLog rebuilds an index whose log was replaced, keeping the
	// old one aside (projections.Projector.AcceptNewLog).
	AcceptNewLog bool `json:"accept_new_log,omitempty"`
}

// rebuildReply answers a rebuild request.
type rebuildReply struct {
	// ID is the number of the rebuild that will answer the request: done
	// when the status file's rebuilds_done reaches it.
	ID int `json:"id"`
	// Joined is true when a rebuild asked for earlier was still running.
	Joined bool `json:"joined,omitempty"`
}

func (r *rebuilder) state() rebuildState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rebuildState{RebuildSubject: r.subject, RebuildsAsked: r.asked, RebuildsDone: r.done, RebuildError: r.lastErr,
		SkipSubject: r.skipSubject, DeadLettersSubject: r.deadSubject}
}

// handle starts a rebuild, or joins the one running.
func (r *rebuilder) handle(_ context.Context, data []byte) ([]byte, error) {
	var req rebuildRequest
	if len(data) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, &store.ServiceError{Code: 400, Message: "a rebuild request is {\"accept_new_log\": bool}: " + err.Error()}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return json.Marshal(rebuildReply{ID: r.asked, Joined: true})
	}
	if r.ctx.Err() != nil {
		return nil, &store.ServiceError{Code: 503, Message: "indexer-project is stopping"}
	}
	r.running = true
	r.asked++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.logger.Info("rebuild asked for", "subject", r.subject, "accept_new_log", req.AcceptNewLog)
		var err error
		if req.AcceptNewLog {
			var orphan string
			if orphan, err = r.p.AcceptNewLog(r.ctx); err == nil {
				r.logger.Warn("new log accepted; the old index is kept", "old", orphan)
				r.resume()
			}
		} else {
			err = r.p.Rebuild(r.ctx)
		}
		if err != nil {
			r.logger.Error("rebuild failed", "err", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.running = false
		r.done++
		r.lastErr = ""
		if err != nil {
			r.lastErr = err.Error()
		}
	}()
	return json.Marshal(rebuildReply{ID: r.asked})
}

// skip skips the event a request names and lets projection go on.
func (r *rebuilder) skip(ctx context.Context, data []byte) ([]byte, error) {
	var req skipRequest
	if err := json.Unmarshal(data, &req); err != nil || req.Seq == 0 {
		return nil, &store.ServiceError{Code: 400, Message: fmt.Sprintf("a skip request is {\"seq\": N}: %q", data)}
	}
	if err := r.p.Skip(ctx, req.Seq); err != nil {
		if errors.Is(err, projections.ErrNotSkippable) {
			return nil, &store.ServiceError{Code: 400, Message: err.Error()}
		}
		return nil, err
	}
	r.resume()
	return json.Marshal(req)
}

// deadLetters lists the dead letters.
func (r *rebuilder) deadLetters(context.Context, []byte) ([]byte, error) {
	dl, err := r.p.Index().DeadLetters(0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(dl)
}

// resume lets a projection stopped for the operator go on.
func (r *rebuilder) resume() {
	select {
	case r.resumed <- struct{}{}:
	default:
	}
}

// wait waits for a rebuild in progress to end (its context is the run's).
func (r *rebuilder) wait() { r.wg.Wait() }

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
