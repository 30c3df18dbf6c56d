package scanner

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// regular decides what to do with a regular file seen in the walk: a
// recorded file is read only when its metadata changed (or with Verify); a
// new path may be a move or a hard link (newPath).
func (w *walk) regular(path string, st stat, prev *Entry) {
	if prev == nil {
		w.newPath(path, st)
		return
	}
	if unchanged(prev, st) && !w.Verify {
		return
	}
	e := *prev
	w.queue(fileJob{path: path, st: st, prev: &e})
}

// symlink records a symbolic link: it is never read, only its target
// compared.
func (w *walk) symlink(dirfd int, path, name string, st stat, prev *Entry) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		if err != unix.ENOENT {
			w.unreadable(path, &os.PathError{Op: "readlink", Path: path, Err: err}, false)
		}
		return
	}
	target := string(buf[:n])
	f := st.file(path)
	f.Target = events.Path(target)
	switch {
	case prev == nil:
		w.record(&events.FileScanned{File: f})
	case prev.Target != target:
		w.record(&events.FileChanged{File: f, Reason: events.ReasonContent})
	case !unchanged(prev, st):
		w.record(&events.FileChanged{File: f, Reason: events.ReasonMetadata})
	}
}

// changeReason compares a file just read with its recorded entry p: why it
// changed, or false if it is as recorded (a --verify read of an unchanged
// file).
func changeReason(p *Entry, st stat, hashes events.Hashes) (events.ChangeReason, bool) {
	switch {
	case hashes.SHA256 != p.Hashes.SHA256 && unchanged(p, st):
		return events.ReasonBitRot, true // only --verify reads an unchanged file
	case hashes.SHA256 != p.Hashes.SHA256:
		return events.ReasonContent, true
	case !unchanged(p, st) || p.Mode != uint32(st.fileMode()) || p.Target != "":
		return events.ReasonMetadata, true
	}
	return "", false
}
