package projections

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata")

// step is one record a golden scenario appends: an event, or raw bytes on a
// subject (a stranger's publish).
type step struct {
	ev      *events.Event
	subject string
	raw     string
}

func evStep(e events.Event) step { return step{ev: &e} }

// encodedOn is e encoded but published on another subject.
func encodedOn(tb testing.TB, subject string, e events.Event) step {
	b, err := events.Encode(e)
	if err != nil {
		tb.Fatal(err)
	}
	return step{subject: subject, raw: string(b)}
}

func firstScan(g *gen) []step {
	sym := file("/data/sym", 5, 0, 17)
	sym.Mode, sym.Target = 0o777|1<<27, "a.txt"
	dir := file("/data/sub", 4096, 0, 18)
	dir.Mode = 0o755 | dirModeBit
	return []step{
		evStep(g.ev(&events.ScanStarted{Root: "/data", Options: events.ScanOptions{Hashes: []string{"md5", "sha1", "sha256"}}})),
		evStep(g.ev(&events.FileScanned{File: file("/data/a.txt", 10, 1, 11)})),
		evStep(g.ev(&events.FileScanned{File: file("/data/b.txt", 10, 1, 12)})),
		evStep(g.ev(&events.FileScanned{File: file("/data/link-to-b", 10, 1, 12)})),
		evStep(g.ev(&events.FileScanned{File: file("/data/sub/c.bin", 0, 2, 13)})),
		evStep(g.ev(&events.FileScanned{File: file("/data/sub/deep/Ünïcode Name.TXT", 5, 3, 14)})),
		evStep(g.ev(&events.FileScanned{File: file("/data/bad\xffname", 7, 4, 15)})),
		evStep(g.ev(&events.FileScanned{File: file("/data/new\nline", 8, 5, 16)})),
		evStep(g.ev(&events.FileScanned{File: sym})),
		evStep(g.ev(&events.FileScanned{File: dir})),
		evStep(g.ev(&events.ScanCompleted{Root: "/data", Complete: true, Counts: events.ScanCounts{Seen: 9, Read: 7, Added: 9}, DurationNS: 1e9})),
	}
}

func secondScan(g *gen) []step {
	a := file("/data/a.txt", 20, 6, 11)
	b := file("/data/b.txt", 10, 1, 12)
	b.Mode = 0o600
	return []step{
		evStep(g.ev(&events.ScanStarted{Root: "/data", Options: events.ScanOptions{Hashes: []string{"md5", "sha1", "sha256"}}})),
		evStep(g.ev(&events.FileChanged{File: a, PrevSHA256: a.Hashes.SHA256, Reason: events.ReasonContent})),
		evStep(g.ev(&events.FileChanged{File: b, PrevSHA256: b.Hashes.SHA256, Reason: events.ReasonMetadata})),
		evStep(g.ev(&events.FileMoved{From: "/data/sub/c.bin", File: file("/data/c-renamed.bin", 0, 2, 13)})),
		evStep(g.ev(&events.FileMoved{From: "/data/sub/deep/Ünïcode Name.TXT", File: file("/data/other/Ünïcode Name.TXT", 5, 3, 14)})),
		evStep(g.ev(&events.FileMoved{From: "/data/bad\xffname", File: file("/data/link-to-b", 7, 4, 15)})),
		evStep(g.ev(&events.FileDeleted{Path: "/data/b.txt", SHA256: b.Hashes.SHA256})),
		evStep(g.ev(&events.FileUnreadable{Path: "/data/secret", Error: "permission denied"})),
		evStep(g.ev(&events.FileScanned{File: file("/data/x.txt", 20, 6, 20)})),
		evStep(g.ev(&events.FileMoved{From: "/data/gone-before", File: file("/data/appeared", 3, 7, 21)})),
		evStep(g.ev(&events.FileDeleted{Path: "/data/never-known"})),
		evStep(g.ev(&events.ScanCompleted{Root: "/data", Complete: false, Counts: events.ScanCounts{Seen: 5, Changed: 2, Moved: 3, Deleted: 1, Unreadable: 1}, DurationNS: 2e9})),
	}
}

var scenarios = map[string]func(tb testing.TB) []step{
	"scan": func(tb testing.TB) []step { return firstScan(newGen("nas1", 1)) },
	"changes": func(tb testing.TB) []step {
		return append(firstScan(newGen("nas1", 1)), secondScan(newGen("nas1", 2))...)
	},
	// The first scan is killed before its ScanCompleted; the next one of
	// the machine shows it was interrupted.
	"killed": func(tb testing.TB) []step {
		first := firstScan(newGen("nas1", 1))
		return append(first[:len(first)-1], secondScan(newGen("nas1", 2))...)
	},
	"machines": func(tb testing.TB) []step {
		steps := firstScan(newGen("nas1", 1))
		g := newGen("laptop", 1)
		steps = append(steps,
			evStep(g.ev(&events.ScanStarted{Root: "/home", Options: events.ScanOptions{Hashes: []string{"sha256"}}})),
			// The same inode number as nas1's a.txt: another machine, so
			// another copy.
			evStep(g.ev(&events.FileScanned{File: file("/home/a-copy.txt", 10, 1, 11)})),
			evStep(g.ev(&events.FileScanned{File: file("/data/a.txt", 20, 6, 99)})),
			evStep(g.ev(&events.ScanCompleted{Root: "/home", Complete: true})),
		)
		return append(steps, secondScan(newGen("nas1", 2))...)
	},
	// The operator forgets a root of nas1, then all of laptop; nas1
	// scans again and finds a file there anew.
	"forget": func(tb testing.TB) []step {
		steps := firstScan(newGen("nas1", 1))
		g := newGen("laptop", 1)
		steps = append(steps,
			evStep(g.ev(&events.ScanStarted{Root: "/home"})),
			evStep(g.ev(&events.FileScanned{File: file("/home/a-copy.txt", 10, 1, 11)})),
			evStep(g.ev(&events.ScanCompleted{Root: "/home", Complete: true})),
		)
		op, op2 := newGen("nas1", 3), newGen("laptop", 3)
		op.scan, op2.scan = [16]byte{}, [16]byte{}
		steps = append(steps,
			evStep(op.ev(&events.FilesForgotten{Root: "/data/sub", Reason: "sold the disk"})),
			evStep(op2.ev(&events.FilesForgotten{})),
		)
		g = newGen("nas1", 2)
		return append(steps,
			evStep(g.ev(&events.ScanStarted{Root: "/data"})),
			evStep(g.ev(&events.FileScanned{File: file("/data/sub/c.bin", 0, 2, 13)})),
			evStep(g.ev(&events.ScanCompleted{Root: "/data", Complete: true})),
		)
	},
	// Archive members beside a real name holding "::", and bit rot found,
	// moved and kept.
	"archives": func(tb testing.TB) []step {
		g := newGen("nas1", 1)
		zip := file("/data/a.zip", 100, 9, 11)
		zip.Archive = &events.Archive{Format: "zip", Members: 2}
		m1 := file("/data/a.zip::photo.jpg", 70, 1, 0)
		m1.Archive = &events.Archive{Path: "/data/a.zip", Member: []events.Path{"photo.jpg"}, Format: "zip"}
		m2 := file("/data/a.zip::in.tar::caf\xe9", 5, 2, 0)
		m2.Hashes = events.Hashes{}
		m2.Archive = &events.Archive{Path: "/data/a.zip", Member: []events.Path{"in.tar", "caf\xe9"}, Format: "tar", Encrypted: true}
		// A tar's hard link entry (a target, no link mode) is a member; a
		// symbolic link in an archive is a link.
		hard := file("/data/a.zip::in.tar::hard", 5, 5, 0)
		hard.Target = "caf\xe9"
		hard.Archive = &events.Archive{Path: "/data/a.zip", Member: []events.Path{"in.tar", "hard"}, Format: "tar"}
		sym := file("/data/a.zip::sym", 3, 0, 0)
		sym.Mode, sym.Target = 0o777|1<<27, "photo.jpg"
		sym.Archive = &events.Archive{Path: "/data/a.zip", Member: []events.Path{"sym"}, Format: "zip"}
		bad := file("/data/b.zip::x", 5, 2, 0)
		bad.Archive = &events.Archive{Path: "/data/other.zip", Member: []events.Path{"x"}, Format: "zip"}
		good, rotten := file("/data/photo.jpg", 70, 1, 12), file("/data/photo.jpg", 70, 3, 12)
		return []step{
			evStep(g.ev(&events.ScanStarted{Root: "/data"})),
			evStep(g.ev(&events.FileScanned{File: zip})),
			evStep(g.ev(&events.FileScanned{File: m1})),
			evStep(g.ev(&events.FileScanned{File: m2})),
			evStep(g.ev(&events.FileScanned{File: hard})),
			evStep(g.ev(&events.FileScanned{File: sym})),
			evStep(g.ev(&events.FileScanned{File: bad})),
			evStep(g.ev(&events.FileScanned{File: file("/data/odd::name", 5, 4, 13)})),
			evStep(g.ev(&events.FileScanned{File: good})),
			evStep(g.ev(&events.FileChanged{File: rotten, PrevSHA256: good.Hashes.SHA256, Reason: events.ReasonBitRot})),
			evStep(g.ev(&events.FileMoved{From: "/data/photo.jpg", File: file("/data/photo-rotten.jpg", 70, 3, 12)})),
			evStep(g.ev(&events.ScanCompleted{Root: "/data", Complete: true})),
		}
	},
	"garbage": func(tb testing.TB) []step {
		g := newGen("nas1", 1)
		nul := file("/data/nul\x00byte", 1, 1, 1)
		badHash := file("/data/badhash", 1, 1, 2)
		badHash.Hashes.SHA256 = "xyz"
		neg := file("/data/negative", -1, 1, 3)
		return []step{
			evStep(g.ev(&events.ScanStarted{Root: "/data"})),
			{subject: "idx.nas1.file.scanned", raw: "hello"},
			{subject: "idx.nas1.file.scanned", raw: ""},
			{subject: "idx.nas1.file.scanned", raw: "\xff\xfe"},
			{subject: "idx.nas1.file.odd", raw: `{"v":1,"type":"FileRenamed","id":"01KE1FHYPGAAAAAAAAAAAAAAAA","machine":"nas1","data":{}}`},
			{subject: "idx.nas1.file.scanned", raw: `{"v":1,"type":"FileScanned","id":"01KE1FHYPGAAAAAAAAAAAAAAAB","machine":"nas1","data":null}`},
			evStep(g.ev(&events.FileScanned{File: nul})),
			evStep(g.ev(&events.FileScanned{File: badHash})),
			evStep(g.ev(&events.FileScanned{File: neg})),
			encodedOn(tb, "idx.other.file.scanned", g.ev(&events.FileScanned{File: file("/data/wrong-subject", 1, 1, 4)})),
			encodedOn(tb, "idx.nas1.file.deleted", g.ev(&events.FileScanned{File: file("/data/wrong-kind", 1, 1, 5)})),
			evStep(g.ev(&events.FileScanned{File: file("/data/good", 1, 1, 6)})),
			evStep(g.ev(&events.ScanCompleted{Root: "/data", Complete: true})),
		}
	},
}

// publish appends the steps in order and returns the last sequence.
func publish(tb testing.TB, log *store.Log, steps []step) uint64 {
	tb.Helper()
	var last uint64
	for _, s := range steps {
		if s.ev != nil {
			last = appendAll(tb, log, *s.ev)
		} else {
			last = appendRaw(tb, log, s.subject, s.raw)
		}
	}
	return last
}

// TestGolden projects each scenario live in batches of one event, checks
// the dump against testdata, then checks that a rebuild in one batch and a
// second replay of every event give the same dump.
func TestGolden(t *testing.T) {
	t.Parallel()
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			log := MustOpenLog(t, MustOpenServer(t))
			last := publish(t, log, steps(t))

			p := MustOpenProjector(t, log, "")
			p.BatchSize = 1
			runProjector(t, p)
			waitFor(t, p, last)
			live := dump(t, p.Index())

			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(live), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if live != string(want) {
				t.Errorf("live dump differs from %s (run with -update and review the diff):\n%s", golden, diff(string(want), live))
			}

			// Rebuild: one batch, no fsync, into another file.
			built := filepath.Join(t.TempDir(), "built.db")
			if _, err := Build(context.Background(), log, built, BuildOptions{}); err != nil {
				t.Fatal(err)
			}
			db := MustOpenDB(t, built)
			if got := dump(t, NewIndex(db)); got != live {
				t.Errorf("rebuild differs from live:\n%s", diff(live, got))
			}

			// Replay every event a second time: forget the checkpoint and
			// catch up again; entity sequences must make it a no-op.
			if err := db.Update(func(tx *store.Tx) error {
				cp := tx.Checkpoint()
				cp.Seq = 0
				return tx.SetCheckpoint(cp)
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := CatchUp(context.Background(), log, built, nil); err != nil {
				t.Fatal(err)
			}
			if err := db.Open(); err != nil {
				t.Fatal(err)
			}
			if got := dump(t, NewIndex(db)); got != live {
				t.Errorf("replaying twice differs from once:\n%s", diff(live, got))
			}
			// The dead letters' count, kept as they are written, is the
			// bucket's, live and after the replay, which wrote them again.
			for _, ix := range []*Index{p.Index(), NewIndex(db)} {
				ix.view(func(tx *store.Tx) error {
					if got, want := tx.Count(bucketDead), tx.Bucket(bucketDead).Len(); got != want {
						t.Errorf("dead letters counted %d, want %d", got, want)
					}
					return nil
				})
			}
		})
	}
}

// diff shows the lines of got that differ from want, with their line numbers.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 40; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			n++
		}
	}
	return b.String()
}
