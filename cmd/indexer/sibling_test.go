package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// siblingDir holds the indexer-project that TestMain builds.
var siblingDir string

// TestMain builds indexer-project and puts it on PATH: the commands that
// need the log when no process owns the data directory run the embedded
// server in it (app.Sibling), as the installed programs do. The indexer
// command does not link the server, so these tests cover that path; the
// tests of indexer-scan, indexer-project and package app cover the server
// run in process.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "indexer-sibling-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	siblingDir = dir
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, app.SiblingProgram), "../indexer-project").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build indexer-project: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSiblingServesAndLeaves: a command that reads the log of a directory
// nobody owns runs the server in indexer-project, and when it returns the
// child is gone: the lock is free and server.url removed.
func TestSiblingServesAndLeaves(t *testing.T) {
	t.Parallel()
	data, evs := seedLog(t)
	var out, errb bytes.Buffer
	if err := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), []string{"events", "--data", data}); err != nil {
		t.Fatalf("events: %v\n%s", err, errb.String())
	}
	if got, want := strings.Count(out.String(), "\n"), len(evs)+1; got != want { // and the stranger's garbage
		t.Fatalf("events printed %d lines, want %d:\n%s", got, want, out.String())
	}
	lock, err := store.LockDir(data, "test")
	if err != nil {
		t.Fatalf("after events the directory is still locked: %v", err)
	}
	lock.Close()
	if _, err := os.Stat(store.Dir(data).ServerURLPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server.url left behind: %v", err)
	}
}

// TestSiblingMissing: without indexer-project beside indexer or on PATH, a
// command that needs the embedded server says what to do, and leaves the
// directory unlocked. (Not parallel: it changes PATH.)
func TestSiblingMissing(t *testing.T) {
	data, _ := seedLog(t)
	t.Setenv("PATH", strings.ReplaceAll(os.Getenv("PATH"), siblingDir+string(os.PathListSeparator), ""))
	var out, errb bytes.Buffer
	err := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), []string{"events", "--data", data})
	if !errors.Is(err, app.ErrNoSibling) {
		t.Fatalf("events without indexer-project: %v, want ErrNoSibling", err)
	}
	for _, want := range []string{"indexer events needs indexer-project", data, "on PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if h := app.Hint(err); !strings.Contains(h, "install indexer-project") || !strings.Contains(h, "indexer-project run") {
		t.Errorf("hint %q does not say what to do", h)
	}
	lock, err := store.LockDir(data, "test")
	if err != nil {
		t.Fatalf("after the failure the directory is still locked: %v", err)
	}
	lock.Close()
}

// TestSiblingRefusesUnlocked: indexer-project serve-for run by hand, without
// the lock of a parent, serves nothing.
func TestSiblingRefusesUnlocked(t *testing.T) {
	t.Parallel()
	data, _ := seedLog(t)
	cmd := exec.Command(filepath.Join(siblingDir, app.SiblingProgram), app.SiblingCommand, "--data", data, "--owner", "me")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "holds the data directory's lock") {
		t.Fatalf("serve-for without a lock: %v\n%s", err, out)
	}
	if _, err := os.Stat(store.Dir(data).ServerURLPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server.url written: %v", err)
	}
}
