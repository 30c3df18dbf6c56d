package scanner

import "github.com/indexer/indexer/events"

// newPath decides a regular file at a path the state has no record of. The
// same inode, size and mtime as a recorded path that is gone is a move, and
// one whose recorded path is still there a new hard link; neither is read
// again. A file system reuses a deleted file's inode at once, so a move
// also needs the same birth time: a new file in a reused inode (one
// restored with its old mtime) has a new one. Where either birth time is
// unknown, the file is read, and it is a move only if its content is the
// recorded one (readMove). Anything else is read as a new file.
func (w *walk) newPath(path string, st stat) {
	if w.noRecords {
		w.queue(fileJob{path: path, st: st})
		return
	}
	from, e, ok := w.state.Inode(st.dev, st.ino)
	if !ok || from == path || e.Size != st.size || e.MTime != st.mtime || e.Target != "" || w.Verify {
		w.queue(fileJob{path: path, st: st})
		return
	}
	if now, err := statPath(from); err != nil || now.ino != st.ino || now.dev != st.dev {
		switch {
		case e.BTime == 0 || st.btime == 0:
			w.queue(fileJob{path: path, st: st, movedFrom: from, movedRec: &e})
			return
		case e.BTime != st.btime:
			w.queue(fileJob{path: path, st: st}) // a reused inode: a new file
			return
		}
		if w.claimMove(from) {
			f := st.file(path)
			f.Hashes = e.Hashes
			w.record(&events.FileMoved{From: events.Path(from), File: f})
			w.carryMembers(from, path, true)
			return
		}
	}
	// A hard link of a recorded path, or a move another path claimed.
	f := st.file(path)
	f.Hashes = e.Hashes
	w.record(&events.FileScanned{File: f})
	w.carryMembers(from, path, false)
}

// readMove reports whether the file j, just read as f (st), is the move
// newPath could not decide: still the inode the walk saw, with the recorded
// content of the gone path, which no other path claimed first. It records
// the FileMoved.
func (w *walk) readMove(j fileJob, st stat, f events.File) bool {
	if j.movedFrom == "" || st.ino != j.st.ino || st.dev != j.st.dev ||
		f.Hashes.SHA256 != j.movedRec.Hashes.SHA256 || !w.claimMove(j.movedFrom) {
		return false
	}
	f.Hashes = merge(f.Hashes, j.movedRec.Hashes) // the same content: keep the digests not asked for
	w.record(&events.FileMoved{From: events.Path(j.movedFrom), File: f})
	return true
}

// claimMove records that the recorded path from moved in this scan, so it
// is not deleted; false if another new path claimed it first.
func (w *walk) claimMove(from string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.moved[from] {
		return false
	}
	w.moved[from] = true
	delete(w.gone, from)
	return true
}
