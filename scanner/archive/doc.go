// Package archive reads the members of archives so that they can be
// indexed like files: Walk detects the format of an open file by its
// signature and gives every member, in archive order, to a callback with
// its path, metadata and a reader of its decompressed bytes, which the
// callback hashes as it reads. Nothing is extracted to disk and no member
// is held in memory.
//
//	err := archive.WalkFile(ctx, "photos.zip", archive.Options{},
//		func(m *archive.Member, r io.Reader) error {
//			if r == nil { // a directory, a link, or m.Err says why not
//				return nil
//			}
//			sums, n, err := scanner.HashStream(scanner.DefaultHashes, r)
//			...
//		})
//
// # Formats
//
// All pure Go, each through its own format's reader:
//
//	zip (zip64 too)         klauspost/compress/zip; methods store, deflate,
//	                        bzip2, zstd and xz
//	tar                     archive/tar (ustar, GNU, PAX, V7)
//	tar.gz tar.bz2          klauspost/compress/gzip, compress/bzip2,
//	tar.xz tar.zst          mikelolasagasti/xz, klauspost/compress/zstd
//	gz bz2 xz zst           the same, holding one file: one member, named by
//	                        the gzip header or the archive's name without
//	                        its suffix
//	7z                      bodgit/sevenzip; LZMA, LZMA2, PPMd, BCJ/BCJ2,
//	                        deflate, bzip2, zstd, brotli, lz4
//	rar 1.5 to 5            nwaples/rardecode/v2, single volume
//
// Detection reads the signature (and, for a compressed stream, the first
// decompressed block, where a tar has "ustar" or a valid header checksum),
// never the file name.
//
// # Members
//
// A Member's Path holds the raw bytes of its name, one element per nesting
// level ("inner.zip", "photo.jpg" for outer.zip::inner.zip::photo.jpg);
// Name holds the same decoded for display, and Encoding says how the last
// level was decoded. Directories are given without their trailing slash.
// Size is what the archive declares (-1 for a single-file stream); Packed
// the compressed size where the format keeps one per member. A symbolic
// link has LinkTarget and no content.
//
// Zip names without the UTF-8 flag are decoded once per archive: from the
// Info-ZIP Unicode Path field when its CRC matches the stored name; else
// UTF-8 when every such name is valid UTF-8 (writers that forget the flag
// exist); else the CJK encoding chardet finds in all the names together,
// at confidence 0.8 or more (GBK, GB18030, Big5, Shift-JIS, EUC-JP,
// EUC-KR); else CP437, the specification's default. Options.ZipEncoding
// forces one, as unzip -O does. tar names are bytes (shown as UTF-8 where
// they are); 7z and RAR 5 names are Unicode by format.
//
// # Limits
//
// Per archive given to Walk, nested archives counted in (Limits; zero
// fields take the defaults):
//
//	Members       100,000 members
//	TotalBytes    max(4 GiB, 200 × archive size) decompressed
//	Ratio         1,000:1 past RatioMinSize (1 MiB): a bomb
//	Failures      50 members that fail to read
//	Spool         256 MiB: the largest nested archive copied to walk it
//	Depth         1 level of archives inside archives (Options.Depth)
//
// and fixed decoder caps, checked before anything is allocated: xz
// dictionaries 64 MiB, zstd windows 128 MiB, 7z LZMA/LZMA2/PPMd and rar
// dictionaries 128 MiB (an archive made with 7z -md=256m or WinRAR -md1g
// is refused with ErrDictionary rather than read with that much memory).
// A zip is also refused before any member is read when its declared sizes
// add up past TotalBytes or two entries share data (the overlapping-entry
// bomb), and its central directory is counted while it is read, so a
// crafted entry count costs nothing.
//
// The ratio is a member's own (zip, rar) or, where the format has no
// packed size per member, the archive's running total against the
// compressed bytes read (tar.*, single-file streams, 7z).
//
// # Errors
//
// Every failure is an *Error that wraps one kind (ErrCorrupt,
// ErrTruncated, ErrEncrypted, ErrUnsupported, ErrTooManyMembers,
// ErrTooLarge, ErrBomb, ErrDictionary, ErrTooManyFailures, ErrPanic) and
// the library's own error; Reason gives the text for an event. A member's
// failure reaches the callback, as Member.Err (encrypted, not openable;
// the reader is nil) or as its reader's error (corrupt data, a checksum,
// a bomb), and the walk goes on with the next member. An archive's
// failure — unreadable structure, truncation of a streamed archive, a
// spent budget, a panic — is Walk's error; the members given before it
// stay given. Walk never panics on its input: every archive is read under
// recover(), and a decoder that panics inside a member's Read returns
// ErrPanic from that Read. The callback's own errors and panics go
// through unchanged.
//
// Encrypted members (zip ZipCrypto and AES, 7z AES, rar) are given with
// their metadata, Encrypted set and no content; no password is asked for.
// A 7z or rar whose headers are encrypted fails as a whole with
// ErrEncrypted.
//
// # Streaming, order and memory
//
// tar, the compressed tars, single-file streams and rar are read once from
// start to end; zip and 7z through the io.ReaderAt. Members of a solid 7z
// block or a solid rar share one decompressed stream: they are given in
// order and what the callback leaves unread is read (and counted) before
// the next member, so each block is decoded once. Memory is the decoders'
// windows (capped above), a zip's central directory or a 7z's header
// (bounded by Members), and one buffer.
//
// A member that is itself an archive (by its first 512 bytes) is, while
// the callback reads it, copied to an unlinked temporary file in
// Options.TempDir (zip and 7z need random access), up to Spool bytes, and
// walked after the callback returns: its members come right after it,
// with one more level in Path. When walking into it fails, the member is
// given a second time with the same Path, Err set and Archive naming the
// format. A larger nested archive is an ordinary member.
//
// The context is checked before each member and on every read of the
// archive and of a member (reads are at most 256 KiB in the scanner), so
// canceling stops a walk within one read: Walk then returns the context's
// error.
//
// # Concurrency
//
// Walk calls the callback on its own goroutine; nothing runs in the
// background (zstd decodes with concurrency 1). Separate Walks may run
// concurrently.
//
// # Caveats
//
//   - Importing the package replaces, for the whole process, bodgit/sevenzip's
//     LZMA, LZMA2, PPMd and zstd decoders with capped ones
//     (sevenzip.RegisterDecompressor is global).
//   - rar is read by a format reader that cannot be checked here against
//     a rar writer (none is free software): the tests build stored RAR 4
//     and RAR 5 archives by hand, so rar's decompressors are only as
//     tested as rardecode itself. Multi-volume rar is ErrUnsupported.
//   - The fuzz target minimizes each new input for up to a minute by
//     default, with no progress shown: run it with -fuzzminimizetime 5s.
//   - A 7z member whose read failed makes the next member of the same
//     solid block decode the block again from its start: the Failures limit
//     bounds how often.
//   - Members are counted and their bytes added up across nesting levels,
//     so a nested archive's bytes count twice (as a member and as its
//     members). A .gz or .xz member of a tar is an archive too: at depth 1
//     its decompressed content is given as a member below it.
//   - A 7z member's recorded CRC of 0 is taken as "none recorded" and not
//     checked.
//   - Hashing a deflated zip member costs the inflate on top of the hash:
//     measured here (BenchmarkHashMembers, CPU time, 64 MiB, half noise
//     half text), a tar costs 1.03x the same files on disk, a tar.zst 1.3x,
//     a zip 2.8x.
//
// # How members travel in the log (proposal, not built yet)
//
// Members are files: the scanner emits the ordinary FileScanned,
// FileChanged, FileDeleted and FileUnreadable for them, on the same
// subjects as files, so that every read model, query, duplicate group and
// the UI treat them as files without a second code path. Their Path is
// the pyFileIndexer form ARCHIVE::inner (ARCHIVE::a.zip::b for nested
// members), and a structured field says what the string means, because
// "::" can occur in real names:
//
//	{"path":"/data/photos.zip::2019/cat.jpg", "size":..., "mtime":...,
//	 "mode":..., "hashes":{...},
//	 "archive":{"path":"/data/photos.zip", "member":["2019/cat.jpg"],
//	            "format":"zip", "encoding":"cp437", "crc32":"1a2b3c4d",
//	            "packed":12345}}
//
// (member elements are events.Path values, so raw bytes survive as
// {"b64":...}). Inode, device, ctime, uid and gid stay zero for a member;
// mtime is the member's, or the archive's when it records none. Why not
// one event per archive listing its members: an archive of 100,000
// members would be one event of megabytes (past JetStream's default
// 1 MiB message limit), a change to one member would rewrite all of
// them, and every projection would need a second path to explode it.
// Member events cost one message each, like files, and the scanner's
// batching already amortizes that.
//
// The outer archive keeps its own FileScanned (it is a file with hashes);
// its archive-level outcome rides on that event as "archive":{"format":
// "zip", "members":1234, "error":"truncated: ..."} so that an archive that
// failed half way is visible without a FileUnreadable for a path that was
// read. A member that fails is a FileUnreadable with path ARCHIVE::inner
// and the *Error's Reason; an encrypted member is a FileScanned with size
// and no hashes plus "archive":{..., "encrypted":true}, as the issue asks.
//
// Incremental rescans: the scanner opens an archive only when the outer
// file is new or changed by its usual test (size, mtime, ctime, inode); it
// then diffs the new member list against the members recorded under that
// archive in the scan state (keyed by archive path + member path, value
// size, mtime, CRC32 where recorded, sha256) and emits FileScanned for new
// members, FileChanged for changed ones (a member whose size, mtime and
// CRC32 match is not hashed again only when the format records a CRC, so
// zip, 7z and rar; tar members are re-hashed, being streamed anyway) and
// FileDeleted for the missing. A deleted archive deletes its members (the
// projection deletes every path with the ARCHIVE:: prefix when the
// archive's FileDeleted arrives, so the log carries one event, not one per
// member); a moved archive (FileMoved of the outer path) moves them the
// same way, without re-reading.
package archive
