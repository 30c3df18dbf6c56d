package scanner

import (
	"path/filepath"
	"sort"

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

// emitDeletions records every gone path that did not move, in path order.
func (w *walk) emitDeletions() {
	paths := make([]string, 0, len(w.gone))
	for p := range w.gone {
		if !w.moved[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		e, _ := w.state.Get(p)
		w.record(&events.FileDeleted{Path: events.Path(p), SHA256: e.Hashes.SHA256})
	}
}
