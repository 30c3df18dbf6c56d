package events

import (
	"time"

	"github.com/oklog/ulid/v2"
)

// SchemaVersion is the version of the event shapes this package writes. Decode
// upcasts older versions and refuses newer ones with ErrNewerSchema.
const SchemaVersion = 1

// Type names an event kind. It is the "type" field of the JSON envelope.
type Type string

// The v1 event types.
const (
	TypeScanStarted    Type = "ScanStarted"
	TypeFileScanned    Type = "FileScanned"
	TypeFileChanged    Type = "FileChanged"
	TypeFileMoved      Type = "FileMoved"
	TypeFileDeleted    Type = "FileDeleted"
	TypeFileUnreadable Type = "FileUnreadable"
	TypeScanCompleted  Type = "ScanCompleted"
	TypeFilesForgotten Type = "FilesForgotten"
)

// Types lists every known type in a stable order.
var Types = []Type{
	TypeScanStarted, TypeFileScanned, TypeFileChanged, TypeFileMoved,
	TypeFileDeleted, TypeFileUnreadable, TypeScanCompleted, TypeFilesForgotten,
}

// Header is what every event carries besides its payload.
type Header struct {
	V       int       `json:"v"`
	Type    Type      `json:"type"`
	ID      ulid.ULID `json:"id"`
	Machine string    `json:"machine"`
	Scan    ulid.ULID `json:"scan"`
	Time    time.Time `json:"time"`
}

// Event is one fact: a header and exactly one payload.
type Event struct {
	Header
	// Data is one of *ScanStarted, *FileScanned, *FileChanged, *FileMoved,
	// *FileDeleted, *FileUnreadable, *ScanCompleted, *FilesForgotten,
	// matching Header.Type.
	Data Payload
}

// Payload is implemented by the pointer to every event payload type.
type Payload interface {
	EventType() Type
}

// New returns an event of the payload's type with a fresh ULID id, the
// current schema version and time t. The id is made once here and must be
// reused on every retried publish so the log stores the event once.
func New(machine string, scan ulid.ULID, t time.Time, data Payload) Event {
	return Event{
		Header: Header{
			V:       SchemaVersion,
			Type:    data.EventType(),
			ID:      ulid.MustNew(ulid.Timestamp(t), entropy),
			Machine: machine,
			Scan:    scan,
			Time:    t.UTC(),
		},
		Data: data,
	}
}

// NewID returns a new ULID for a scan or an event.
func NewID() ulid.ULID { return ulid.Make() }

var entropy = ulid.DefaultEntropy()

// Hashes are lowercase hex digests of a file's content. Only the algorithms
// the scan asked for are set.
type Hashes struct {
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	BLAKE3 string `json:"blake3,omitempty"`
}

// IsZero reports whether no digest is set.
func (h Hashes) IsZero() bool { return h == Hashes{} }

// File is the observed state of one path. Times are Unix nanoseconds; BTime
// (birth) is 0 where the file system does not record it. A symbolic link has
// Target set and no hashes: links are recorded, never followed.
type File struct {
	Path   Path   `json:"path"`
	Size   int64  `json:"size"`
	Mode   uint32 `json:"mode"` // io/fs.FileMode bits
	MTime  int64  `json:"mtime"`
	CTime  int64  `json:"ctime"`
	BTime  int64  `json:"btime,omitempty"`
	Inode  uint64 `json:"inode"`
	Device uint64 `json:"dev"`
	Nlink  uint64 `json:"nlink"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
	Target Path   `json:"target,omitempty"`
	Hashes Hashes `json:"hashes"`
	// Unhashed says why a regular file has no hashes: UnhashedChanging or
	// UnhashedTooLarge. Empty for a file with hashes, a link or a member.
	Unhashed string `json:"unhashed,omitempty"`
	// Archive is set on a member of an archive (Path is then the display
	// form ARCHIVE::inner) and, with only Format, Members and Error, on an
	// archive file itself. Nil for every other file: an event without it is
	// a plain file, as every event before archives were read is.
	Archive *Archive `json:"archive,omitempty"`
}

// The reasons a regular file is recorded without hashes (File.Unhashed).
const (
	// UnhashedChanging: the file changed on every attempt to read it (a
	// growing log); its metadata is the last seen.
	UnhashedChanging = "changing"
	// UnhashedTooLarge: the file is larger than the scan's maximum file
	// size and was not read.
	UnhashedTooLarge = "too-large"
)

// Archive says what a File's path means when it is inside an archive, or
// how reading an archive file went.
//
// On a member: Path is the archive file on disk, Member the raw name of
// the member at each nesting level (["inner.zip", "photo.jpg"] for
// ARCHIVE::inner.zip::photo.jpg), the identity the display path only
// shows, since "::" can occur in real names. Format is the format of the
// archive holding the member; Encoding how its name was decoded; CRC32
// (hex) and Packed what the archive records, where it does. An Encrypted
// member has its size and no hashes.
//
// On the archive file itself (Member empty): Format, the number of
// Members given, and Error when the walk stopped early (corrupt,
// truncated, a limit), with the members read before it kept.
type Archive struct {
	Path      Path   `json:"path,omitempty"`
	Member    []Path `json:"member,omitempty"`
	Format    string `json:"format"`
	Encoding  string `json:"encoding,omitempty"`
	CRC32     string `json:"crc32,omitempty"`
	Packed    int64  `json:"packed,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	Members   int64  `json:"members,omitempty"`
	Error     string `json:"error,omitempty"`
}

// IsMember reports whether f is a file inside an archive.
func (f *File) IsMember() bool { return f.Archive != nil && len(f.Archive.Member) > 0 }

// MemberSep separates an archive's path from a member's, and the levels of
// nested archives, in a member's display path (pyFileIndexer's form).
const MemberSep = "::"

// ScanOptions are the options a scan ran with, recorded so a reader of the
// log knows what its absence of events means.
type ScanOptions struct {
	Hashes        []string `json:"hashes"`
	Exclude       []string `json:"exclude,omitempty"`
	OneFileSystem bool     `json:"one_file_system,omitempty"`
	Verify        bool     `json:"verify,omitempty"`
}

// ScanStarted opens a scan of one root.
type ScanStarted struct {
	Root    Path        `json:"root"`
	Options ScanOptions `json:"options"`
}

// FileScanned is a path seen for the first time.
type FileScanned struct {
	File
}

// ChangeReason says why a FileChanged was recorded.
type ChangeReason string

// The reasons for a FileChanged.
const (
	// ReasonContent: size or mtime changed and so did the content.
	ReasonContent ChangeReason = "content"
	// ReasonMetadata: the content hash is the same; mode, owner, times or
	// inode changed.
	ReasonMetadata ChangeReason = "metadata"
	// ReasonBitRot: a --verify scan read different content while size and
	// mtime were unchanged.
	ReasonBitRot ChangeReason = "content-without-metadata"
	// ReasonHashes: the content hash is the same; the scan asked for a
	// digest the record lacked (an algorithm added to --hashes) and the
	// event carries every digest the file now has.
	ReasonHashes ChangeReason = "hashes"
)

// FileChanged is a known path whose content or metadata differs from what
// was last recorded.
type FileChanged struct {
	File
	PrevSHA256 string       `json:"prev_sha256,omitempty"`
	Reason     ChangeReason `json:"reason"`
}

// FileMoved is a new path that is the same inode, size and mtime as a path
// that is gone; its content was not read again. File is the state at To.
type FileMoved struct {
	From Path `json:"from"`
	File
}

// FileDeleted is a known path that is gone from a directory that was read
// completely.
//
// Reason is empty for a path that is gone from the disk; DeletedExcluded
// or DeletedPruned for one still there that the scan now leaves out: it
// leaves the current view as a deleted file does.
type FileDeleted struct {
	Path   Path   `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// The reasons of a FileDeleted of a path that is still on disk.
const (
	// DeletedExcluded: an exclude pattern or .indexerignore now matches
	// the path.
	DeletedExcluded = "excluded"
	// DeletedPruned: the path lies on a pseudo file system (proc, sysfs,
	// ...) that the scan prunes.
	DeletedPruned = "pruned"
)

// FileUnreadable is a path that could not be read. Dir is set when it was a
// directory, so nothing below it was seen.
type FileUnreadable struct {
	Path  Path   `json:"path"`
	Error string `json:"error"`
	Dir   bool   `json:"dir,omitempty"`
}

// ScanCounts are a scan's totals.
type ScanCounts struct {
	Seen       int64 `json:"seen"`
	Read       int64 `json:"read"`
	Added      int64 `json:"added"`
	Changed    int64 `json:"changed"`
	Moved      int64 `json:"moved"`
	Deleted    int64 `json:"deleted"`
	Unreadable int64 `json:"unreadable"`
	BytesRead  int64 `json:"bytes_read"` // from disk: a sparse file's holes are hashed, not read
}

// Add adds o's counts to c's.
func (c *ScanCounts) Add(o ScanCounts) {
	c.Seen += o.Seen
	c.Read += o.Read
	c.Added += o.Added
	c.Changed += o.Changed
	c.Moved += o.Moved
	c.Deleted += o.Deleted
	c.Unreadable += o.Unreadable
	c.BytesRead += o.BytesRead
}

// ScanCompleted closes a scan. Complete is false when the scan was
// interrupted; an incomplete scan deleted nothing.
type ScanCompleted struct {
	Root       Path       `json:"root"`
	Complete   bool       `json:"complete"`
	Counts     ScanCounts `json:"counts"`
	DurationNS int64      `json:"duration_ns"`
}

// FilesForgotten takes the files of the event's machine (Header.Machine)
// out of the current view: all of them, or those under Root. The log keeps
// every earlier event, so history and an index rebuilt as of a moment before
// it still show them; a later scan of the machine records what it finds
// there again as new. Only the log's owner (indexer-project forget) may
// publish it: a scanner's credential is denied its subject. Scan is zero.
type FilesForgotten struct {
	Root   Path   `json:"root,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (*ScanStarted) EventType() Type    { return TypeScanStarted }
func (*FileScanned) EventType() Type    { return TypeFileScanned }
func (*FileChanged) EventType() Type    { return TypeFileChanged }
func (*FileMoved) EventType() Type      { return TypeFileMoved }
func (*FileDeleted) EventType() Type    { return TypeFileDeleted }
func (*FileUnreadable) EventType() Type { return TypeFileUnreadable }
func (*ScanCompleted) EventType() Type  { return TypeScanCompleted }
func (*FilesForgotten) EventType() Type { return TypeFilesForgotten }

// newPayload returns a zero payload for t, or nil for an unknown type.
func newPayload(t Type) Payload {
	switch t {
	case TypeScanStarted:
		return new(ScanStarted)
	case TypeFileScanned:
		return new(FileScanned)
	case TypeFileChanged:
		return new(FileChanged)
	case TypeFileMoved:
		return new(FileMoved)
	case TypeFileDeleted:
		return new(FileDeleted)
	case TypeFileUnreadable:
		return new(FileUnreadable)
	case TypeScanCompleted:
		return new(ScanCompleted)
	case TypeFilesForgotten:
		return new(FilesForgotten)
	}
	return nil
}
