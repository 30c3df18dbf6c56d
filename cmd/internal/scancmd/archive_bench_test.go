package scancmd

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkArchiveVsTree indexes, standalone and end to end, the bench
// tree itself and a tar, a tar.zst and a zip of it (made with the Debian
// tools), each into a new data directory, side by side in every iteration,
// and reports each archive's speed relative to the tree's (tree time /
// archive time; the goals are 0.8, 0.7 and 0.8):
//
//	go test ./cmd/indexer-scan -run '^$' -bench ArchiveVsTree -benchtime 3x
func BenchmarkArchiveVsTree(b *testing.B) {
	tree := benchTree(b)
	dirs := map[string]string{"tree": tree}
	for name, script := range map[string]string{
		"tar":     `tar -C "$T" -cf "$D/s.tar" .`,
		"tar.zst": `tar -C "$T" -cf - . | zstd -q -3 -o "$D/s.tar.zst"`,
		"zip":     `cd "$T" && zip -qr "$D/s.zip" .`,
	} {
		d := b.TempDir()
		cmd := exec.Command("sh", "-ec", script)
		cmd.Env = append(os.Environ(), "T="+tree, "D="+d)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", script, err, out)
		}
		dirs[name] = d
	}
	order := []string{"tree", "tar", "tar.zst", "zip"}
	spent := map[string]time.Duration{}
	for b.Loop() {
		for _, name := range order {
			b.StopTimer()
			data := b.TempDir()
			b.StartTimer()
			start := time.Now()
			m := &Main{Stdout: io.Discard, Stderr: io.Discard, Hostname: func() (string, error) { return "bench", nil }}
			if err := m.Run(context.Background(), []string{"--data", data, "--quiet", "--priority", "normal", dirs[name]}); err != nil {
				b.Fatal(err)
			}
			spent[name] += time.Since(start)
			b.StopTimer()
			os.RemoveAll(filepath.Clean(data))
			b.StartTimer()
		}
	}
	for _, name := range order[1:] {
		b.ReportMetric(float64(spent["tree"])/float64(spent[name]), name+"-speed-x")
	}
	b.ReportMetric(float64(spent["tree"])/float64(b.N)/1e6, "tree-ms")
}
