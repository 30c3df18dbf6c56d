// Package events is the vocabulary of the indexer: the immutable facts a scan
// appends to the log, their JSON codec, their schema versions and the subjects
// they are published on.
//
// It imports only the standard library and ulid, so every other package can
// depend on it and it depends on none of them.
//
// # Events
//
// Every event is an Event: a Header (schema version, ULID id, type, machine,
// scan id, time) and one payload, a pointer to one of ScanStarted,
// FileScanned, FileChanged, FileMoved, FileDeleted, FileUnreadable,
// ScanCompleted or FilesForgotten (the operator's, not a scan's: a machine's
// files, or those under a root, leave the current view). Events are
// past-tense facts; nothing ever changes one after it is appended. Unchanged
// files produce no event at all.
//
// # The codec
//
// Encode writes one JSON object a person can read in `nats stream view`:
//
//	{"v":1,"type":"FileScanned","id":"01J...","machine":"nas1","scan":"01J...",
//	 "time":"2026-11-22T02:49:50.123Z","data":{"path":"/srv/a.txt","size":3,...}}
//
// A Path is the exact bytes of a name. Go's encoding/json would replace bytes
// that are not UTF-8 with U+FFFD and lose the name, so a Path that is not
// valid UTF-8 is written as {"b64":"<standard base64 of the bytes>","text":"<lossy
// text for people>"}; Decode uses only "b64". Valid names, including ones with
// newlines, quotes or control characters, are ordinary JSON strings.
//
// Decode never panics: malformed input, an unknown type, or a payload that
// does not match its type returns an error wrapping ErrMalformed. An event
// whose schema version is newer than SchemaVersion returns ErrNewerSchema, so a
// projector stops rather than guessing. Older versions pass through upcast,
// which rewrites their payload to the current shape before decoding.
//
// # Archive members
//
// A file inside an archive is a file: the same FileScanned, FileChanged,
// FileMoved, FileDeleted and FileUnreadable on the same subjects, with the
// path ARCHIVE::inner (ARCHIVE::inner.zip::photo.jpg when nested) and a
// File.Archive field that says what that string means (the archive's path
// and the raw member name per level), since "::" can occur in real names:
//
//	"path":"/srv/a.zip::2019/cat.jpg", ..., "hashes":{...},
//	"archive":{"path":"/srv/a.zip","member":["2019/cat.jpg"],"format":"zip",
//	           "encoding":"utf-8","crc32":"1a2b3c4d","packed":12345}
//
// A member's inode, device, ctime and owner are zero. The archive file
// itself keeps its own event, with "archive":{"format":"zip","members":N}
// and an "error" when the walk stopped early. An event without the field
// is a plain file, as every event written before archives were read.
//
// # Subjects
//
// An event of machine m is published on idx.<m>.<kind>, for example
// idx.nas1.file.changed (see Subject). Subjects are few and readable: never one
// per file, since the server keeps state per subject. Machine names must be
// valid subject tokens (ValidateMachine).
//
// # Caveats
//
// Event order within one scan is not significant: the scanner publishes at
// most one file event per path per scan, ScanStarted is acknowledged before any
// file event and ScanCompleted is published only after every file event is.
// Consumers must apply events in log (sequence) order, which is the only order
// that is the same for everyone.
package events
