// Package servicetest builds real indexes for the tests of the query side:
// events published to an embedded JetStream server and folded by the real
// projector, never a mock. Fixture is a small index with every kind of case
// (duplicates across machines, hard links, moves, deletes, changes, archive
// members, names that are not UTF-8); Generate makes a large synthetic scan
// for benchmarks, and Build1M caches an index of a million files between
// benchmark runs. FindQuestions and DupesQuestions are the questions every
// query path (the index in process, the NATS service, HTTP) must answer
// alike, over Fixture and UnknownInodes.
package servicetest
