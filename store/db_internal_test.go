package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestNoSyncFileLeftByAnEarlierBoot: a NoSync file whose process was killed
// before Close opens again in the same boot (the page cache held all of
// it), but not after the machine restarted, when a power loss may have
// kept its meta page and lost pages it points to. One closed properly
// opens in any boot. Not parallel: it sets bootID.
func TestNoSyncFileLeftByAnEarlierBoot(t *testing.T) {
	saved := bootID
	t.Cleanup(func() { bootID = saved })
	boot := "boot-1"
	bootID = func() string { return boot }
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() (*DB, error) {
		d := &DB{Path: path, NoSync: true}
		return d, d.Open()
	}
	write := func(d *DB, seq uint64) {
		t.Helper()
		if err := d.Update(func(tx *Tx) error { return tx.SetCheckpoint(Checkpoint{Seq: seq}) }); err != nil {
			t.Fatal(err)
		}
	}
	kill := func(d *DB) { // the process dies: no Close, no sync
		t.Helper()
		if err := d.db.Close(); err != nil {
			t.Fatal(err)
		}
		d.db = nil
	}

	d, err := open()
	if err != nil {
		t.Fatal(err)
	}
	write(d, 7)
	kill(d)
	if d, err = open(); err != nil {
		t.Fatalf("killed in this boot, the file must open again: %v", err)
	}
	if cp, err := d.Checkpoint(); err != nil || cp.Seq != 7 {
		t.Fatalf("checkpoint %d, %v: want 7", cp.Seq, err)
	}
	kill(d)

	boot = "boot-2"
	_, err = open()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("left unsynced by an earlier boot: opened with %v, want ErrCorrupt", err)
	}

	if _, err := open(); err == nil {
		t.Fatal("the refusal must last until the owner makes the file again")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if d, err = open(); err != nil {
		t.Fatal(err)
	}
	write(d, 9)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ro.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(keyUnsyncedBoot); v != nil {
			t.Errorf("closed, the file still holds the boot it was written in (%q)", v)
		}
		return nil
	})
	ro.Close()
	boot = "boot-3"
	if d, err = open(); err != nil {
		t.Fatalf("closed properly, the file must open in a later boot: %v", err)
	}
	if cp, err := d.Checkpoint(); err != nil || cp.Seq != 9 {
		t.Fatalf("checkpoint %d, %v: want 9", cp.Seq, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
