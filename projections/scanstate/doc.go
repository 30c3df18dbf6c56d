// Package scanstate is the scanner's memory of one machine: for each path,
// the size, times, inode and hashes its events last recorded
// (scanner.State). It is a projection of the machine's own events
// (idx.<machine>.>) in a small bbolt file of the data directory,
// scanstate-<machine>.db.
//
// A scan first catches the state up from the log (CatchUp), then feeds it
// the events the log acknowledges as it publishes them (Writer), so the next
// scan need not read its own events back.
//
// # Caveats
//
//   - The file is written without fsync: after a power loss it may be
//     damaged or stale. Open starts a damaged file anew and CatchUp rebuilds
//     from the log when the stream was recreated or is shorter than the
//     state; the cost is a full re-read, never a wrong answer.
//   - Writer.Commit trusts the scan lease: it assumes no other writer
//     published events of this machine during the scan.
package scanstate
