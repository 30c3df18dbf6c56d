// Package simtree simulates the file tree of one machine for tests and
// benchmarks: it produces the events a scanner would publish for random
// changes (new files, copies, hard links, content and metadata changes,
// renames, moves across directories, deletions, unreadable paths) and keeps
// the truth, the files that exist, to check an index against.
package simtree
