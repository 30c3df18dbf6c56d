package scanner

import (
	"fmt"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// findVanishedDirs notes as gone the files of recorded directories that the
// walk did not find: their nearest listed ancestor was read completely and
// no longer holds them. Directories under a partial one are left alone.
func (w *walk) findVanishedDirs() {
	var lost []string
	err := w.state.Dirs(w.root, func(dir string) error {
		if w.visited[dir] {
			return nil
		}
		for a := dir; ; {
			if w.partial[a] {
				return nil // excluded, unreadable, another device: unknown, not gone
			}
			if w.visited[a] {
				lost = append(lost, dir)
				return nil
			}
			if a == w.root || a == "/" {
				return nil
			}
			a = filepath.Dir(a)
		}
	})
	if err != nil {
		w.logger.Warn("scan state", "err", err)
		return
	}
	w.dirsGone(lost)
}

// dirsGone marks gone every recorded path in dirs that did not move.
func (w *walk) dirsGone(dirs []string) {
	for _, dir := range dirs {
		prefix := dir + "/"
		w.state.Dir(dir, func(name string, _ *Entry) {
			if !w.moved[prefix+name] {
				w.gone[prefix+name] = true
			}
		})
	}
}

// aliasGone marks gone every recorded path under the root as given, when
// the scan went to its real path: an earlier scan recorded the files under
// the name it was given (before roots were resolved), and this scan has
// recorded them again under their real paths (a recorded path still there
// with the inode of a new one is taken as its hard link: not read again).
func (w *walk) aliasGone() {
	if w.alias == "" {
		return
	}
	var dirs []string
	if err := w.state.Dirs(w.alias, func(dir string) error { dirs = append(dirs, dir); return nil }); err != nil {
		w.logger.Warn("scan state", "err", err)
		return
	}
	w.dirsGone(dirs)
}

// emitDeletions records every gone path that did not move, in path order,
// unless the mass-delete guard holds them (massDelete).
func (w *walk) emitDeletions() *MassDelete {
	paths := make([]string, 0, len(w.gone))
	for p := range w.gone {
		if !w.moved[p] {
			paths = append(paths, p)
		}
	}
	if held := w.massDelete(int64(len(paths))); held != nil {
		w.logger.Info("deletions held", "root", w.root, "gone", held.Gone, "recorded", held.Recorded, "why", held.Reason)
		return held
	}
	sort.Strings(paths)
	for _, p := range paths {
		e, _ := w.state.Get(p)
		w.record(&events.FileDeleted{Path: events.Path(p), SHA256: e.Hashes.SHA256})
	}
	return nil
}

// The mass-delete guard: a scan deletes nothing, unless AllowMassDelete,
// when it would delete more than MassDeleteMin files and more than
// MassDeleteShare of the files recorded under the root, or any file once
// the root is on another file system than the one its recorded files were
// on. An unmounted disk's mount point is an empty directory of the file
// system below: without the guard, a scan of it records the whole disk
// deleted.
const (
	MassDeleteMin   = 100
	MassDeleteShare = 0.5
)

// MassDelete says why the guard held a scan's deletions.
type MassDelete struct {
	Gone     int64  // files the scan found gone, none of them deleted
	Recorded int64  // files recorded under the root before the scan
	Reason   string // which rule held them
}

// massDelete returns why gone deletions must be held, or nil.
func (w *walk) massDelete(gone int64) *MassDelete {
	if w.AllowMassDelete || gone == 0 {
		return nil
	}
	recorded := w.countRecorded(w.root)
	if w.alias != "" {
		recorded += w.countRecorded(w.alias)
	}
	held := &MassDelete{Gone: gone, Recorded: recorded}
	if st, err := statAt(unix.AT_FDCWD, w.root); err == nil && w.rootMoved(st.dev) {
		held.Reason = "the root is on another file system than its recorded files (an unmounted disk?)"
		return held
	}
	if gone > MassDeleteMin && float64(gone) > MassDeleteShare*float64(recorded) {
		held.Reason = fmt.Sprintf("more than %d files and more than %.0f%% of those recorded under the root", MassDeleteMin, 100*MassDeleteShare)
		return held
	}
	return nil
}

// countRecorded returns the number of files recorded at or under root.
func (w *walk) countRecorded(root string) int64 {
	var n int64
	w.state.Dirs(root, func(dir string) error {
		return w.state.Dir(dir, func(string, *Entry) { n++ })
	})
	return n
}

// rootMoved reports whether the files recorded directly in the root were
// all on another device than dev, the root's now: the root's file system
// changed since they were recorded.
func (w *walk) rootMoved(dev uint64) bool {
	some, same := false, false
	w.state.Dir(w.root, func(_ string, e *Entry) {
		some = true
		same = same || e.Device == dev
	})
	return some && !same
}
