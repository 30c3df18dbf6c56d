package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Signatures, from each format's specification.
var (
	sigZip      = []byte("PK\x03\x04")
	sigZipEmpty = []byte("PK\x05\x06")
	sigZipSpan  = []byte("PK\x07\x08PK\x03\x04")
	sig7z       = []byte("7z\xbc\xaf\x27\x1c")
	sigRar4     = []byte("Rar!\x1a\x07\x00")
	sigRar5     = []byte("Rar!\x1a\x07\x01\x00")
	sigGz       = []byte("\x1f\x8b\x08")
	sigBz2      = []byte("BZh")
	sigXz       = []byte("\xfd7zXZ\x00")
	sigZst      = []byte("\x28\xb5\x2f\xfd")
)

// sniffLen is how many leading bytes detection looks at: a tar header.
const sniffLen = 512

// Detect says which format the size bytes of r are, from their leading
// bytes: for a compressed stream it decompresses the first block to tell
// a tar (TarGz) from a single file (Gz). It returns ErrNotArchive for
// anything else, and an *Error when a compressed stream does not even
// start to decode.
func Detect(r io.ReaderAt, size int64) (Format, error) {
	head := make([]byte, min(size, sniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return "", fmt.Errorf("detect archive: %w", err)
	}
	f := sniff(head)
	switch f {
	case "":
		return "", ErrNotArchive
	case Gz, Bz2, Xz, Zst:
		d, err := openDecompressor(f, io.NewSectionReader(r, 0, size))
		if err != nil {
			return "", classify(f, nil, err)
		}
		defer d.Close()
		b := bufio.NewReaderSize(d, sniffLen)
		block, _ := b.Peek(sniffLen)
		if isTar(block) {
			return tarOf[f], nil
		}
	}
	return f, nil
}

// MayBeArchive reports whether head, the first bytes of a file of the
// given size, may start an archive Detect recognizes. false is final when
// head holds the first min(size, 512) bytes or more: Detect would return
// ErrNotArchive without reading further. A scan asks it of every file it
// reads, in place of Detect, which reads its own copy of the head.
func MayBeArchive(head []byte, size int64) bool {
	if int64(len(head)) < min(size, sniffLen) {
		return true // too short to tell: ask Detect
	}
	return sniff(head[:min(len(head), sniffLen)]) != ""
}

// sniff names the format whose signature head starts with, or "".
func sniff(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, sigZip), bytes.HasPrefix(head, sigZipEmpty), bytes.HasPrefix(head, sigZipSpan):
		return Zip
	case bytes.HasPrefix(head, sig7z):
		return SevenZip
	case bytes.HasPrefix(head, sigRar4), bytes.HasPrefix(head, sigRar5):
		return Rar
	case bytes.HasPrefix(head, sigGz):
		return Gz
	case bytes.HasPrefix(head, sigBz2) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return Bz2
	case bytes.HasPrefix(head, sigXz):
		return Xz
	case bytes.HasPrefix(head, sigZst):
		return Zst
	case isTar(head):
		return Tar
	}
	return ""
}

// tarOf is the tar format inside each compression.
var tarOf = map[Format]Format{Gz: TarGz, Bz2: TarBz2, Xz: TarXz, Zst: TarZst}

// compressionOf is the compression of each compressed tar.
var compressionOf = map[Format]Format{TarGz: Gz, TarBz2: Bz2, TarXz: Xz, TarZst: Zst}

// isTar says whether block is a tar header: the ustar magic (POSIX and
// GNU) or, for V7 archives that have none, a header checksum that adds up.
func isTar(block []byte) bool {
	if len(block) < sniffLen {
		return false
	}
	if bytes.Equal(block[257:262], []byte("ustar")) {
		return true
	}
	// The checksum, in octal: parsed by hand, as every file a scan reads
	// is asked, and a failed strconv.ParseUint allocates its error.
	field := bytes.TrimRight(bytes.TrimLeft(block[148:156], " \x00"), " \x00")
	if len(field) == 0 {
		return false
	}
	var want uint64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want<<3 | uint64(c-'0')
	}
	var sum uint64
	for i, c := range block {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += uint64(c)
	}
	return sum == want && block[0] != 0
}
