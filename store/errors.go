package store

import (
	"errors"
	"fmt"
)

// ErrLocked is returned when another process owns the data directory (see
// LockDir; the error is a *LockedError naming its PID) or holds index.db.
// Stop that process, or talk to it: a running indexer-project serves the log
// at the URL in the directory's server.url file.
var ErrLocked = errors.New("data directory in use")

// ErrConflict is returned when a write lost a race: another scan of the same
// machine holds the scan lease, or an expected last sequence did not match.
// Wait for the other writer to finish, then try again.
var ErrConflict = errors.New("conflicting writer")

// ErrUnavailable is returned when the NATS server or JetStream cannot be
// reached within the retry bound (Appender.RetryFor, connect timeouts). The
// server may be down or the URL wrong; nothing unacknowledged was stored
// twice, and retrying later with the same events is safe.
var ErrUnavailable = errors.New("log unavailable")

// ErrNotFound is returned when the stream, a message or a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrLogFull is returned by appends when the stream reached one of its
// limits. The log never discards old events to make room; raise the limit.
var ErrLogFull = errors.New("log is full")

// ErrBusy is returned when a service has no room for a heavy question
// now (a NATS service error 429, an HTTP 503 with Retry-After): nothing
// went wrong; ask again in a moment.
var ErrBusy = errors.New("busy, retry")

// ErrAddrInUse is returned by Server.Open when another process listens on
// the server's host and port. Stop that process or choose another port.
var ErrAddrInUse = errors.New("address already in use")

// ErrCorrupt is returned when a bbolt file is damaged: shorter than its
// meta pages say (truncated), a page that is not what its parent says
// (overwritten), or a fault reading it through the memory map. DB.Open
// finds the first two in its quick check; a read or write that meets
// damage later returns it instead of killing the process; DB.Check looks
// at every page. Nothing in such a file can be trusted: move it aside and
// build it again from the log (indexer-project does so for index.db).
var ErrCorrupt = errors.New("file is corrupt")

// ErrClosed is returned by operations on a closed Log, Server or DB.
var ErrClosed = errors.New("closed")

// LockedError says which process owns a data directory.
type LockedError struct {
	Dir   string
	PID   int    // 0 when unknown
	Owner string // the owner's command line as it wrote it
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("data directory %s in use by another process", e.Dir)
	}
	return fmt.Sprintf("data directory %s in use by PID %d (%s)", e.Dir, e.PID, e.Owner)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }
