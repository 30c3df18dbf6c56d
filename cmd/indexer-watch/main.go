package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/scancmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := scancmd.NewMain()
	m.Program = scancmd.WatchProgram
	args := os.Args[1:]
	if !app.IsVersionFlag(args) {
		args = append([]string{"--watch"}, args...)
	}
	err := m.Run(ctx, args)
	app.Report(os.Stderr, scancmd.WatchProgram, err)
	os.Exit(app.ExitCode(err))
}
