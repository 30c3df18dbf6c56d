package scanner

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

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
		var known []namedEntry
		w.state.Dir(dir, func(name string, e *Entry) {
			known = append(known, namedEntry{name, *e})
			if !w.moved[prefix+name] {
				w.gone[prefix+name] = e.Device
			}
		})
		devs := countDevices(known)
		w.mu.Lock()
		w.countRecorded(devs)
		w.mu.Unlock()
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
// but those the mass-delete guard holds (massDelete), and returns why it
// held them.
func (w *walk) emitDeletions() *MassDelete {
	paths := make([]string, 0, len(w.gone))
	for p := range w.gone {
		if !w.moved[p] {
			paths = append(paths, p)
		}
	}
	paths, held := w.massDelete(paths)
	if held != nil {
		w.logger.Info("deletions held", "root", w.root, "gone", held.Gone, "recorded", held.Recorded, "why", held.Reason)
	}
	sort.Strings(paths)
	for _, p := range paths {
		e, _ := w.state.Get(p)
		w.record(&events.FileDeleted{Path: events.Path(p), SHA256: e.Hashes.SHA256})
		w.deleteMembers(p) // an archive takes its members with it
	}
	return held
}

// emitLeaving records as leaving the view, in path order, what is recorded
// under the directories the scan left out (excluded, or pruned file
// systems) and the excluded files: a FileDeleted with the reason, and the
// members of an archive with it. They are still on disk, so the
// mass-delete guard, which weighs what a scan finds missing, neither holds
// nor counts them; an interrupted scan records none.
func (w *walk) emitLeaving() {
	reasons := map[string]string{}
	for p := range w.leaving {
		reasons[p] = events.DeletedExcluded
	}
	for dir, reason := range w.leavingDirs {
		var dirs []string // listed after Dirs returns: no read inside another
		if err := w.state.Dirs(dir, func(d string) error { dirs = append(dirs, d); return nil }); err != nil {
			w.logger.Warn("scan state", "dir", dir, "err", err)
		}
		for _, d := range dirs {
			if err := w.state.Dir(d, func(name string, _ *Entry) { reasons[d+"/"+name] = reason }); err != nil {
				w.logger.Warn("scan state", "dir", d, "err", err)
			}
		}
	}
	paths := make([]string, 0, len(reasons))
	for p := range reasons {
		if !w.moved[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		e, _ := w.state.Get(p)
		w.record(&events.FileDeleted{Path: events.Path(p), SHA256: e.Hashes.SHA256, Reason: reasons[p]})
		w.membersLeave(p, reasons[p])
	}
	w.left = int64(len(paths))
	if len(paths) > 0 {
		w.logger.Info("recorded paths left out now leave the view", "root", w.root, "files", len(paths))
	}
}

// The mass-delete guard: a scan deletes nothing, unless AllowMassDelete,
// when it would delete more than MassDeleteMin files and more than
// MassDeleteShare of the files recorded under the root, or every file
// recorded on a device (file system) on which it found no directory. An
// unmounted disk's mount point is an empty directory of the file system
// below: without the guard, a scan of it records the whole disk deleted.
const (
	MassDeleteMin   = 100
	MassDeleteShare = 0.5
)

// MassDelete says why the guard held a scan's deletions.
type MassDelete struct {
	Gone     int64  // files the scan found gone and did not delete
	Recorded int64  // files recorded in the directories the scan listed or found vanished
	Reason   string // which rule held them
}

// massDelete returns the gone paths to delete and, when the guard holds
// some or all of them, why. The share rule holds them all; the device rule
// only the files of the devices it finds gone.
func (w *walk) massDelete(paths []string) ([]string, *MassDelete) {
	if w.AllowMassDelete || len(paths) == 0 {
		return paths, nil
	}
	if gone := int64(len(paths)); gone > MassDeleteMin && float64(gone) > MassDeleteShare*float64(w.recorded) {
		return nil, &MassDelete{Gone: gone, Recorded: w.recorded,
			Reason: fmt.Sprintf("more than %d files and more than %.0f%% of those recorded under the root", MassDeleteMin, 100*MassDeleteShare)}
	}
	goneDev := map[uint64]int64{}
	for _, p := range paths {
		goneDev[w.gone[p]]++
	}
	var vanished []string
	for dev, n := range goneDev {
		if n == w.recDev[dev] && !w.seenDev[dev] {
			vanished = append(vanished, fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)))
		} else {
			delete(goneDev, dev)
		}
	}
	if len(vanished) == 0 {
		return paths, nil
	}
	sort.Strings(vanished)
	keep := paths[:0]
	for _, p := range paths {
		if _, held := goneDev[w.gone[p]]; !held {
			keep = append(keep, p)
		}
	}
	return keep, &MassDelete{Gone: int64(len(paths) - len(keep)), Recorded: w.recorded,
		Reason: fmt.Sprintf("every file recorded on device %s is gone, and the scan found no directory on it (an unmounted disk?)", strings.Join(vanished, ", "))}
}

// devCount is how many recorded files of a directory are on a device.
type devCount struct {
	dev uint64
	n   int64
}

// countDevices counts the recorded files of one directory by device: one
// run, almost always.
func countDevices(known []namedEntry) []devCount {
	var out []devCount
	for _, k := range known {
		if len(out) == 0 || out[len(out)-1].dev != k.e.Device {
			out = append(out, devCount{dev: k.e.Device})
		}
		out[len(out)-1].n++
	}
	return out
}

// countRecorded adds the recorded files of one directory (countDevices) to
// the guard's counts. w.mu must be held.
func (w *walk) countRecorded(devs []devCount) {
	for _, d := range devs {
		w.recorded += d.n
		w.recDev[d.dev] += d.n
	}
}
