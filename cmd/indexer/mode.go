package main

import (
	"io/fs"

	"github.com/indexer/indexer/projections/service"
)

// The index records a file's mode as Go's fs.FileMode bits (the log's
// format). What the CLI prints is what ls and stat(2) users know: the POSIX
// st_mode number and ls's text, written by package service for every front
// end (the HTTP API and the NATS service give the same).

// posixMode converts fs.FileMode bits to a POSIX st_mode.
func posixMode(m fs.FileMode) uint32 { return service.PosixMode(m) }

// modeText is ls -l's text of a mode: -rw-r--r--, lrwxrwxrwx, drwxr-sr-t.
func modeText(m fs.FileMode) string { return service.ModeText(m) }

// isLink reports whether a recorded mode is a symbolic link's.
func isLink(mode uint32) bool { return fs.FileMode(mode)&fs.ModeSymlink != 0 }

// posixJSON rewrites a JSON value for printing: every file object in it (one
// with "mode" and "inode") gets its mode as a POSIX st_mode number and
// "mode_text" as ls prints it. Key order is kept.
func posixJSON(b []byte) ([]byte, error) { return service.PosixJSON(b) }
