package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// TestListenPortTaken: run on a port another process listens on fails at
// once with an error naming the flag and the port, and a hint.
func TestListenPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = runMain(t, "run", "--data", t.TempDir(), "--listen", addr, "--http", "off")
	if !errors.Is(err, store.ErrAddrInUse) || !strings.Contains(err.Error(), "--listen "+addr) {
		t.Fatalf("run on a taken port = %v, want ErrAddrInUse naming --listen %s", err, addr)
	}
	if app.Hint(err) == "" {
		t.Errorf("no hint for %v", err)
	}
}

// TestCheckCommand: check passes a good index and reports a truncated one
// as corrupt, with a hint.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedSteps(t, dir, 3, 2000)
	if _, err := runMain(t, "rebuild", "--data", dir); err != nil {
		t.Fatal(err)
	}
	out, err := runMain(t, "check", "--data", dir)
	if err != nil || !strings.Contains(out, ": ok") {
		t.Fatalf("check of a good index = %q, %v", out, err)
	}
	path := store.Dir(dir).IndexPath()
	db := &store.DB{Path: path, ReadOnly: true}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	used := db.Used()
	db.Close()
	if err := os.Truncate(path, used/2); err != nil {
		t.Fatal(err)
	}
	_, err = runMain(t, "check", "--data", dir)
	if !errors.Is(err, store.ErrCorrupt) || app.Hint(err) == "" {
		t.Fatalf("check of a truncated index = %v, want ErrCorrupt with a hint", err)
	}
}

// TestSIGTERMDuringAHeavyRegex: indexer-project stops in under 2 s while a
// regex that would take seconds more runs: the query's context ends with
// the process's. It used to hang 130 s, until the regex was done.
func TestSIGTERMDuringAHeavyRegex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scan := events.NewID()
	var evs []events.Event
	for i := range 3000 {
		name := strings.Repeat("abcdefghij", 20) + fmt.Sprintf("-%06d.txt", i)
		evs = append(evs, events.New("m", scan, time.Now(), &events.FileScanned{File: events.File{Path: events.Path("/big/" + name), Size: 1}}))
	}
	last := seedDataDir(t, dir, evs)
	c := startChild(t, dir, "127.0.0.1:0")
	base := childURL(t, c)
	get := func(path string) string {
		resp, err := http.Get(base + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %s:\n%s", what, c.logText())
			}
		}
	}
	waitFor("the index", func() bool { return strings.Contains(get("/api/status"), fmt.Sprintf(`"checkpoint":%d,`, last)) })
	// About 2 ms a name, 6 s in all: see projections/web's costlyRegex.
	answered := make(chan time.Time, 1)
	go func() {
		r := get("/api/find?mode=regex&limit=1000&q=" + url.QueryEscape(`([a-z]|[a-e]){1,300}q`))
		t.Logf("regex answered: %.200s", r)
		answered <- time.Now()
	}()
	waitFor("the regex to run", func() bool { return strings.Contains(get("/metrics"), "indexer_heavy_queries_running 1") })
	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("indexer-project after SIGTERM: %v\n%s", err, c.logText())
	}
	// The regex alone runs 6 s on a quiet machine and longer on a busy one:
	// stopping within 4 s shows the signal cancelled it.
	if took > 4*time.Second {
		t.Fatalf("indexer-project took %s to stop during a regex, want under 4 s\n%s", took, c.logText())
	}
	t.Logf("stopped in %s; the regex was answered %s after the signal", took.Round(time.Millisecond), (<-answered).Sub(start).Round(time.Millisecond))
}
