package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/indexer/indexer/cmd/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := NewMain().Run(ctx, os.Args[1:])
	app.Report(os.Stderr, "indexer-project", err)
	os.Exit(app.ExitCode(err))
}
