package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/store"
)

// The indexer command answers most questions from index.db alone, and its
// start is most of a query's time: it does not link nats-server (about a
// millisecond of package initialisation and a third of the binary). When
// one of its commands needs the log (events, export, import, show and
// history's details, scans' problems, rot) and no process owns the data
// directory, Sibling runs the embedded server in indexer-project, the
// program that links it. The protocol, one rule in one place:
//
//   - This process takes the directory's lock, as for a server of its own,
//     and passes the LOCK file to the child as descriptor SiblingLockFD:
//     the directory stays locked while either lives, and other commands
//     see this command as its owner, as before.
//   - It runs `indexer-project serve-for --owner OWNER` with the Config in
//     the child's environment (INDEXER_DATA, INDEXER_HUB, ...): the child
//     runs the embedded server exactly as this process would (ServerOptions,
//     inproc.Serve), on loopback, writes server.url, and prints the URL on
//     its standard output.
//   - This process connects to it with the data directory's own
//     credential; it closes the child's standard input when it is done (or
//     dies), and the child stops the server and exits; then the lock is
//     released. The child ignores SIGINT, SIGTERM and SIGHUP, which the
//     parent gets too: its life is its standard input.
//
// SiblingCommand is the sibling's command; it is not in indexer-project's
// usage, as only Sibling runs it.
const (
	SiblingProgram = "indexer-project"
	SiblingCommand = "serve-for"
	SiblingLockFD  = 3
)

// ErrNoSibling is returned by Sibling when indexer-project is neither
// beside this program nor on PATH: install it there, or start
// indexer-project run on the data directory (commands then ask it).
var ErrNoSibling = errors.New(SiblingProgram + " not found")

// Sibling is the default Serve: it runs the embedded server in the program
// indexer-project, found beside this program's executable, else on PATH,
// as the comment above says. It serves loopback only: Listen, LeafListen
// and TLS are the serving programs' own, which link the server.
func Sibling(ctx context.Context, cfg Config, opts OpenOptions, lock *store.DirLock, logger *slog.Logger) (Embedded, error) {
	if opts.Listen != "" || opts.LeafListen != "" || opts.TLSCert != "" {
		return nil, fmt.Errorf("%s: the embedded server of %s listens on loopback only: run it in %s", opts.Owner, SiblingProgram, SiblingProgram)
	}
	exe, err := siblingPath()
	if err != nil {
		return nil, fmt.Errorf("%s needs %s to run the embedded server on %s, which no process serves: %w beside %s or on PATH", opts.Owner, SiblingProgram, cfg.DataDir, err, executable())
	}
	cmd := exec.Command(exe, SiblingCommand, "--owner", opts.Owner)
	cmd.Env = append(os.Environ(), cfg.environ()...)
	cmd.ExtraFiles = []*os.File{lock.File()} // descriptor 3: SiblingLockFD
	cmd.Stderr = os.Stderr                   // its log and its errors, as this process's
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	s := &sibling{cmd: cmd, stdin: stdin, dir: cfg.DataDir}
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, r)
	}()
	select {
	case s.url = <-line:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	if s.url == "" {
		err := s.Close()
		return nil, fmt.Errorf("%s %s did not start the embedded server on %s (%v; its message is above)", exe, SiblingCommand, cfg.DataDir, err)
	}
	if logger != nil {
		logger.Debug("embedded server in "+SiblingProgram, "url", s.url, "pid", cmd.Process.Pid)
	}
	return s, nil
}

// sibling is the embedded server a child indexer-project runs (Sibling).
type sibling struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string
	url   string
}

func (s *sibling) ClientURL() string { return s.url }

// Connect connects as the data directory's own credential, which the child
// made on first use, trusting the certificate it serves (none on
// loopback).
func (s *sibling) Connect(name string) (*nats.Conn, error) {
	k := store.FindKeyring(s.dir)
	if k == nil {
		return nil, fmt.Errorf("connect to the embedded server: no credentials in %s", s.dir)
	}
	admin, err := k.Admin()
	if err != nil {
		return nil, err
	}
	auth := store.ClientAuth{Credential: admin, PinnedCert: store.ReadServerCert(s.dir)}
	return store.ConnectLocal(s.url, name, auth, nats.NoReconnect())
}

// Close closes the child's standard input, and waits for it to stop the
// server and exit.
func (s *sibling) Close() error {
	if s.cmd == nil {
		return nil
	}
	s.stdin.Close()
	err := s.cmd.Wait()
	s.cmd = nil
	if err != nil {
		return fmt.Errorf("%s %s: %w", SiblingProgram, SiblingCommand, err)
	}
	return nil
}

// siblingPath finds indexer-project beside this program, else on PATH.
func siblingPath() (string, error) {
	if p := Beside(SiblingProgram); p != "" {
		return p, nil
	}
	return "", ErrNoSibling
}

// Beside finds the program name beside this program's executable, else on
// PATH: "" when neither has it. The programs are built and installed
// together, so the one beside is the same version.
func Beside(name string) string {
	if exe := executable(); exe != "" {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// executable is this program's file, "" when unknown.
func executable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

// environ is c as the environment of a child that reads it back with
// RegisterFlags: what ServerOptions and the log need.
func (c Config) environ() []string {
	return []string{
		"INDEXER_DATA=" + c.DataDir,
		"INDEXER_SERVER=",
		"INDEXER_REPLICAS=",
		"INDEXER_SYNC_INTERVAL=" + c.SyncInterval.String(),
		"INDEXER_HUB=" + c.Hub,
		"INDEXER_HUB_CREDS=" + c.HubCreds,
		"INDEXER_TLS_CA=" + c.TLSCA,
		"INDEXER_LOG_LEVEL=" + c.LogLevel,
		"INDEXER_LOG_FORMAT=" + c.LogFormat,
	}
}
