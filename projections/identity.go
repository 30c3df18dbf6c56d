package projections

import (
	"fmt"

	"github.com/oklog/ulid/v2"
)

// fileEnt is the identity-mapped state of one path of a machine.
type fileEnt struct {
	key     string // fileKey
	dir     *dirEnt
	name    string
	mach    *machEnt
	exists  bool // after the events applied so far
	existed bool // in the file when loaded
	dirty   bool
	rec     fileRec
}

// dirEnt is the identity-mapped state of one directory, with its recursive
// counts.
type dirEnt struct {
	machine, path string
	rec           dirRec
	orig          dirRec
	isNew         bool
	parent        *dirEnt
}

// machEnt is the identity-mapped record of one machine.
type machEnt struct {
	name  string
	rec   machineRec
	dirty bool
}

// scanEnt is the identity-mapped record of one scan.
type scanEnt struct {
	rec   scanRec
	dirty bool
}

// machine returns the identity-mapped machine, creating it on first sight.
func (u *unit) machine(name string) *machEnt {
	if m := u.machMap[name]; m != nil {
		return m
	}
	m := &machEnt{name: name}
	if v := u.machines.Get([]byte(name)); v != nil {
		var err error
		m.rec, err = decodeMachineRec(v)
		u.loaded(bucketMachines, []byte(name), err)
	} else {
		m.rec.id = u.nextMID
		u.nextMID++
		m.dirty = true
	}
	u.machMap[name] = m
	return m
}

func (u *unit) scan(id ulid.ULID, machine string) *scanEnt {
	if id == (ulid.ULID{}) {
		return nil
	}
	if s := u.scanMap[id]; s != nil {
		return s
	}
	s := &scanEnt{}
	if v := u.scans.Get(id[:]); v != nil {
		var err error
		s.rec, err = decodeScanRec(v)
		u.loaded(bucketScans, id[:], err)
	} else {
		s.rec.machine = machine
	}
	u.scanMap[id] = s
	return s
}

// dir returns the identity-mapped directory, creating it (with a new id) when
// the model has none.
func (u *unit) dir(machine, path string) *dirEnt {
	k := string(dirKey(machine, path))
	if d := u.dirMap[k]; d != nil {
		return d
	}
	d := &dirEnt{machine: machine, path: path}
	if v := u.dirs.Get([]byte(k)); v != nil {
		var err error
		d.rec, err = decodeDirRec(v)
		u.loaded(bucketDirs, []byte(k), err)
		d.orig = d.rec
	} else {
		d.rec.id = u.nextDirID
		u.nextDirID++
		d.isNew = true
	}
	u.dirMap[k] = d
	return d
}

// bump adds the file of rec to d and every directory above it, or takes
// it away, in the counts of its kind: a file on disk, a link or an
// archive member (a directory counts nowhere). The sums saturate (see
// satAdd): a hostile size cannot wrap them.
func (u *unit) bump(d *dirEnt, add bool, rec *fileRec) {
	kind, size := rec.kind(), rec.size
	if kind == kindNone {
		return
	}
	for d != nil {
		n, b := &d.rec.files, &d.rec.bytes
		switch kind {
		case kindLink:
			n, b = &d.rec.links, nil
		case kindMember:
			n, b = &d.rec.members, &d.rec.memberBytes
		}
		if add {
			*n = satAdd(*n, 1)
			if b != nil {
				*b = satAdd(*b, size)
			}
		} else {
			*n = satSub(*n, 1)
			if b != nil {
				*b = satSub(*b, size)
			}
		}
		if d.parent == nil {
			parent, _, ok := parentDir(d.path)
			if !ok {
				return
			}
			d.parent = u.dir(d.machine, parent)
		}
		d = d.parent
	}
}

// file returns the identity-mapped file at path of machine m.
func (u *unit) file(m *machEnt, path string) *fileEnt {
	dpath, name := splitPath(path)
	d := u.dir(m.name, dpath)
	k := string(fileKey(d.rec.id, name))
	if f := u.fileMap[k]; f != nil {
		return f
	}
	f := &fileEnt{key: k, dir: d, name: name, mach: m}
	// A directory new to the index has an id never given out before (dirs
	// are never removed), so no file under it is in the files model: a
	// first scan's files cost no lookup.
	if !d.isNew {
		if v := u.files.Get([]byte(k)); v != nil {
			var err error
			f.rec, err = decodeFileRec(v)
			u.loaded(bucketFiles, []byte(k), err)
			f.exists, f.existed = true, true
		}
	}
	u.fileMap[k] = f
	if n := len(u.fileList); n > 0 && u.fileList[n-1].key > k {
		u.filesUnsorted = true
	}
	u.fileList = append(u.fileList, f)
	return f
}

// loaded records err, from decoding the stored value of key in bucket, as
// the batch's error (the first one wins): an entity loaded as a zero record
// in its place would overwrite what the index held. apply returns it after
// the event, so the batch rolls back and the projector stops on it.
func (u *unit) loaded(bucket, key []byte, err error) {
	if err != nil && u.corrupt == nil {
		u.corrupt = fmt.Errorf("read %s %q: %w", bucket, key, err)
	}
}
