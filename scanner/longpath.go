package scanner

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Paths longer than PATH_MAX (4096 bytes) exist on real disks (deep trees
// of long names), but open and statx refuse them with ENAMETOOLONG. The
// scanner names files by their whole path, so for those it goes to the
// parent directory one component at a time from / and opens or stats the
// name in it. The root has no symbolic links in it (Scan resolves them), so
// each step is opened without following one.

// openPath opens path as unix.Open does, also when it is too long.
func openPath(path string, flags int) (int, error) {
	fd, err := unix.Open(path, flags, 0)
	if err != unix.ENAMETOOLONG {
		return fd, err
	}
	dir, name := splitLong(path)
	dfd, err := openDirSteps(dir)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dfd)
	return unix.Openat(dfd, name, flags, 0)
}

// statPath lstats path as statAt(unix.AT_FDCWD, path) does, also when it
// is too long.
func statPath(path string) (stat, error) {
	st, err := statAt(unix.AT_FDCWD, path)
	if err != unix.ENAMETOOLONG {
		return st, err
	}
	dir, name := splitLong(path)
	dfd, err := openDirSteps(dir)
	if err != nil {
		return stat{}, err
	}
	defer unix.Close(dfd)
	return statAt(dfd, name)
}

func splitLong(path string) (dir, name string) {
	i := strings.LastIndexByte(path, '/')
	return path[:i+1], path[i+1:]
}

// openDirSteps opens the absolute directory path dir one component at a
// time.
func openDirSteps(dir string) (int, error) {
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(dir, "/") {
		if c == "" {
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}
