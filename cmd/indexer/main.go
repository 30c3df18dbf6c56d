package main

import (
	"bufio"
	"context"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/indexer/indexer/cmd/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	// A query prints its answer in one write, not one per line (find and
	// dupes printed with hundreds of writes); events, which may follow the
	// log, writes as it goes.
	var out *bufio.Writer
	if !slices.Contains(os.Args[1:], "events") {
		out = bufio.NewWriterSize(os.Stdout, 64<<10)
		m.Stdout = out
	}
	err := m.Run(ctx, os.Args[1:])
	if out != nil {
		if ferr := out.Flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	app.Report(os.Stderr, "indexer", err)
	os.Exit(app.ExitCode(err))
}
