package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tools names the Debian package of each system tool the tests use, for
// the message of a test that cannot run without it (.ci/run installs them).
var tools = map[string]string{
	"7zz": "7zip", "zstd": "zstd", "xz": "xz-utils", "bzip2": "bzip2",
	"gzip": "gzip", "tar": "tar", "zip": "zip", "unzip": "unzip", "sha256sum": "coreutils",
}

// need fails the test when a system tool is missing: a missing tool must
// be installed, not silently skipped.
func need(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			tb.Fatalf("%s not found: install it with apt-get install -y %s", n, tools[n])
		}
	}
}

// run runs a command in dir and fails the test when it fails.
func run(tb testing.TB, dir string, name string, args ...string) string {
	tb.Helper()
	need(tb, name)
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeFile writes a file, making its directory.
func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// noise returns n bytes that compress little, the same for a seed.
func noise(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// text returns n bytes of compressible text.
func text(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"archive", "member", "index", "file", "tree", "hash", "scan", "event", "zip", "log\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

// mkTree makes the small tree every format test archives: text, noise,
// an empty file, a non-ASCII (UTF-8) name and nested directories.
func mkTree(tb testing.TB) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "tree")
	writeFile(tb, filepath.Join(root, "a.txt"), text(1, 10_000))
	writeFile(tb, filepath.Join(root, "dir", "b.bin"), noise(2, 300_000))
	writeFile(tb, filepath.Join(root, "dir", "sub", "c.txt"), text(3, 70_000))
	writeFile(tb, filepath.Join(root, "empty.txt"), nil)
	writeFile(tb, filepath.Join(root, "名前 ü.txt"), text(4, 1234))
	writeFile(tb, filepath.Join(root, "mixed.bin"), append(noise(5, 1<<20), make([]byte, 1<<20)...))
	return root
}

// sha256sums hashes every regular file under dir with coreutils'
// sha256sum: the truth the walker's members are checked against. Keys
// are slash paths relative to dir.
func sha256sums(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	var files []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	sums := map[string]string{}
	if len(files) == 0 {
		return sums
	}
	out := run(tb, dir, "sha256sum", append([]string{"--"}, files...)...)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			tb.Fatalf("sha256sum line %q", line)
		}
		sums[filepath.ToSlash(name)] = sum
	}
	return sums
}

// got is what a walk gave for one member.
type got struct {
	m      Member
	sha256 string
	n      int64
	err    error // the reader's error
}

// walkAll walks an archive file and hashes every member with content.
func walkAll(tb testing.TB, path string, opt Options) (map[string]got, error) {
	tb.Helper()
	members := map[string]got{}
	err := WalkFile(context.Background(), path, opt, func(m *Member, r io.Reader) error {
		g := got{m: *m}
		if r != nil {
			h := sha256.New()
			g.n, g.err = io.Copy(h, r)
			g.sha256 = hex.EncodeToString(h.Sum(nil))
		}
		key := m.Display()
		if m.Err != nil && m.Archive != "" {
			key += " (as archive)"
		}
		members[key] = g
		return nil
	})
	return members, err
}

// fileSums keeps the regular files with content of a walk, as sha256sums
// gives them.
func fileSums(members map[string]got) map[string]string {
	sums := map[string]string{}
	for k, g := range members {
		if g.m.Type == TypeFile && g.m.Err == nil && g.err == nil {
			sums[k] = g.sha256
		}
	}
	return sums
}

// sameSums fails the test when two hash maps differ, listing the
// differences.
func sameSums(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+k)
		} else if g != w {
			diffs = append(diffs, "different "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		tb.Fatalf("members differ from the system tools' extraction:\n%s", strings.Join(diffs, "\n"))
	}
}
