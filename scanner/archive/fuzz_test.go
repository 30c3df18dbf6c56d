package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// fuzzSeeds are small archives of every format the Go writers (and the
// hand-built rar) can make.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, n := range []string{"a.txt", "d/", "d/b.txt"} {
		f, _ := zw.Create(n)
		f.Write([]byte("hello " + n))
	}
	zw.Close()
	seeds = append(seeds, zb.Bytes())

	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, n := range []string{"a.txt", "d/b.txt"} {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
		tw.Write([]byte("hello"))
	}
	tw.Close()
	seeds = append(seeds, tb.Bytes())

	var gb bytes.Buffer
	gw := gzip.NewWriter(&gb)
	gw.Write(tb.Bytes())
	gw.Close()
	seeds = append(seeds, gb.Bytes())

	var sb bytes.Buffer
	sw, _ := zstd.NewWriter(&sb)
	sw.Write(tb.Bytes())
	sw.Close()
	seeds = append(seeds, sb.Bytes())

	// a zip inside a tar: nesting
	var nb bytes.Buffer
	nw := tar.NewWriter(&nb)
	nw.WriteHeader(&tar.Header{Name: "in.zip", Mode: 0o644, Size: int64(zb.Len()), Typeflag: tar.TypeReg})
	nw.Write(zb.Bytes())
	nw.Close()
	seeds = append(seeds, nb.Bytes())

	seeds = append(seeds, buildRar5(rarFiles()[:3]), buildRar4(rarFiles()[:3], false), craftedXz(), craftedZstd())
	return seeds
}

// FuzzWalk: whatever the bytes, Walk returns (no panic escapes, no hang)
// with nil, ErrNotArchive or an *Error, and every member's reader fails
// only with an *Error.
func FuzzWalk(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	spool := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if !MayBeArchive(data, int64(len(data))) {
			if _, err := Detect(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrNotArchive) {
				t.Fatalf("MayBeArchive is false, Detect says %v; want ErrNotArchive", err)
			}
		}
		opt := Options{Depth: 1, TempDir: spool, Limits: Limits{Members: 1000, TotalBytes: 64 << 20, Failures: 10}}
		err := Walk(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz.gz", opt,
			func(m *Member, r io.Reader) error {
				if r == nil {
					return nil
				}
				_, err := io.Copy(io.Discard, r)
				var ae *Error
				if err != nil && !errors.As(err, &ae) {
					t.Fatalf("member %q: %T %v, want an *Error", m.Display(), err, err)
				}
				return nil
			})
		var ae *Error
		if err != nil && !errors.Is(err, ErrNotArchive) && !errors.As(err, &ae) {
			t.Fatalf("%T %v, want nil, ErrNotArchive or an *Error", err, err)
		}
	})
}
