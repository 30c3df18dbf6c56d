package scanner

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// regular decides what to do with a regular file seen in the walk: a
// recorded file is read only when its metadata changed, its record lacks a
// digest the scan asks for, or with Verify; a new path may be a move or a
// hard link (newPath).
func (w *walk) regular(path string, st stat, prev *Entry) {
	if prev == nil {
		w.newPath(path, st)
		return
	}
	if unchanged(prev, st) && !w.Verify && prev.Digests&w.want == w.want {
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
// file). hashes are the digests to record: for the same content, the ones
// just computed and those the record had that this scan did not ask for.
func changeReason(p *Entry, st stat, read events.Hashes) (reason events.ChangeReason, hashes events.Hashes, changed bool) {
	switch {
	case p.Hashes.SHA256 == "" && unchanged(p, st):
		// Recorded without hashes (too large, or changing while read):
		// nothing to compare, so no rot to find.
		return events.ReasonHashes, read, true
	case read.SHA256 != p.Hashes.SHA256 && unchanged(p, st):
		return events.ReasonBitRot, read, true // only --verify reads an unchanged file
	case read.SHA256 != p.Hashes.SHA256:
		return events.ReasonContent, read, true
	}
	hashes = merge(read, p.Hashes)
	switch {
	case !unchanged(p, st) || p.Mode != uint32(st.fileMode()) || p.Target != "":
		return events.ReasonMetadata, hashes, true
	case hashes != p.Hashes:
		return events.ReasonHashes, hashes, true
	}
	return "", hashes, false
}
