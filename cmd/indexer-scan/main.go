package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/indexer/indexer/cmd/internal/app"
	// Runs the embedded NATS server in this process (app.Serve), for
	// tests that drive Main as well.
	_ "github.com/indexer/indexer/cmd/internal/inproc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	app.Report(os.Stderr, "indexer-scan", err)
	os.Exit(app.ExitCode(err))
}
