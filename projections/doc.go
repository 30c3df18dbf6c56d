// Package projections folds the event log into the read models of an
// index.db and answers queries over them.
//
// # The projector
//
//	p := &projections.Projector{Log: log, Path: "DATA/index.db"}
//	p.Open(); defer p.Close()
//	go p.Run(ctx)                 // follows the log until ctx ends
//	p.WaitFor(ctx, seq)           // until every event up to seq is applied
//	p.Index().Lookup("nas1", "/srv/a.txt")
//
// Run reads from the checkpoint + 1 through an ordered consumer; worker
// goroutines decode events while the previous batch commits. A batch is up
// to BatchSize events, closed early when it reaches the end of the log (so
// commits group themselves under load and an idle log costs one small
// commit) or after BatchWait. While events keep trickling in at the end of
// the log, as a scan publishes them, commits come at most every CommitGap
// (50 ms): committing a few events at a time cost several times the CPU of
// projecting them, taken from the queries served beside. Each batch is one
// bbolt transaction, a unit of
// work: every entity it touches (file, directory, machine, scan, duplicate
// group, inode) is loaded once into an identity map, changed by each event
// in memory and written once, in key order, together with the checkpoint.
// A crash loses at most the batch in flight, which is read again. The
// projector keeps in memory the first 8 bytes of every file's sha256 with
// its file id (16 MB per million files, loaded from files on its first
// batch), so new content, most files, costs no B-tree lookup, and content
// held once is found without a by-hash key.
//
// Applying is deterministic and idempotent. A machine's events are applied
// in log order, so an event at or below its machine's last sequence is
// skipped: replaying the log twice changes nothing, and live projection and
// Build give the same Dump whatever the batch sizes.
//
// An event that does not decode or breaks an invariant (see validate.go: a
// path not absolute and clean, with a NUL byte, over 16 KiB, 1,024 levels
// or 1 MiB of directory keys; a digest that is not hex of the right
// length; a negative size or count; a time outside 1678-2262; a subject
// that does not match the event's machine and type; a ScanCompleted of a
// scan that never started) is recorded in the dead bucket with its
// sequence, subject and reason, and the projection goes on. Sums of sizes
// saturate at 2^64-1 rather than wrap. An event of a newer schema stops Run
// with an error wrapping events.ErrNewerSchema, after committing everything
// before it, its sequence in Status.StoppedAt: skipping it would lose what
// it says. Skip records the operator's decision to skip it anyway (kept
// across rebuilds of the same stream); it then becomes a dead letter saying
// so. See skip.go for the rule per case.
//
// Run compares the checkpoint with the stream before following, after
// every error of the log, every second while following, and before every
// commit (an ordered consumer follows a deleted and recreated stream
// without a word). An index of another ModelVersion, or one whose stream
// (the same incarnation: the same creation time) lost a tail stored within
// TailLossWindow of the checkpoint (JetStream's unsynced writes at a power
// loss), is rebuilt with a warning saying why. Any other difference (a
// stream deleted and created again, or created anew because jetstream/ was
// lost; an empty stream; one missing events the index has not applied; an
// older copy of the store) stops Run and CatchUp with ErrLogReplaced: the
// index is kept as it is, View refuses to read it, Status says why, and
// Rebuild refuses too. AcceptNewLog keeps the file as
// index.db.orphaned-TIME and builds a new index from the log. On a
// replicated stream such a verdict is asked again (staleLooks, staleWait)
// and trusted only from a leader that has heard a majority of its replicas
// (store.StreamInfo.Quorum): a paused node answers from its stale store,
// as the leader it still believes it is, until it hears the new one.
//
// # Rebuild and time travel
//
// Rebuild builds a new file beside the live one (index.db.rebuild) without
// fsync, in batches of RebuildBatchSize, syncs it once, catches up the last
// events while briefly holding off readers and Run, and renames it over
// index.db. A file left by an interrupted rebuild is resumed, unless the
// machine restarted since it was last synced (a power loss may have kept
// some of its pages and not others): it is built afresh. Build does the
// same into any file, up to UntilSeq or UntilTime (the log's time of storing)
// for an index as of a past moment. CatchUp applies what the log holds and
// returns.
//
// # Indexing beside the appender
//
// A scanner that runs alone indexes what it stores as it goes: its
// Appender hands each acknowledged event to a Tap, and FollowTap applies
// them in batches without reading them back from the server or decoding
// them again (on tree S that was half the index update's CPU, and the
// update no longer waits until the scan ends). The log stays the source of
// truth: the tap's events are taken in sequence order, what it lacks (other
// writers' events, events it let go while the projector was behind) is read
// from the log between them, and CatchUp afterwards applies anything else.
//
// Compact copies the live file, compacted (bbolt never shrinks a file),
// beside it (index.db.compact) from one read transaction, then swaps it in
// as Rebuild does.
//
// # Operations
//
// Projector.Observer is told of every batch Run commits (Batch: events by
// type, batch size, batch and commit time); package projections/metrics
// makes Prometheus metrics of them and of Status's State (running,
// catching_up, rebuilding, stopped), dead letters and the file's size. This
// package does not import Prometheus, so the indexer command, which reads
// the index, does not link it. Health judges a series of Status samples the
// way Burrow judges a Kafka consumer (no fixed lag threshold: a lag is fine
// while it comes down) and also flags a log whose head stands still while a
// scan holds its lease. Run logs one "projected" line per spell of batches
// at info level.
//
// # Read models
//
// One bbolt bucket each; integers in keys are big-endian so keys sort by
// them, those in values uvarints.
//
//	files     dirID(8) name -> meta: size, mode, times, inode, device, links,
//	          owner, link target, md5/sha1/sha256/blake3 in binary, file id,
//	          the seq that last set it (about 100 bytes); for an archive
//	          member its archive (the length of the archive's path, format,
//	          raw member names); the sha256 recorded before bit rot while
//	          the file holds what the verify read
//	fids      fileID(8) -> dirID, name; a file keeps its id when it moves
//	dirs      machine 0x00 dir/ -> dirID, recursive files and bytes on disk,
//	          then (when any is not 0) links, archive members and their bytes
//	dirids    dirID(8) -> machine 0x00 dir/
//	by-hash   sha256 uv(machineID) uv(device) uv(inode) uv(fileID) -> nothing;
//	          only for content that two or more files hold
//	dupes     sha256 -> files, distinct inodes, size; only for two or more files
//	groups    'w' wasted(8) sha256, 'c' count(8) sha256, 's' size(8) sha256
//	names     trigram(3) firstFileID(8) -> uvarint gaps of file ids, for ids
//	          below the split (meta names_split)
//	names-new the same for ids at or above it: the lists' tails, which every
//	          batch touches, kept together; appended to names every 65,536
//	          file ids
//	history   dirID(8) name 0x00 seq(8) -> event type (0x80: moved away);
//	          a move's arrival adds where from: uv(dirID), name
//	machines  machine -> ids, counts, first and last event, last scan
//	scans     scan ULID -> machine, root, state, counts, sequences
//	dead      seq(8) -> subject, reason
//	meta      checkpoint, stream identity, model version, id counters, totals
//
// A path is split at its last '/' into a directory (with the slash) and a
// name, so every byte string round-trips; a directory's key holds its full
// path, a file's only its directory's id and name, which keeps keys short
// and makes a directory's files one key range. Machine names cannot hold
// 0x00, and paths with it are refused, so 0x00 separators are unambiguous.
//
// by-hash is keyed by content, so its inserts land on random pages: were it
// to hold every file, each batch would rewrite most of its pages (at a
// million files that was 40% of the projection's time and 150 MB of its
// heap). It holds only the files of duplicate content, about a tenth; a
// content gains the keys of all its files when a second file holds it, and
// loses them all when only one is left.
//
// Duplicate waste counts distinct inodes: the by-hash keys of one content
// are grouped by (machine, device, inode), so hard links of one inode are one
// copy and waste nothing. An inode of 0 (unknown) counts as its own.
//
// The name index holds the trigrams of each base name folded to lower case
// (Unicode simple folding for valid UTF-8, other bytes as they are). A
// substring or glob query intersects the posting lists of its literal
// trigrams and checks each candidate; shorter patterns, regular expressions
// and whole-path matches read every name. The same lists hold, under
// pseudo-trigrams starting with 0x00, the files whose md5, sha1 or sha256
// begin with each 12-bit prefix: ByHash checks those candidates' full
// digests (for sha256, when by-hash has no key of it).
//
// # Caveats
//
//   - Only one Projector may write a file; another process cannot open it
//     while it runs (bbolt's lock). Query it through that process.
//   - FileScanned of a known path replaces its state, FileChanged of an
//     unknown path creates it, and FileMoved from an unknown path creates the
//     destination: the newest fact wins rather than becoming a dead letter.
//   - A duplicate group's size is the size of the last file added to it.
//     Files with equal sha256 and different sizes are not refused.
//   - File ids are never reused, and the name index holds ids below 2^39
//     (about 550 billion): an index that has given out that many stops
//     with an error rather than index a name wrongly.
//   - Directories are never removed from dirs and dirids (history keys refer
//     to their ids); Tree hides those holding no files.
//   - The scanner's directory entries (mode with fs.ModeDir) are kept in files
//     and history but count in no aggregate. A symbolic link counts as a
//     link, never a file, and adds no bytes (its size is its target's
//     length); its event's digests, if any, are dropped. An archive member
//     (an event with File.Archive naming one, whatever its path holds)
//     counts apart from files, so that the archive file, a file, and what
//     it holds are not counted twice; Stats.UniqueBytes covers both, as the
//     duplicate groups do.
//   - FilesForgotten removes a machine's files under a root from every
//     model at once (each with a history entry), in the batch that holds
//     it: forgetting a million files costs a batch of a million removals.
//   - History follows a file back across its moves through the arrival
//     entries, up to 1,000 moves, and stops at the end of an earlier life
//     of a path (a deletion, a move away, a forget).
//   - Path search (FindQuery.Path), regexps and patterns shorter than three
//     bytes read every file name: about a second per few million files.
//   - Find counts at most DefaultTotalLimit matches unless told otherwise
//     (FindQuery.TotalLimit); past that, FindResult.Total is a lower bound
//     and TotalCapped is set. The page is always exact.
//   - Until-time uses the log's time of storing, not the event's own time.
//   - Rebuild's swap needs the live file's directory writable and on the same
//     file system, as rename requires.
package projections
