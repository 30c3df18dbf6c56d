package scanner

import (
	"context"
	"os"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// walkTree lists directories with n goroutines, depth first, until the tree
// is done or the context ends.
func (w *walk) walkTree(n int) {
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		stack   = []string{w.root}
		pending = 1 // directories queued or being listed
	)
	stop := context.AfterFunc(w.ctx, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	defer stop()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(stack) == 0 && pending > 0 && w.ctx.Err() == nil {
					cond.Wait()
				}
				if len(stack) == 0 || w.ctx.Err() != nil {
					mu.Unlock()
					return
				}
				dir := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				mu.Unlock()

				subdirs := w.listDir(dir)

				mu.Lock()
				stack = append(stack, subdirs...)
				pending += len(subdirs) - 1
				if pending == 0 || len(subdirs) > 0 {
					cond.Broadcast()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// listDir reads one directory: compares its files with the scan state,
// queues what must be read, notes what is gone, and returns the
// subdirectories to enter.
func (w *walk) listDir(dir string) []string {
	if w.ctx.Err() != nil {
		return nil
	}
	fd, err := openPath(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		w.markPartial(dir)
		if err != unix.ENOENT {
			w.unreadable(dir, &os.PathError{Op: "open", Path: dir, Err: err}, true)
		}
		return nil
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	complete := err == nil
	if err != nil {
		w.markPartial(dir)
		w.unreadable(dir, err, true)
	}
	w.prog.Dirs.Add(1)
	w.mu.Lock()
	w.visited[dir] = true
	w.mu.Unlock()

	// The recorded files of dir in name order, merged below with the
	// listing sorted the same way (bytes), so no maps are needed.
	var known []namedEntry
	if err := w.state.Dir(dir, func(name string, e *Entry) { known = append(known, namedEntry{name, *e}) }); err != nil {
		w.logger.Warn("scan state", "dir", dir, "err", err)
		complete = false // without the state we cannot tell what is gone
		w.markPartial(dir)
	}
	sort.Strings(names) // stable event order, and a depth-first walk in name order
	if dir != w.root {
		if _, ok := slices.BinarySearch(names, IgnoreFile); ok {
			w.readIgnore(fd, dir)
		}
	}
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	var gone []namedEntry // recorded files that are no longer files here
	var subdirs []string
	var seen int64
	k := 0
	for _, name := range names {
		if w.ctx.Err() != nil {
			return nil
		}
		for k < len(known) && known[k].name < name {
			gone = append(gone, known[k])
			k++
		}
		var prev *Entry
		if k < len(known) && known[k].name == name {
			prev = &known[k].e
			k++
		}
		sub, present, file := w.entry(fd, prefix+name, name, prev)
		if file {
			seen++
		}
		if sub != "" {
			subdirs = append(subdirs, sub)
		}
		if !present && prev != nil {
			gone = append(gone, namedEntry{name, *prev})
		}
	}
	for ; k < len(known); k++ {
		gone = append(gone, known[k])
	}
	// Counted once per directory: per file, eight walkers would contend.
	w.prog.Files.Add(seen)
	devs := countDevices(known)
	w.mu.Lock()
	w.counts.Seen += seen
	w.countRecorded(devs)
	if complete {
		for _, g := range gone {
			w.gone[prefix+g.name] = g.e.Device
		}
	}
	w.mu.Unlock()
	// Enter subdirectories in name order: the stack pops the last first.
	for i, j := 0, len(subdirs)-1; i < j; i, j = i+1, j-1 {
		subdirs[i], subdirs[j] = subdirs[j], subdirs[i]
	}
	return subdirs
}

// namedEntry is a recorded file of a directory.
type namedEntry struct {
	name string
	e    Entry
}

// entry handles one name of a directory listing: it returns the path of a
// subdirectory to enter, whether a file is still present there (a recorded
// file that is not is gone; something unreadable counts as present, so it
// is never deleted), and whether it is a file the scan counts as seen.
func (w *walk) entry(dirfd int, path, name string, prev *Entry) (subdir string, present, seen bool) {
	st, err := statAt(dirfd, name)
	if err != nil {
		if err == unix.ENOENT {
			return "", false, false // vanished while listing: as if never there
		}
		w.unreadable(path, &os.PathError{Op: "stat", Path: path, Err: err}, false)
		return "", true, false
	}
	rel := w.rel(path)
	switch {
	case st.isDir():
		if w.match.excluded(rel, true) {
			w.excludeDir(path, events.DeletedExcluded)
			return "", false, false
		}
		if w.OneFileSystem && st.dev != w.rootDev {
			w.markPartial(path)
			return "", false, false
		}
		if t := w.prunedType(path, st.dev); t != "" {
			w.mu.Lock()
			w.pruned = append(w.pruned, Pruned{Path: path, Type: t})
			w.mu.Unlock()
			w.excludeDir(path, events.DeletedPruned)
			return "", false, false
		}
		key := [2]uint64{st.dev, st.ino}
		w.mu.Lock()
		loop := w.dirInos[key]
		w.dirInos[key] = true
		w.seenDev[st.dev] = true
		w.mu.Unlock()
		if loop {
			w.markPartial(path) // a bind mount or similar loop: never entered twice
			return "", false, false
		}
		return path, false, false
	case st.isRegular(), st.isSymlink():
		if w.match.excluded(rel, false) {
			w.excludeFile(path, prev)
			return "", true, false
		}
		if st.isRegular() {
			w.regular(path, st, prev)
		} else {
			w.symlink(dirfd, path, name, st, prev)
		}
		return "", true, true
	}
	// FIFOs, sockets and devices are never opened and not indexed; a
	// recorded file replaced by one is gone.
	w.mu.Lock()
	w.skipped++
	w.mu.Unlock()
	return "", false, false
}

// excludeDir leaves out the directory path (excluded, or a pruned file
// system): it is not entered, nothing under it is found gone, and what is
// recorded under it leaves the view at the end of a complete scan
// (emitLeaving), with reason.
func (w *walk) excludeDir(path, reason string) {
	w.mu.Lock()
	w.partial[path] = true
	if reason == events.DeletedExcluded {
		w.excluded++
	}
	w.leavingDirs[path] = reason
	w.mu.Unlock()
}

// excludeFile leaves out a file an exclude pattern matches; its record,
// prev, if any, leaves the view at the end of a complete scan. It is
// neither gone nor counted as recorded by the mass-delete guard: the
// guard weighs what a scan finds missing, and this file is there.
func (w *walk) excludeFile(path string, prev *Entry) {
	w.mu.Lock()
	w.excluded++
	if prev != nil {
		w.leaving[path] = prev.Device
		w.recorded--
		w.recDev[prev.Device]--
	}
	w.mu.Unlock()
}

func (w *walk) markPartial(dir string) {
	w.mu.Lock()
	w.partial[dir] = true
	w.mu.Unlock()
}

// rel returns path relative to the root, "/" separated, as the ignore
// patterns see it.
func (w *walk) rel(path string) string {
	if w.root == "/" {
		return path[1:]
	}
	return path[len(w.root)+1:]
}

// readIgnore adds the patterns of dir's own IgnoreFile, for the paths
// below dir, before any of them is looked at. A pattern that does not parse
// is left out with a warning: it can only let more in, never lose a file.
func (w *walk) readIgnore(dirfd int, dir string) {
	path := dir + "/" + IgnoreFile
	f, err := openIgnore(dirfd, IgnoreFile, path)
	if err != nil {
		w.logger.Warn("ignore file not read", "err", err)
		return
	}
	defer f.Close()
	for _, err := range w.match.addFile(f, path, w.rel(dir)+"/") {
		w.logger.Warn("ignore file: line left out", "err", err)
	}
}
