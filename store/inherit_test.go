package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/indexer/indexer/store"
)

// TestInheritLock: a child may serve a directory only with its parent's
// lock: the LOCK file itself, locked. Closing the inherited lock leaves
// the parent's in place.
func TestInheritLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dup := func(f *os.File) *os.File {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fd), f.Name())
	}
	// The LOCK file, but nobody holds the lock.
	l, err := store.LockDir(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	plain, err := os.Open(store.Dir(dir).LockPath())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := store.InheritLock(dir, plain); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Fatalf("InheritLock of an unlocked LOCK: %v", err)
	}
	parent, err := store.LockDir(filepath.Join(dir, "d"), "parent")
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	// Another file than LOCK.
	other, err := os.Create(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := store.InheritLock(filepath.Join(dir, "d"), other); err == nil || !strings.Contains(err.Error(), "is not") {
		t.Fatalf("InheritLock of another file: %v", err)
	}
	// The parent's LOCK, locked.
	child, err := store.InheritLock(filepath.Join(dir, "d"), dup(parent.File()))
	if err != nil {
		t.Fatalf("InheritLock of the parent's lock: %v", err)
	}
	if err := child.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.LockDir(filepath.Join(dir, "d"), "third"); err == nil {
		t.Fatal("the child's Close released the parent's lock")
	}
}
