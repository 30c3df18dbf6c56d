package archive

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFormatsAgainstSystemTools archives one tree with the Debian tools
// in every format and checks that the walk gives every file with the
// sha256 coreutils computes on what the same tools extract.
func TestFormatsAgainstSystemTools(t *testing.T) {
	t.Parallel()
	tree := mkTree(t)
	// 7zz has no option to leave out the archive it writes: it is written
	// beside the tree.
	cases := []struct {
		name    string
		format  Format
		build   []string // run in tree; writes ../out
		extract []string // run in an empty directory; reads the archive at ARC
	}{
		{"tar", Tar, []string{"tar", "-cf", "../out", "."}, []string{"tar", "-xf", "ARC"}},
		// No "ustar" magic: told by its header's checksum alone.
		{"tar v7", Tar, []string{"tar", "--format=v7", "-cf", "../out", "."}, []string{"tar", "-xf", "ARC"}},
		{"tar.gz", TarGz, []string{"tar", "-czf", "../out", "."}, []string{"tar", "-xzf", "ARC"}},
		{"tar.bz2", TarBz2, []string{"tar", "-cjf", "../out", "."}, []string{"tar", "-xjf", "ARC"}},
		{"tar.xz", TarXz, []string{"tar", "-cJf", "../out", "."}, []string{"tar", "-xJf", "ARC"}},
		{"tar.zst", TarZst, []string{"tar", "--zstd", "-cf", "../out", "."}, []string{"tar", "--zstd", "-xf", "ARC"}},
		{"zip", Zip, []string{"zip", "-qr", "../out", "."}, []string{"unzip", "-q", "ARC"}},
		{"zip store", Zip, []string{"zip", "-qr0", "../out", "."}, []string{"unzip", "-q", "ARC"}},
		{"zip bzip2", Zip, []string{"zip", "-qr", "-Z", "bzip2", "../out", "."}, []string{"unzip", "-q", "ARC"}},
		{"7z", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "../out", "."}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"7z solid lzma", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "-m0=LZMA", "-ms=on", "../out", "."}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"7z not solid", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "-ms=off", "../out", "."}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"7z ppmd", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "-m0=PPMd", "../out", "a.txt"}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"7z bzip2", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "-m0=BZip2", "../out", "."}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"7z deflate", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "-m0=Deflate", "../out", "."}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"7z bcj2 lzma", SevenZip, []string{"7zz", "a", "-bd", "-bso0", "-t7z", "-mf=BCJ2", "../out", "."}, []string{"7zz", "x", "-bd", "-bso0", "ARC"}},
		{"zip by 7zz", Zip, []string{"7zz", "a", "-bd", "-bso0", "-tzip", "../out", "."}, []string{"unzip", "-q", "ARC"}},
		{"tar by 7zz", Tar, []string{"7zz", "a", "-bd", "-bso0", "-ttar", "../out", "."}, []string{"tar", "-xf", "ARC"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			arc := filepath.Join(dir, "out")
			// each case its own copy of the tree: 7zz writes beside it
			src := filepath.Join(dir, "src")
			run(t, "", "cp", "-a", tree, src)
			build := append([]string(nil), c.build...)
			run(t, src, build[0], build[1:]...)
			if filepath.Ext(arc) == "" && c.format != Tar && c.format != TarGz && c.format != TarBz2 && c.format != TarXz && c.format != TarZst {
				// zip and 7zz add their extension
				for _, ext := range []string{".zip", ".7z", ".tar"} {
					if _, err := os.Stat(arc + ext); err == nil {
						arc += ext
					}
				}
			}
			if _, err := os.Stat(arc); err != nil {
				for _, ext := range []string{".zip", ".7z", ".tar"} {
					if _, err := os.Stat(arc + ext); err == nil {
						arc += ext
					}
				}
			}
			ex := filepath.Join(dir, "ex")
			os.Mkdir(ex, 0o755)
			extract := append([]string(nil), c.extract...)
			for j := range extract {
				if extract[j] == "ARC" {
					extract[j] = arc
				}
			}
			run(t, ex, extract[0], extract[1:]...)
			want := sha256sums(t, ex)

			f, err := os.Open(arc)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			if got, err := Detect(f, fi.Size()); err != nil || got != c.format {
				t.Fatalf("Detect=%q, %v; want %q", got, err, c.format)
			}
			head := make([]byte, min(fi.Size(), 4096))
			if _, err := f.ReadAt(head, 0); err != nil || !MayBeArchive(head, fi.Size()) {
				t.Fatalf("MayBeArchive of its first %d bytes is false (%v); want true", len(head), err)
			}
			members, err := walkAll(t, arc, Options{})
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			sameSums(t, fileSums(members), want)
			for k, g := range members {
				if g.m.Format != c.format {
					t.Errorf("%s: Format=%q, want %q", k, g.m.Format, c.format)
				}
				if g.m.Type == TypeFile && g.m.Size >= 0 && g.m.Size != g.n {
					t.Errorf("%s: Size=%d, read %d", k, g.m.Size, g.n)
				}
			}
			if d, ok := members["dir"]; want["dir/b.bin"] != "" && (!ok || d.m.Type != TypeDir) {
				t.Errorf("dir: %+v, %v; want a directory member", d.m, ok)
			}
			if g, ok := members["名前 ü.txt"]; ok && g.m.Encoding != "utf-8" && g.m.Encoding != "utf-16" {
				t.Errorf("名前 ü.txt: Encoding=%q", g.m.Encoding)
			}
			if a := members["a.txt"]; a.m.ModTime.IsZero() {
				t.Errorf("a.txt: no ModTime")
			}
		})
	}
}

// TestSingleFileStreams compresses one file with each tool and checks the
// one member: its name (from the gzip header, else the archive's name
// without its suffix) and its sha256 against sha256sum of the original.
func TestSingleFileStreams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		format Format
		tool   string
		args   []string
		ext    string
	}{
		{Gz, "gzip", []string{"-k"}, ".gz"},
		{Bz2, "bzip2", []string{"-k"}, ".bz2"},
		{Xz, "xz", []string{"-k"}, ".xz"},
		{Zst, "zstd", []string{"-q"}, ".zst"},
	}
	for _, c := range cases {
		t.Run(string(c.format), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			orig := filepath.Join(dir, "data.txt")
			writeFile(t, orig, text(9, 200_000))
			run(t, dir, c.tool, append(c.args, "data.txt")...)
			want := sha256sums(t, dir)["data.txt"]
			// renamed, so that gzip's recorded name shows
			renamed := filepath.Join(dir, "renamed"+c.ext)
			if err := os.Rename(orig+c.ext, renamed); err != nil {
				t.Fatal(err)
			}
			members, err := walkAll(t, renamed, Options{})
			if err != nil {
				t.Fatal(err)
			}
			name := "renamed"
			if c.format == Gz {
				name = "data.txt"
			}
			g, ok := members[name]
			if !ok || len(members) != 1 {
				t.Fatalf("members %v, want only %q", keys(members), name)
			}
			if g.sha256 != want || g.m.Format != c.format || g.err != nil {
				t.Errorf("%s: sha256 %s format %s err %v; want %s %s", name, g.sha256, g.m.Format, g.err, want, c.format)
			}
		})
	}
}

func keys(m map[string]got) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}
