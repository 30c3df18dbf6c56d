package scanner

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// PrunedFS lists the file system types a scan does not enter unless
// Scanner.PseudoFS is set: the kernel's views of itself (processes,
// devices, control groups, tracing), whose "files" are generated on read,
// change while read, or block. The list follows updatedb's PRUNEFS, less
// what holds real files here:
//
//   - tmpfs is walked: it is /tmp on many systems, and /dev/shm and /run
//     hold files people and programs put there (/dev/shm is under /dev,
//     devtmpfs, pruned anyway). Exclude /run or /tmp for less.
//   - autofs is walked: it is the mount point of a disk or share mounted
//     on demand (systemd's x-systemd.automount), whose files are real;
//     entering it mounts it.
//   - network and FUSE file systems (nfs, cifs, sshfs) are walked: a NAS
//     is what an index of duplicates is for.
//
// A root given on the command line is always walked, whatever its type
// (the user named it); the types apply to the directories below it on
// another file system than the root's.
var PrunedFS = []string{
	"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs",
	"securityfs", "pstore", "bpf", "fusectl", "mqueue", "hugetlbfs", "configfs",
	"binfmt_misc", "selinuxfs", "smackfs", "efivarfs", "nsfs", "rpc_pipefs",
}

// fsMagic names the pruned types by their statfs f_type, for a file system
// /proc/self/mountinfo does not list (mounted after the scan read it, or no
// /proc). devtmpfs has tmpfs's number: only mountinfo tells it apart.
var fsMagic = map[int64]string{
	unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.DEVPTS_SUPER_MAGIC: "devpts",
	unix.CGROUP_SUPER_MAGIC: "cgroup", unix.CGROUP2_SUPER_MAGIC: "cgroup2", unix.DEBUGFS_MAGIC: "debugfs",
	unix.TRACEFS_MAGIC: "tracefs", unix.SECURITYFS_MAGIC: "securityfs", unix.PSTOREFS_MAGIC: "pstore",
	unix.BPF_FS_MAGIC: "bpf", 0x65735543: "fusectl", 0x19800202: "mqueue", unix.HUGETLBFS_MAGIC: "hugetlbfs",
	0x62656570: "configfs", unix.BINFMTFS_MAGIC: "binfmt_misc", unix.SELINUX_MAGIC: "selinuxfs",
	unix.SMACK_MAGIC: "smackfs", unix.EFIVARFS_MAGIC: "efivarfs", unix.NSFS_MAGIC: "nsfs", 0x67596969: "rpc_pipefs",
}

// Pruned is a directory the scan did not enter because it is the mount
// point of a pseudo file system (PrunedFS).
type Pruned struct {
	Path string `json:"path"`
	Type string `json:"type"` // the file system type, as mountinfo names it
}

// prunedType returns the type of the file system of the directory path on
// device dev when the scan prunes it, or "".
func (w *walk) prunedType(path string, dev uint64) string {
	if w.PseudoFS || dev == w.rootDev {
		return ""
	}
	return w.pruner.Type(path, dev)
}

// Pruner tells which file systems are pruned (PrunedFS), one lookup per
// device. The zero value is ready; it is safe for concurrent use.
type Pruner struct {
	mu     sync.Mutex
	types  map[uint64]string // by device: the pruned type, or ""
	mounts map[uint64]string // every mounted file system's type, read once
}

// Type returns the type of the file system on device dev, which holds
// path, when it is one of PrunedFS, or "".
func (p *Pruner) Type(path string, dev uint64) string {
	p.mu.Lock()
	t, ok := p.types[dev]
	if !ok && p.mounts == nil {
		p.mounts = mountTypes()
	}
	mt, inMounts := p.mounts[dev]
	p.mu.Unlock()
	if ok {
		return t
	}
	if inMounts {
		t = mt
	} else {
		var fs unix.Statfs_t
		if err := unix.Statfs(path, &fs); err == nil {
			t = fsMagic[int64(fs.Type)]
		}
	}
	if !slices.Contains(PrunedFS, t) {
		t = ""
	}
	p.mu.Lock()
	if p.types == nil {
		p.types = map[uint64]string{}
	}
	p.types[dev] = t
	p.mu.Unlock()
	return t
}

// TypeOf is Type for the directory path, and its device; "" when path
// cannot be stat'ed.
func (p *Pruner) TypeOf(path string) (string, uint64) {
	st, err := statAt(unix.AT_FDCWD, path)
	if err != nil {
		return "", 0
	}
	return p.Type(path, st.dev), st.dev
}

// mountTypes reads the type of each mounted file system by device from
// /proc/self/mountinfo; an empty map where it cannot be read.
func mountTypes() map[uint64]string {
	out := map[uint64]string{}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		maj, mnr, ok := strings.Cut(fields[2], ":")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(maj, 10, 32)
		b, err2 := strconv.ParseUint(mnr, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				out[unix.Mkdev(uint32(a), uint32(b))] = fields[i+1]
				break
			}
		}
	}
	return out
}
