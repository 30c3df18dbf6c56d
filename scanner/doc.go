// Package scanner turns a file tree into events: it walks, stats, compares
// with the machine's scan state, hashes what is new or changed, and emits
// ScanStarted, FileScanned, FileChanged, FileMoved, FileDeleted,
// FileUnreadable and ScanCompleted through a Sink. It imports neither NATS
// nor bbolt: cmd wires the Sink to the log (store.Appender) and the State to
// projections/scanstate.
//
// # What a scan decides
//
//   - A file whose size, mtime, ctime and inode match its recorded entry is
//     not opened, unless the record lacks a digest the scan asks for
//     (Entry.Digests): then it is read, and a FileChanged with ReasonHashes
//     records every digest. Unchanged files produce no event. A digest the
//     scan did not ask for is kept while the content is the same.
//   - A file larger than MaxFileSize is recorded without hashes, not read.
//   - A new path with the inode, size, mtime and birth time of a recorded
//     path that is gone is a FileMoved, and is not read. File systems reuse
//     a freed inode at once, so without the birth time (unknown to the file
//     system or the record) the file is read, and is a move only if its
//     content is the recorded one. A new path whose inode's recorded path
//     is still there is a new hard link, not read. Hard links are read once
//     per inode.
//   - A root reached through a symbolic link is scanned, and recorded, at
//     its real path.
//   - A recorded path is deleted only when its directory was listed
//     completely in this scan (or, for a directory that vanished, its
//     nearest listed ancestor was). Unreadable and other-device
//     directories delete nothing, and an interrupted scan deletes nothing.
//   - Directories below the root on a pseudo file system (PrunedFS: proc,
//     sysfs, devtmpfs, ...) are not entered unless PseudoFS
//     (Result.Pruned).
//   - What is recorded under a path an exclude pattern now matches, or
//     under a pruned file system, leaves the view when the scan is
//     complete: FileDeleted with the reason events.DeletedExcluded or
//     DeletedPruned (Result.Left). The mass-delete guard neither holds nor
//     counts these: the files are on disk.
//   - The mass-delete guard (MassDeleteMin): a scan that would delete more
//     than 100 files and more than half of a root's, or every file
//     recorded on a device on which it found no directory (an unmounted
//     disk), deletes nothing unless AllowMassDelete; Result.MassDelete
//     says why.
//   - With Verify every file is read; different content under unchanged
//     metadata is a FileChanged with ReasonBitRot.
//
// # Archives
//
// With Archives set, a regular file that is read (new or changed) and that
// archive.Detect recognizes is walked (package archive) in the same read
// that hashes it: the walk's reads of the file are teed into the file's
// hasher, and what the walk skipped or read out of order (a zip's central
// directory) is read to finish the hash. Each member is hashed as it is
// decompressed, with the same algorithms, and is a file of the index: the
// ordinary file events with the path ARCHIVE::inner and File.Archive set
// (see package events). The archive's own event carries its format, its
// number of members, and the error that stopped its walk early.
//
// Members are recorded in the scan state apart from files (State.Members,
// State.Member). Each member is compared with its record as the walk gives
// it (an archive of 100,000 members is never held in memory): FileScanned,
// FileChanged, or nothing; FileUnreadable for a member that failed
// (corrupt data, a bomb). When the walk is done, recorded members it did
// not give are FileDeleted, only if it went to the end. Encrypted members are FileScanned with their size and no hashes.
// An archive whose size, mtime, ctime and inode are unchanged is not
// opened, like any file. An archive that moves takes its members along as
// FileMoved events built from the scan state (not read); a new hard link
// of one gets them as FileScanned; a deleted archive a FileDeleted each.
// One event per member, not one for the whole archive that projections
// would expand: every read model then treats members as files with no
// second code path, and a member's history is its own.
//
// # Real disks
//
// Everything is statx'ed without following links; symbolic links are
// recorded with their target. FIFOs, sockets and devices are never opened.
// Files are opened O_NOFOLLOW|O_NONBLOCK and fstat'ed before and after
// reading: a file that changed meanwhile is read again, up to three times,
// then recorded with its metadata and no hashes, File.Unhashed "changing"
// (ErrChangedWhileReading, Result.Changing), and read again next scan. A
// dense file (its blocks hold its size, stat.dense) is read straight to its
// size, the archive check made on its first block: 5 system calls for a
// small file. Other files are searched for holes (SEEK_DATA, SEEK_HOLE):
// holes of sparse files are hashed as zeros without being read, at
// hashing speed: no digest
// of N zero bytes can be had without hashing them (Merkle-Damgard), so the
// hole loop checks the context and counts progress like a read. Names are bytes: nothing
// assumes UTF-8. Paths longer than PATH_MAX are opened one directory at a
// time (longpath.go).
//
// # Reading the source
//
//   - scanner.go: the API (Scanner, Sink, Progress, Result) and Scan, which
//     resolves the root.
//   - run.go: one scan from start to end (ScanStarted, the goroutines, the
//     deletions, ScanCompleted), and record, through which every file event
//     is counted and emitted.
//   - walk.go: listing directories and merging each listing with the
//     state's record of it; ignore.go: exclude patterns and .indexerignore.
//   - compare.go: a file against its recorded entry: read it or not, and
//     why it changed.
//   - moves.go: a new path that is a recorded file moved, or a hard link.
//   - read.go: reading and hashing (hash.go), once per inode, again when
//     the file changed while read.
//   - archives.go: an archive hashed and walked in one read, and its
//     members' events.
//   - deletions.go: what a complete scan records as gone.
//   - stat.go: statx and the unchanged rule; state.go: State and Entry.
//
// # Concurrency
//
// Directories are listed by several goroutines, files read by Workers
// more; one goroutine calls the Sink. State methods are called
// concurrently.
//
// # Caveats
//
//   - A member is hashed again whenever its archive changed, even when its
//     size, mtime and CRC32 are as recorded: the walk decompresses it anyway
//     (streamed formats), the archive is read whole for its own hash, and
//     a CRC32 (32 bits, easily matched) and a member's mtime (what the
//     archive says) are no proof of the same content.
//   - The hard links of an archive are each read (members are named after
//     the link's path).
//   - A name given twice in one archive (a tar appended to) is recorded as
//     first given. An archive that changes while its members are read
//     keeps the members of that read, with the archive's error saying so;
//     it is not walked again until it changes again.
//   - A new path that may be a move where birth times are unknown is read
//     for its hash alone, and read again for its members if it is not a
//     move.
//   - File event order within a scan is not significant (see package
//     events); ScanStarted is flushed before any file event and
//     ScanCompleted after all of them.
//   - Move detection trusts (device, inode, size, mtime, birth time): a
//     file created in a freed inode within the same clock tick as the file
//     that held it, with its size and mtime, would be taken for a move. The
//     freed file was recorded by an earlier scan, so it lived longer than
//     that.
package scanner
