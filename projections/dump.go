package projections

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/oklog/ulid/v2"

	"github.com/indexer/indexer/store"
)

// Dump writes every read model as text, one line per entry, in key order:
// a canonical form for golden tests and for comparing two indexes. Two
// indexes that answer every query alike dump alike, whatever batches built
// them. The stream's identity and build limit are left out, so an index
// rebuilt from another copy of the same events dumps the same.
func (ix *Index) Dump(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := ix.view(func(tx *store.Tx) error {
		r := newReader(tx)
		meta := tx.Bucket(bucketMeta)
		cp := tx.Checkpoint()
		fmt.Fprintf(bw, "== meta\ncheckpoint %d\nmodel_version %d\n", cp.Seq, cp.ModelVersion)
		for _, k := range [][]byte{keyNextFileID, keyNextDirID, keyNextMachineID} {
			fmt.Fprintf(bw, "%s %d\n", k, counter(meta.Get(k)))
		}
		t := decodeTotals(meta.Get(keyTotals))
		fmt.Fprintf(bw, "totals groups=%d wasted=%d redundant=%d\n", t.groups, t.wasted, t.redundant)
		for _, name := range modelBuckets {
			if string(name) == string(bucketNamesNew) {
				continue // printed with names
			}
			fmt.Fprintf(bw, "== %s\n", name)
			if string(name) == string(bucketNames) {
				if err := dumpNames(bw, namesOf(tx)); err != nil {
					return err
				}
				continue
			}
			c := tx.Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				line, err := dumpLine(r, name, k, v)
				if err != nil {
					return fmt.Errorf("dump %s %x: %w", name, k, err)
				}
				bw.WriteString(line)
				bw.WriteByte('\n')
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// dumpNames writes each trigram's whole posting list on one line: chunk
// boundaries depend on batching, the list does not.
func dumpNames(w *bufio.Writer, n nameIndex) error {
	// Every trigram of either part, in order; each list whole.
	var tris []trigram
	for _, b := range []*store.Bucket{n.main, n.recent} {
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != 11 {
				return errCorrupt
			}
			tris = append(tris, trigram(k[:3]))
		}
	}
	slices.SortFunc(tris, func(a, b trigram) int { return bytes.Compare(a[:], b[:]) })
	tris = slices.Compact(tris)
	for _, t := range tris {
		ids, err := postingList(n, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s", strconv.Quote(string(t[:])))
		for _, id := range ids {
			fmt.Fprintf(w, " %d", id)
		}
		w.WriteByte('\n')
	}
	return nil
}

func q(s string) string { return strconv.Quote(s) }

func dumpLine(r *reader, bucket, k, v []byte) (string, error) {
	switch string(bucket) {
	case string(bucketMachines):
		m, err := decodeMachineRec(v)
		return fmt.Sprintf("%s id=%d seq=%d..%d time=%d..%d events=%d scans=%d unreadable=%d last_scan=%s/%s/%d..%d",
			k, m.id, m.firstSeq, m.lastSeq, m.firstTime, m.lastTime, m.events, m.scans, m.unreadable,
			m.lastScan, scanStateNames[min(int(m.lastScanState), 3)], m.lastScanStart, m.lastScanEnd), err
	case string(bucketScans):
		s, err := decodeScanRec(v)
		return fmt.Sprintf("%s machine=%s root=%s hashes=%s start=%d@%d end=%d@%d state=%s counts=%+v duration=%d seen=%d/%d/%d/%d/%d last=%d",
			ulidString(k), s.machine, q(s.root), s.hashes, s.startSeq, s.startTime, s.endSeq, s.endTime,
			scanStateNames[min(int(s.state), 3)], s.counts, s.durationNS,
			s.scanned, s.changed, s.moved, s.deleted, s.unreadable, s.lastSeq), err
	case string(bucketDirs):
		m, d := splitDirKey(k)
		rec, err := decodeDirRec(v)
		line := fmt.Sprintf("%s %s id=%d files=%d bytes=%d", m, q(d), rec.id, rec.files, rec.bytes)
		if rec.links != 0 || rec.members != 0 || rec.memberBytes != 0 {
			line += fmt.Sprintf(" links=%d members=%d member_bytes=%d", rec.links, rec.members, rec.memberBytes)
		}
		return line, err
	case string(bucketDirIDs):
		m, d := splitDirKey(v)
		return fmt.Sprintf("%d %s %s", binary.BigEndian.Uint64(k), m, q(d)), nil
	case string(bucketFiles):
		rec, err := decodeFileRec(v)
		id := binary.BigEndian.Uint64(k[:8])
		m, d, _ := r.dirByID(id)
		f := rec.file("")
		return fmt.Sprintf("%s %s dir=%d fid=%d seq=%d size=%d mode=%o mtime=%d ctime=%d btime=%d ino=%d dev=%d nlink=%d uid=%d gid=%d target=%s md5=%s sha1=%s sha256=%s blake3=%s",
			m, q(d+string(k[8:])), id, rec.fid, rec.seq, f.Size, f.Mode, f.MTime, f.CTime, f.BTime, f.Inode, f.Device, f.Nlink, f.UID, f.GID,
			q(string(f.Target)), f.Hashes.MD5, f.Hashes.SHA1, f.Hashes.SHA256, f.Hashes.BLAKE3) + dumpExtra(&rec), err
	case string(bucketFIDs):
		d := dec{b: v}
		dirID := d.uv()
		return fmt.Sprintf("%d dir=%d %s", binary.BigEndian.Uint64(k), dirID, q(string(d.b))), d.err
	case string(bucketByHash):
		d := dec{b: k[32:]}
		mid, dev, ino, fid := d.uv(), d.uv(), d.uv(), d.uv()
		return fmt.Sprintf("%x machine=%d dev=%d ino=%d fid=%d", k[:32], mid, dev, ino, fid), d.err
	case string(bucketDupes):
		g, err := decodeGroupRec(v)
		return fmt.Sprintf("%x count=%d inodes=%d size=%d", k, g.count, g.inodes, g.size), err
	case string(bucketGroups):
		return fmt.Sprintf("%c %d %x", k[0], binary.BigEndian.Uint64(k[1:9]), k[9:]), nil
	case string(bucketHistory):
		n := len(k)
		h, ok := decodeHistory(v)
		away := ""
		if h.code&movedAway != 0 {
			away = " moved-away"
		}
		if h.from {
			away = fmt.Sprintf(" from=dir=%d %s", h.fromDir, q(h.fromName))
		}
		if !ok {
			away += " (undecodable)"
		}
		return fmt.Sprintf("dir=%d %s seq=%d %s%s", binary.BigEndian.Uint64(k[:8]), q(string(k[8:n-9])), binary.BigEndian.Uint64(k[n-8:]), typeOfCode(h.code), away), nil
	case string(bucketDead):
		d := decodeDeadRec(v)
		return fmt.Sprintf("%d %s %s", binary.BigEndian.Uint64(k), d.subject, q(d.reason)), nil
	}
	return hex.EncodeToString(k) + " " + hex.EncodeToString(v), nil
}

// dumpExtra is what a file record holds beyond every file's fields: an
// archive member's archive, the sha256 recorded before bit rot.
func dumpExtra(r *fileRec) string {
	s := ""
	if r.has&hasMember != 0 {
		s += fmt.Sprintf(" archive=%d/%s/%q", r.x.archLen, r.x.format, r.x.member)
		if r.x.encrypted {
			s += "/encrypted"
		}
	}
	if r.has&hasRot != 0 {
		s += fmt.Sprintf(" rot=%x", r.x.rot)
	}
	return s
}

func ulidString(k []byte) string {
	var id ulid.ULID
	if len(k) != len(id) {
		return hex.EncodeToString(k)
	}
	copy(id[:], k)
	return id.String()
}
