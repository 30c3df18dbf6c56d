package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/store"
)

// runServeFor is `indexer-project serve-for --owner OWNER`: the embedded
// server of a data directory that the parent process (the indexer command)
// has locked, for that process only (app.Sibling says the protocol). It is
// not in the usage: only app.Sibling runs it, with the Config in the
// environment and the lock as descriptor app.SiblingLockFD.
func (m *Main) runServeFor(ctx context.Context, args []string) error {
	var cfg app.Config
	fs := flag.NewFlagSet("indexer-project "+app.SiblingCommand, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	cfg.RegisterFlags(fs)
	owner := fs.String("owner", "", "the parent command, written into the lock")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	lock, err := store.InheritLock(cfg.DataDir, os.NewFile(app.SiblingLockFD, "LOCK"))
	if err != nil {
		return fmt.Errorf("%s is run by the indexer command, which holds the data directory's lock: %w", app.SiblingCommand, err)
	}
	defer lock.Close()
	// The terminal's signals reach the parent too, which ends this
	// process by closing its standard input, after its last use of the log.
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	srv, err := inproc.Serve(ctx, cfg, app.OpenOptions{Owner: *owner}, lock, cfg.Logger(m.Stderr))
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := fmt.Fprintln(m.Stdout, srv.ClientURL()); err != nil {
		return err
	}
	stdin := m.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	io.Copy(io.Discard, stdin) // until the parent closes it, or exits
	return nil
}
