package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/store"
)

// replicaMode is run's --replica: a read replica follows a log that
// another indexer-project owns (on --server) into its own data directory's
// index. It never creates the stream or changes its configuration (the
// owner's settings stand, whatever the replica's INDEXER_REPLICAS says),
// and it never writes to the log; a stream that is not there yet is waited
// for. Its index holds the same bytes as every other projector's of the
// same log, so its answers are the same once caught up.
//
// With a reader credential (credentials add --reader) the replica may not
// serve NATS subjects: it answers over HTTP only, takes no admin requests
// (stop it to rebuild or compact its index) and does not look at the scan
// leases for /health. With a credential that may serve (the log owner's
// own, or a server without credentials) it joins the NATS query service
// "indexer" once it has caught up with the log as it was when it started,
// so a replica that is still catching up never answers for the others.
type replicaMode struct {
	on bool
	// reader: the credential may only read the log and ask queries.
	reader bool
}

// register adds --replica to fs.
func (r *replicaMode) register(fs *flag.FlagSet) {
	fs.BoolVar(&r.on, "replica", envBool("REPLICA"), "follow the log another indexer-project owns on --server as a read replica: never create or change the stream, never write to it (env INDEXER_REPLICA)")
}

// envBool is INDEXER_<name> as a flag default; a value strconv.ParseBool
// refuses is false, and check reports it.
func envBool(name string) bool {
	v, err := strconv.ParseBool(app.Getenv(name, "false"))
	return err == nil && v
}

// check refuses --replica without --server, a bad INDEXER_REPLICA, and a
// scanner's credential, which reads only its own machine's events.
func (r *replicaMode) check(cfg app.Config) error {
	if v := app.Getenv("REPLICA", ""); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return app.Usagef("INDEXER_REPLICA=%q: want true or false", v)
		}
	}
	if !r.on {
		return nil
	}
	if cfg.Server == "" {
		return app.Usagef("--replica follows the log of another indexer-project: give its NATS URL with --server (and a credential, --creds, from its 'credentials add --reader NAME')")
	}
	cred, err := cfg.Credential()
	if err != nil {
		return err
	}
	if cred != nil && cred.Role == store.RoleScanner {
		return app.Usagef("--replica with the credential of a scanner (%s), which reads only its own machine's events: issue a reader's on the log's owner (indexer-project credentials add --reader NAME)", cred.Name)
	}
	r.reader = cred != nil && cred.Role == store.RoleReader
	return nil
}

// openOptions makes opts open the log read-only and wait for the stream,
// saying once what it waits for.
func (r *replicaMode) openOptions(opts *app.OpenOptions, server string, logger *slog.Logger) {
	if !r.on {
		return
	}
	opts.ReadOnlyLog = true
	said := false
	opts.WaitForLog = func(ctx context.Context, err error) error {
		if !said {
			logger.Warn("waiting for the log: the stream does not exist yet; its owner (indexer-project run without --replica) creates it", "server", server, "stream", store.DefaultStream)
			said = true
		}
		t := time.NewTimer(replicaRetry)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the log on %s: %w", server, ctx.Err())
		case <-t.C:
			return nil
		}
	}
}

// replicaRetry is how often a replica looks for a stream not there yet.
const replicaRetry = time.Second

// serveQueries serves the NATS query service: at once for the log's
// owner; for a replica that may, once it has caught up with the log as it
// was when it started, in the background. The returned function stops it.
func (r *replicaMode) serveQueries(ctx context.Context, log *store.Log, p *projections.Projector, queries service.Queries, logger *slog.Logger) (stop func(), err error) {
	if !r.on {
		svc, err := service.Serve(log, queries, nil, logger)
		if err != nil {
			return nil, err
		}
		return func() { svc.Stop() }, nil
	}
	if r.reader {
		logger.Info("read replica with a reader's credential: answering over HTTP only, not on the NATS query service")
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var svc *store.Service
	go func() {
		defer close(done)
		info, err := log.Info(ctx)
		if err == nil {
			err = p.WaitFor(ctx, info.LastSeq)
		}
		if err == nil {
			svc, err = service.Serve(log, queries, nil, logger)
		}
		switch {
		case err == nil:
			logger.Info("read replica caught up: serving the NATS query service", "seq", info.LastSeq)
		case !errors.Is(err, context.Canceled):
			logger.Error("read replica: not serving the NATS query service", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
		if svc != nil {
			svc.Stop()
		}
	}, nil
}
