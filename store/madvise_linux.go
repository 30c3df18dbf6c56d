package store

import "golang.org/x/sys/unix"

// madviseDontNeed drops n bytes of a memory map at addr from this
// process's resident pages. The address comes from bbolt (DB.Info) as a
// uintptr: the raw system call takes it as it is, where a []byte over it
// would need unsafe.
func madviseDontNeed(addr uintptr, n uint64) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(n), unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
