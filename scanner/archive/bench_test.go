package archive_test

import (
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/scanner"
	"github.com/indexer/indexer/scanner/archive"
)

// benchTree writes a tree of 64 files of 1 MiB, half noise and half
// text, the kind of mix a home directory has: 64 MiB in all.
func benchTree(b *testing.B) string {
	b.Helper()
	root := filepath.Join(b.TempDir(), "tree")
	r := rand.New(rand.NewPCG(1, 2))
	words := []byte("archive member index file tree hash scan event zip log\n")
	for i := range 64 {
		data := make([]byte, 1<<20)
		for j := range data {
			if i%2 == 0 {
				data[j] = byte(r.Uint32())
			} else {
				data[j] = words[r.IntN(len(words))]
			}
		}
		p := filepath.Join(root, "d"+string(rune('a'+i%8)), "f"+string(rune('a'+i/8))+".bin")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation to a benchmark's line: on a
// machine shared with other work, wall time says more about the
// neighbours than about the code.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkHashMembers hashes (md5, sha1, sha256, as a scan does) the
// same 64 MiB as plain files and as the members of a tar, a tar.zst and a
// zip, side by side: the archive's cost is the ratio of each to "disk".
func BenchmarkHashMembers(b *testing.B) {
	tree := benchTree(b)
	dir := b.TempDir()
	for _, c := range [][]string{
		{"tar", "-cf", filepath.Join(dir, "t.tar"), "."},
		{"tar", "--zstd", "-cf", filepath.Join(dir, "t.tar.zst"), "."},
		{"zip", "-qr", filepath.Join(dir, "t.zip"), "."},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = tree
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s (install tar, zstd and zip)", c, err, out)
		}
	}
	algos := scanner.DefaultHashes
	b.Run("disk", func(b *testing.B) {
		b.SetBytes(64 << 20)
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				_, _, err = scanner.HashStream(algos, f)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, name := range []string{"t.tar", "t.tar.zst", "t.zip"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(64 << 20)
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				n := int64(0)
				err := archive.WalkFile(context.Background(), filepath.Join(dir, name), archive.Options{Depth: -1},
					func(m *archive.Member, r io.Reader) error {
						if r == nil {
							return nil
						}
						_, k, err := scanner.HashStream(algos, r)
						n += k
						return err
					})
				if err != nil || n != 64<<20 {
					b.Fatalf("%d bytes, %v", n, err)
				}
			}
		})
	}
}
