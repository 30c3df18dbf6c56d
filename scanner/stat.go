package scanner

import (
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/events"
)

// stat is what one statx call tells about a path.
type stat struct {
	mode     uint32 // st_mode: type and permission bits
	size     int64
	mtime    int64
	ctime    int64
	btime    int64
	ino, dev uint64
	nlink    uint64
	uid, gid uint32
	blocks   uint64 // 512-byte blocks allocated
}

const statxMask = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_NLINK | unix.STATX_UID | unix.STATX_GID |
	unix.STATX_MTIME | unix.STATX_CTIME | unix.STATX_INO | unix.STATX_SIZE | unix.STATX_BTIME | unix.STATX_BLOCKS

// statAt lstats name in the directory dirfd; name "" with dirfd of an open
// file fstats it.
func statAt(dirfd int, name string) (stat, error) {
	var x unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_SYNC_AS_STAT
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	for {
		err := unix.Statx(dirfd, name, flags, statxMask, &x)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return stat{}, err
		}
		break
	}
	st := stat{
		mode: uint32(x.Mode), size: int64(x.Size),
		mtime: ts(x.Mtime), ctime: ts(x.Ctime),
		ino: x.Ino, dev: unix.Mkdev(x.Dev_major, x.Dev_minor),
		nlink: uint64(x.Nlink), uid: x.Uid, gid: x.Gid, blocks: x.Blocks,
	}
	if x.Mask&unix.STATX_BTIME != 0 {
		st.btime = ts(x.Btime)
	}
	return st, nil
}

func ts(t unix.StatxTimestamp) int64 { return t.Sec*1e9 + int64(t.Nsec) }

func (s stat) isDir() bool     { return s.mode&unix.S_IFMT == unix.S_IFDIR }
func (s stat) isRegular() bool { return s.mode&unix.S_IFMT == unix.S_IFREG }
func (s stat) isSymlink() bool { return s.mode&unix.S_IFMT == unix.S_IFLNK }

// dense reports whether the blocks allocated to the file hold at least its
// size: it has no holes, and its content is data on a file system, so a
// read needs no search for holes (hashDense). A sparse file, one whose file
// system compresses it or keeps it in its inode, an empty file and a file of
// a pseudo file system (no blocks, a size that need not be its content's)
// are not dense.
func (s stat) dense() bool {
	return s.size > 0 && s.blocks > 0 && s.blocks*512 >= uint64(s.size)
}

// fileMode converts st_mode to io/fs bits, as the os package does.
func (s stat) fileMode() fs.FileMode {
	m := fs.FileMode(s.mode & 0o777)
	switch s.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if s.mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// file returns the event form of s for path.
func (s stat) file(path string) events.File {
	return events.File{
		Path: events.Path(path), Size: s.size, Mode: uint32(s.fileMode()),
		MTime: s.mtime, CTime: s.ctime, BTime: s.btime,
		Inode: s.ino, Device: s.dev, Nlink: s.nlink, UID: s.uid, GID: s.gid,
	}
}

// sameContentStat reports whether two stats of one open file show no change
// of content between them.
func sameContentStat(a, b stat) bool {
	return a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime && a.ino == b.ino && a.dev == b.dev
}

// unchanged reports whether the recorded entry still describes st: the
// rule that lets a rescan skip opening a file.
func unchanged(e *Entry, st stat) bool {
	return e.Size == st.size && e.MTime == st.mtime && e.CTime == st.ctime && e.Inode == st.ino && e.Device == st.dev
}
