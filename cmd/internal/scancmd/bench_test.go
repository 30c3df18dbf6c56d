package scancmd

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The scan benchmarks run on the tree named by INDEXER_BENCH_TREE (the
// trees S, L and T that the Taskfile's trees task makes; its bench:scan
// task runs these), or on a small generated tree when it is unset.
// Compare each benchmark with its floor in the same run:
//
//	INDEXER_BENCH_COLD=1 INDEXER_BENCH_TREE=/data/trees/S go test ./cmd/internal/scancmd -run '^$' -bench 'Floor|FirstScan' -benchtime 1x -count 5
//	INDEXER_BENCH_TREE=/data/trees/T go test ./cmd/internal/scancmd -run '^$' -bench 'Find|Rescan' -count 5
//
// Floor and FirstScan also report cpu-s/op, the process's CPU time (user
// and system) per iteration: on a machine whose cores are all busy it, not
// the elapsed time, is what a change to the scan's work moves, and it is
// less noisy.
func benchTree(b *testing.B) string {
	b.Helper()
	if t := os.Getenv("INDEXER_BENCH_TREE"); t != "" {
		return t
	}
	dir := b.TempDir()
	buf := make([]byte, 32<<10)
	for i := range 2000 {
		p := filepath.Join(dir, string(rune('a'+i%16)), string(rune('a'+i/16%16)))
		os.MkdirAll(p, 0o755)
		buf[0], buf[1] = byte(i), byte(i>>8)
		os.WriteFile(filepath.Join(p, "f"+string(rune('A'+i%26))+string(rune('0'+i/26%10))+string(rune('0'+i/260))), buf[:1024+i*7%len(buf)], 0o644)
	}
	return dir
}

// coldCache drops the page cache before an iteration when
// INDEXER_BENCH_COLD is set (as root): the trees are as large as this
// machine's page cache, so without it whichever run goes second finds a
// different cache. Cold, both the floor and the scan read from the disk, as
// a first scan of a real disk does.
func coldCache(b *testing.B) {
	b.Helper()
	if os.Getenv("INDEXER_BENCH_COLD") == "" {
		return
	}
	exec.Command("sync").Run()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
		b.Fatalf("INDEXER_BENCH_COLD needs root: %v", err)
	}
}

// BenchmarkFloor is the floor a scan is measured against: walk the tree and
// read every regular file once through md5, sha1 and sha256, one worker per
// core, and nothing else.
func BenchmarkFloor(b *testing.B) {
	tree := benchTree(b)
	var bytes int64
	cpu := startCPU()
	for b.Loop() {
		b.StopTimer()
		coldCache(b)
		b.StartTimer()
		bytes = floor(tree)
	}
	cpu.report(b)
	b.SetBytes(bytes)
}

// cpuClock measures the process's CPU time from startCPU to report.
type cpuClock struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{cpuTime()} }

// report adds cpu-s/op to b's results. Work between iterations (b's timer
// stopped) counts too; the benchmarks keep it small.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric((cpuTime()-c.start).Seconds()/float64(b.N), "cpu-s/op")
}

func floor(root string) int64 {
	paths := make(chan string, 1024)
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			h1, h2, h3 := md5.New(), sha1.New(), sha256.New()
			w := io.MultiWriter(h1, h2, h3)
			var n int64
			for p := range paths {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				h1.Reset()
				h2.Reset()
				h3.Reset()
				k, _ := io.CopyBuffer(w, f, buf)
				n += k
				f.Close()
				h1.Sum(nil)
				h2.Sum(nil)
				h3.Sum(nil)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths <- p
		}
		return nil
	})
	close(paths)
	wg.Wait()
	return total
}

// BenchmarkFirstScan is a first scan end to end, standalone: embedded
// server, hashing, publishing, scan state, and the local index update.
func BenchmarkFirstScan(b *testing.B) {
	tree := benchTree(b)
	cpu := startCPU()
	for b.Loop() {
		b.StopTimer()
		data := b.TempDir()
		coldCache(b)
		b.StartTimer()
		m := &Main{Stdout: io.Discard, Stderr: io.Discard, Hostname: func() (string, error) { return "bench", nil }}
		if err := m.Run(context.Background(), []string{"--data", data, "--quiet", tree}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(data)
		b.StartTimer()
	}
	cpu.report(b)
}

// BenchmarkFind is the floor of a rescan: find printing size, mtime and inode.
func BenchmarkFind(b *testing.B) {
	tree := benchTree(b)
	for b.Loop() {
		cmd := exec.Command("find", tree, "-printf", `%s %T@ %i\n`)
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRescan is a rescan of an unchanged tree, end to end: start the
// embedded server, catch up the scan state, walk and stat, publish
// ScanStarted and ScanCompleted, update the index.
func BenchmarkRescan(b *testing.B) {
	tree := benchTree(b)
	data := b.TempDir()
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Hostname: func() (string, error) { return "bench", nil }}
	if err := m.Run(context.Background(), []string{"--data", data, "--quiet", tree}); err != nil {
		b.Fatal(err)
	}
	// A rescan comes hours after a scan, not seconds: let the log's
	// deduplication window pass, or the embedded server's start reloads
	// the ids of the first scan's last 20 seconds.
	time.Sleep(21 * time.Second)
	for b.Loop() {
		if err := m.Run(context.Background(), []string{"--data", data, "--quiet", tree}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(peakRSSMB(), "peak-rss-MB")
}

// peakRSSMB returns the process's peak resident memory in MiB.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}
