package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/indexer/indexer/cmd/internal/app"
	// Runs the embedded NATS server in this process (app.Serve).
	_ "github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/cmd/internal/scancmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := scancmd.NewMain()
	m.ExecWatch = scancmd.ExecWatch // --watch runs in indexer-watch
	err := m.Run(ctx, os.Args[1:])
	app.Report(os.Stderr, "indexer-scan", err)
	os.Exit(app.ExitCode(err))
}
