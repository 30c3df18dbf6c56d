package store

import (
	"os"
	"os/exec"
	"testing"
)

// TestUnlockWhileAChildSharesTheLock: a child process that shares the
// lock's open file (as one forked at the moment of Close does until it
// execs) does not keep the directory locked after Close.
func TestUnlockWhileAChildSharesTheLock(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "30")
	child.ExtraFiles = []*os.File{l.f}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockDir(dir, "test")
	if err != nil {
		t.Fatalf("lock after Close while a child shares the old descriptor: %v", err)
	}
	l2.Close()
}
