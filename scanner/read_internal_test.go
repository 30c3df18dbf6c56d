package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadAfterTheWalksStatGoesStale: readFile takes the walk's stat of a
// path for its first stat before reading. What took the path's place
// since is never hashed as the file the walk saw: another file is read
// again and recorded with its own stat; a FIFO is refused, without
// waiting for a writer.
func TestReadAfterTheWalksStatGoesStale(t *testing.T) {
	dir := t.TempDir()
	w := (&Scanner{}).newWalk(context.Background(), dir, "", nil)
	p := filepath.Join(dir, "f")

	if err := os.WriteFile(p, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	walked, err := statAt(unix.AT_FDCWD, p)
	if err != nil {
		t.Fatal(err)
	}
	// Replaced by another file (another inode, size and content).
	os.Remove(p)
	newer := []byte("the content that replaced it")
	if err := os.WriteFile(p, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	st, hashes, _, err := w.readFile(p, &walked, false)
	sum := sha256.Sum256(newer)
	if err != nil || hashes.SHA256 != hex.EncodeToString(sum[:]) || st.size != int64(len(newer)) || st.ino == walked.ino && st.dev == walked.dev && st.size == walked.size {
		t.Fatalf("replaced file: size %d, sha256 %s, %v; want size %d, sha256 %x", st.size, hashes.SHA256, err, len(newer), sum)
	}

	// Replaced by a FIFO with no writer.
	walked = st
	os.Remove(p)
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, hashes, _, err = w.readFile(p, &walked, false)
	if err == nil || !strings.Contains(err.Error(), "no longer a regular file") || hashes.SHA256 != "" {
		t.Fatalf("FIFO: sha256 %q, %v; want the error that it is no longer a regular file", hashes.SHA256, err)
	}
	// The same FIFO with a writer that writes nothing: its read fails
	// (EAGAIN), and the error says what the path now is.
	writer, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	_, hashes, _, err = w.readFile(p, &walked, false)
	if err == nil || !strings.Contains(err.Error(), "no longer a regular file") || hashes.SHA256 != "" {
		t.Fatalf("FIFO with a writer: sha256 %q, %v; want the error that it is no longer a regular file", hashes.SHA256, err)
	}
}
