package projections

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// TestCorruptRecordStopsTheBatch damages one stored record of each kind
// that applying an event loads, and checks that the next event touching it
// stops the projector with an error naming the bucket, instead of
// replacing the record with a zero one; the batch does not commit.
func TestCorruptRecordStopsTheBatch(t *testing.T) {
	t.Parallel()
	for _, bucket := range [][]byte{bucketMachines, bucketScans, bucketDirs, bucketFiles, bucketDupes} {
		t.Run(string(bucket), func(t *testing.T) {
			t.Parallel()
			log := MustOpenLog(t, MustOpenServer(t))
			g := newGen("nas1", 1)
			appendAll(t, log, g.ev(&events.ScanStarted{Root: "/"}),
				g.ev(&events.FileScanned{File: file("/a", 10, 7, 1)}),
				g.ev(&events.FileScanned{File: file("/b", 10, 7, 2)}))
			p := MustOpenProjector(t, log, "")
			if err := p.CatchUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			cp := p.Checkpoint()
			path := p.Path
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			garbage := []byte{0xff}
			var key []byte
			db := &store.DB{Path: path}
			if err := db.Open(); err != nil {
				t.Fatal(err)
			}
			err := db.Update(func(tx *store.Tx) error {
				b := tx.Bucket(bucket)
				k, _ := b.Cursor().First()
				if k == nil {
					t.Fatalf("bucket %s is empty", bucket)
				}
				key = bytes.Clone(k)
				return b.Put(key, garbage)
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}

			// A change of /a loads every record the test damaged.
			appendAll(t, log, g.ev(&events.FileChanged{File: file("/a", 20, 7, 1)}))
			p = MustOpenProjector(t, log, path)
			err = p.CatchUp(context.Background())
			if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "read "+string(bucket)+" ") {
				t.Fatalf("CatchUp = %v, want a corrupt %s record", err, bucket)
			}
			if got := p.Checkpoint(); got != cp {
				t.Fatalf("checkpoint %d after the failed batch, want %d", got, cp)
			}
			err = p.db.View(func(tx *store.Tx) error {
				if v := tx.Bucket(bucket).Get(key); !bytes.Equal(v, garbage) {
					t.Errorf("%s %q = %x after the failed batch, want it left as it was", bucket, key, v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
