package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/store"
)

// A damaged index (store.ErrCorrupt: truncated, pages overwritten, a fault
// reading it) is never repaired in place: everything in it comes from the
// log, so it is moved aside, kept for whoever wants to look at it, and
// built again.
//
//   - Open finds a file that fails store.DB's quick check, moves it aside
//     and starts an empty one, which Run or CatchUp then fills from the
//     log.
//   - A read (any query, through View) or a commit that meets damage while
//     Run follows the log ends the follow; Run moves the file aside, starts
//     an empty one and fills it from the log. Queries in the meantime answer
//     from the new index as far as it got (status shows the lag), never
//     from the damaged file. Skips recorded in the damaged file are lost
//     with it.

// CorruptPath returns the name a damaged index at path is moved to:
// path.corrupt-<UTC time>, named as OrphanPath names an index kept aside.
func CorruptPath(path string, now time.Time) string { return asidePath(path, "corrupt", now) }

// asidePath names a file kept beside the index at path: path.why-<UTC time>.
func asidePath(path, why string, t time.Time) string {
	return path + "." + why + "-" + t.UTC().Format("20060102T150405Z")
}

// moveAside renames the damaged file at path out of the way and logs it.
func moveAside(path string, cause error, logger *slog.Logger) error {
	dst := CorruptPath(path, time.Now())
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("move the corrupt index aside: %w (it was: %v)", err, cause)
	}
	syncDir(filepath.Dir(path))
	logger.Error("index is corrupt: moved aside, rebuilding it from the log", "index", path, "moved_to", dst, "err", cause)
	return nil
}

// openOrMoveAside opens db; a file that is corrupt is moved aside and a
// new one opened in its place.
func openOrMoveAside(db *store.DB, logger *slog.Logger) error {
	err := db.Open()
	if errors.Is(err, store.ErrCorrupt) {
		if err = moveAside(db.Path, err, logger); err == nil {
			err = db.Open()
		}
	}
	return err
}

// noteCorrupt is called with the error of every read of the live file: a
// damaged file ends the follow in progress (see watch), so Run rebuilds.
func (p *Projector) noteCorrupt(err error) {
	if err == nil || !errors.Is(err, store.ErrCorrupt) {
		return
	}
	p.nmu.Lock()
	stop := p.stopFollow
	p.nmu.Unlock()
	if stop != nil {
		stop(err)
	}
}

// watch returns a context for one follow that a read meeting damage
// cancels with the damage as its cause, and a function that ends it.
func (p *Projector) watch(ctx context.Context) (context.Context, func()) {
	fctx, cancel := context.WithCancelCause(ctx)
	p.nmu.Lock()
	p.stopFollow = cancel
	p.nmu.Unlock()
	return fctx, func() {
		p.nmu.Lock()
		p.stopFollow = nil
		p.nmu.Unlock()
		cancel(nil)
	}
}

// damage returns the ErrCorrupt that ended a follow: its own, or the one a
// reader found (the cause of fctx).
func damage(fctx context.Context, err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return err
	}
	if cause := context.Cause(fctx); errors.Is(cause, store.ErrCorrupt) {
		return cause
	}
	return nil
}

// replaceCorrupt closes the damaged live file, moves it aside and starts a
// new one in its place, which Run then fills from the log. (Rebuild, which
// builds beside the live file, would read its checkpoint and skips from the
// damaged file first.)
func (p *Projector) replaceCorrupt(cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db != nil {
		p.db.Close()
		p.db = nil
	}
	if err := moveAside(p.Path, cause, p.logger()); err != nil {
		return err
	}
	db := &store.DB{Path: p.Path, SyncFreelist: true, DropPages: p.DropPages}
	if err := db.Open(); err != nil {
		return fmt.Errorf("open a new index in place of the corrupt one: %w", err)
	}
	p.db = db
	p.gen++
	p.advance(0, 0)
	return nil
}
