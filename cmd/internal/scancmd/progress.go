package scancmd

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/scanner"
)

// startProgress shows a scan's progress on a terminal, a line redrawn five
// times a second, and returns the function that clears it. It shows nothing
// when w is not a terminal or quiet is set.
func startProgress(w io.Writer, root string, p *scanner.Progress, quiet bool) func() {
	f, ok := w.(*os.File)
	if quiet || !ok || !app.IsTerminal(f) {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\x1b[K")
				return
			case <-t.C:
			}
			el := time.Since(start).Seconds()
			read, total := p.BytesRead.Load(), p.BytesToRd.Load()
			rate := float64(read) / el
			line := fmt.Sprintf("%s: %s, %s, read %d/%s, %s (%.0f MB/s)",
				root, app.Count(p.Dirs.Load(), "dir", "dirs"), app.Count(p.Files.Load(), "file", "files"),
				p.Read.Load(), app.Count(p.ToRead.Load(), "file", "files"), app.Bytes(read), rate/1e6)
			if p.WalkDone.Load() && rate > 0 && total > read {
				line += fmt.Sprintf(", ETA %s", time.Duration(float64(total-read)/rate*float64(time.Second)).Round(time.Second))
			} else if !p.WalkDone.Load() {
				line += ", walking"
			}
			if u := p.Unreadable.Load(); u > 0 {
				line += fmt.Sprintf(", %d unreadable", u)
			}
			fmt.Fprintf(f, "\r\x1b[K%s", line)
		}
	}()
	return func() { close(done); wg.Wait() }
}
