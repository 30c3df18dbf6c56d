package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Dir is a data directory, and the one place that names the files in it.
// Every package that reads or writes one of them asks Dir for its path.
type Dir string

// IndexPath is the bbolt file of the read models.
func (d Dir) IndexPath() string { return d.path("index.db") }

// JetStreamPath is the directory of the embedded server's store: the log.
func (d Dir) JetStreamPath() string { return d.path("jetstream") }

// ScanStatePath is the scan state of machine: what the scanner remembers
// of that machine's files.
func (d Dir) ScanStatePath(machine string) string { return d.path("scanstate-" + machine + ".db") }

// ServerURLPath holds the URL of the embedded server while a process that
// owns the directory serves it.
func (d Dir) ServerURLPath() string { return d.path("server.url") }

// ServerCertPath holds the certificate of the embedded server's TLS
// listener while one serves it, so the commands run on the directory trust
// exactly it.
func (d Dir) ServerCertPath() string { return d.path("server.pem") }

// CredentialsPath is the directory of the credentials (see Keyring).
func (d Dir) CredentialsPath() string { return d.path("credentials") }

// StatusPath holds what a running indexer-project reports of its projector
// (its status, once a second).
func (d Dir) StatusPath() string { return d.path("projector.json") }

// LockPath is the file whose flock(2) is ownership of the directory (see
// LockDir).
func (d Dir) LockPath() string { return d.path("LOCK") }

// HasLog reports whether the directory holds an embedded server's log.
func (d Dir) HasLog() bool {
	fi, err := os.Stat(d.JetStreamPath())
	return err == nil && fi.IsDir()
}

func (d Dir) path(name string) string { return filepath.Join(string(d), name) }

// DirLock is exclusive ownership of a data directory, held with flock(2) on
// its LOCK file. The kernel drops the lock when the process dies, so a crash
// never leaves a stale lock; the PID written into the file only serves the
// error message of the next process.
type DirLock struct {
	Dir string
	f   *os.File
	// inherited: the lock is a parent process's (InheritLock), which
	// releases it.
	inherited bool
}

// LockDir creates dir if needed and takes it for this process, or returns a
// *LockedError (errors.Is ErrLocked) naming the process that holds it. owner
// is written into the lock file for that message, e.g. "indexer-project".
func LockDir(dir, owner string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(Dir(dir).LockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(f.Name())
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Dir: dir}
			pid, who, _ := strings.Cut(string(bytes.TrimSpace(b)), " ")
			le.PID, _ = strconv.Atoi(pid)
			le.Owner = who
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d %s\n", os.Getpid(), owner)
	}
	if err := restrictModes(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return &DirLock{Dir: dir, f: f}, nil
}

// restrictModes makes dir and what it holds private to its owner: the
// directory 0700, each file and directory in it without group or other
// permissions. The index and the scan state hold the names and hashes of
// files that may sit in private directories; the credentials are secrets.
// A data directory from before this rule is upgraded on its next use.
func restrictModes(dir string) error {
	if err := chmodPrivate(dir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink != 0 {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		if err := chmodPrivate(filepath.Join(dir, e.Name()), fi.Mode().Perm()&^0o077); err != nil {
			return err
		}
	}
	return nil
}

// chmodPrivate sets mode on name unless it has it already.
func chmodPrivate(name string, mode fs.FileMode) error {
	fi, err := os.Lstat(name)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == mode {
		return nil
	}
	return os.Chmod(name, mode)
}

// Close releases the directory.
func (l *DirLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.inherited {
		err := l.f.Close()
		l.f = nil
		return err
	}
	l.f.Truncate(0)
	// Unlock before closing: the flock belongs to the open file, which a
	// child process forked at this moment shares until it execs (the
	// descriptor is close-on-exec, not close-on-fork). Closing alone would
	// leave the directory locked for that while; tests that start children
	// in parallel saw "in use by another process" from their own process.
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}

// File is the open LOCK file whose flock is the lock, for a child process
// that serves the directory for this one (InheritLock): the kernel keeps
// the lock while either holds the file. Release it only after the child
// exited, as Close unlocks it for both.
func (l *DirLock) File() *os.File { return l.f }

// InheritLock adopts the lock of dir that a parent process passed as f
// (its DirLock.File): it checks that f is dir's LOCK file and that the lock
// is held, so a process started by hand cannot serve a directory nobody
// locked. Close closes f and leaves the lock to the parent.
func InheritLock(dir string, f *os.File) (*DirLock, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("inherited lock: %w", err)
	}
	li, err := os.Stat(Dir(dir).LockPath())
	if err != nil || !os.SameFile(fi, li) {
		return nil, fmt.Errorf("inherited lock: descriptor %d is not %s", f.Fd(), Dir(dir).LockPath())
	}
	// Another open file of LOCK conflicts with the flock of f's: it must
	// fail to lock.
	probe, err := os.Open(Dir(dir).LockPath())
	if err != nil {
		return nil, fmt.Errorf("inherited lock: %w", err)
	}
	defer probe.Close()
	if err := syscall.Flock(int(probe.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("inherited lock: %s is not locked", Dir(dir).LockPath())
	}
	return &DirLock{Dir: dir, f: f, inherited: true}, nil
}

// ReadServerURL returns the URL an owning process wrote into dir, or "" when
// none is there.
func ReadServerURL(dir string) string {
	b, err := os.ReadFile(Dir(dir).ServerURLPath())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// WriteFileAtomic writes b to name through a temporary file and a rename, so
// a reader never sees half a file. It does not fsync: it is for files that
// say what a running process is doing (server.url, the projector's status),
// which a crash makes stale anyway.
func WriteFileAtomic(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err // *os.PathError names the file
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
