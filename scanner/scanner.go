package scanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/events"
)

// Sink receives a scan's events. Append is called from one goroutine at a
// time, in the order the scan decides; Flush returns once every appended
// event is durably stored. *store.Appender is a Sink.
type Sink interface {
	Append(ctx context.Context, e events.Event) error
	Flush(ctx context.Context) error
}

// Scanner turns a file tree into events. Set the fields, then call Scan for
// each root; a Scanner runs one Scan at a time.
type Scanner struct {
	Machine       string
	Hashes        []string // default DefaultHashes
	Exclude       []string // gitignore-style patterns
	OneFileSystem bool     // do not enter directories on other devices
	Verify        bool     // re-read every file; report content changed under unchanged metadata
	// AllowMassDelete lets a scan delete what the mass-delete guard would
	// hold (see MassDeleteMin).
	AllowMassDelete bool
	Workers         int // files read at once; default 4 per core, so small-file I/O overlaps
	// MaxFileSize, when above 0, is the size in bytes above which a file is
	// not read: it is recorded with its metadata and no hashes, and counted
	// in Result.TooLarge. A sparse file's holes are hashed, not read, but
	// at hashing speed (about 400 MB/s): a file of 8 EiB would hold a scan
	// for centuries.
	MaxFileSize int64
	// Archives makes the members of archive files (zip, tar and
	// compressed tars, 7z, rar, single-file gz/bz2/xz/zst) files of the
	// index, ARCHIVE::inner (see archives.go and package archive).
	Archives     bool
	ArchiveDepth int    // archives inside archives walked: 0 means archive.DefaultDepth (1), negative none
	ArchiveTemp  string // where nested archives are spooled; empty is os.TempDir
	// PseudoFS makes the scan enter pseudo file systems (PrunedFS: proc,
	// sysfs, devtmpfs, ...), which it prunes by default.
	PseudoFS bool
	State    State // the machine's scan state; nil means never scanned
	Sink     Sink
	Logger   *slog.Logger
	// Progress, when set, is updated while the scan runs.
	Progress *Progress
}

// Progress is a running scan's counters, safe to read at any time.
type Progress struct {
	Dirs       atomic.Int64 // directories listed
	Files      atomic.Int64 // files seen
	ToRead     atomic.Int64 // files queued for reading
	BytesToRd  atomic.Int64 // their bytes
	Read       atomic.Int64 // files read
	BytesRead  atomic.Int64 // bytes hashed, holes included
	Unreadable atomic.Int64
	WalkDone   atomic.Bool // the walk finished: ToRead and BytesToRd are totals
}

// Result is the outcome of one Scan.
type Result struct {
	Scan     ulid.ULID
	Root     string
	Counts   events.ScanCounts
	Skipped  int64 // FIFOs, sockets and devices: never opened, not indexed
	TooLarge int64 // files larger than MaxFileSize: recorded without hashes
	// MassDelete, when set, says why the scan deleted nothing of what it
	// found gone.
	MassDelete *MassDelete
	// Rot lists the files a Verify scan found changed under unchanged
	// metadata (FileChanged with ReasonBitRot), in path order. They are
	// also counted in Counts.Changed, as ScanCompleted counts every
	// FileChanged.
	Rot []Rot
	// Changing lists the files that changed on every attempt to read them
	// (a growing log), in path order: recorded with their metadata and no
	// hashes (File.Unhashed "changing"), and read again next scan.
	Changing []string
	// Excluded counts the paths exclude patterns left out (a directory
	// once, not what it holds); Pruned lists the mount points of pseudo
	// file systems not entered (PrunedFS). Left counts the recorded files
	// under them that left the view (FileDeleted with a reason, also
	// counted in Counts.Deleted).
	Excluded int64
	Pruned   []Pruned
	Left     int64
	Complete bool
	Duration time.Duration
}

// Rot is a file whose content changed while its size, times and inode did
// not: bit rot, or a write that bypassed the file system.
type Rot struct {
	Path     string `json:"path"`
	Recorded string `json:"recorded_sha256"` // recorded before: the good content's
	Read     string `json:"read_sha256"`     // read now
}

// ErrNotDirectory is returned by Scan when the root is not a directory.
var ErrNotDirectory = errors.New("not a directory")

// Scan walks root and publishes what changed since the machine's scan state:
// ScanStarted, then file events, then ScanCompleted. It returns the counts
// and an error only for what stops the scan (root missing, the sink
// failing, ctx ending); unreadable paths are counted, not errors. When ctx
// ends the scan stops promptly, deletes nothing, and still records an
// incomplete ScanCompleted.
func (s *Scanner) Scan(ctx context.Context, root string) (Result, error) {
	start := time.Now()
	resolved, alias, err := realRoot(root)
	if err != nil {
		return Result{}, err
	}
	if alias != "" && s.Logger != nil {
		s.Logger.Info("scanning the real path of a root reached through a symbolic link", "root", alias, "real", resolved)
	}
	if err := events.ValidateMachine(s.Machine); err != nil {
		return Result{}, err
	}
	match, err := newMatcher(resolved, s.Exclude)
	if err != nil {
		return Result{}, fmt.Errorf("scan %s: %w", resolved, err)
	}
	res, err := s.newWalk(ctx, resolved, alias, match).run(start)
	res.Duration = time.Since(start)
	return res, err
}

// realRoot returns the absolute real path of the directory root and, when
// root went through a symbolic link, root made absolute (the alias). The
// root alone may be a symbolic link, or lie under one (a symlinked home, or
// the working directory reached through one): the scan records the real
// path, so two roots that reach the same files index them once.
func realRoot(root string) (resolved, alias string, err error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", "", fmt.Errorf("scan %s: %w", root, err)
	}
	if resolved, err = filepath.EvalSymlinks(abs); err != nil {
		return "", "", fmt.Errorf("scan: %w", err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", "", fmt.Errorf("scan: %w", err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("scan %s: %w", resolved, ErrNotDirectory)
	}
	if abs != resolved {
		alias = abs
	}
	return resolved, alias, nil
}
