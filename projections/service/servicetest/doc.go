// Package servicetest builds real indexes for the tests of the query side:
// events published to an embedded JetStream server and folded by the real
// projector, never a mock. Fixture is a small index with every kind of case
// (duplicates across machines, hard links, moves, deletes, changes, archive
// members, names that are not UTF-8); Generate makes a large synthetic scan
// for benchmarks, and Build1M caches an index of a million files between
// benchmark runs.
package servicetest
