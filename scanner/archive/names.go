package archive

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/zip"
	"github.com/wlynxg/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// Encodings are the legacy encodings a zip name without the UTF-8 flag
// may be decoded from, by the names Member.Encoding and
// Options.ZipEncoding use.
var Encodings = map[string]encoding.Encoding{
	"cp437":     charmap.CodePage437,
	"cp850":     charmap.CodePage850,
	"cp866":     charmap.CodePage866,
	"gbk":       simplifiedchinese.GBK,
	"gb18030":   simplifiedchinese.GB18030,
	"big5":      traditionalchinese.Big5,
	"shift_jis": japanese.ShiftJIS,
	"euc-jp":    japanese.EUCJP,
	"euc-kr":    korean.EUCKR,
}

// detected maps chardet's answers for CJK text to Encodings' names. Latin
// guesses are left out on purpose: on short names chardet takes CP437
// text for Windows-1254 and the like (measured: "Café Menü Über.doc" at
// 0.64), and CP437 is the zip specification's default anyway.
var detected = map[string]string{
	"GB2312": "gbk", "GBK": "gbk", "GB18030": "gb18030",
	"BIG5": "big5", "Big5": "big5",
	"SHIFT_JIS": "shift_jis", "Shift_JIS": "shift_jis", "CP932": "shift_jis",
	"EUC-JP": "euc-jp", "EUC-KR": "euc-kr", "CP949": "euc-kr",
}

// minConfidence is the least chardet confidence at which a CJK guess is
// taken over CP437. Measured on GBK and Shift-JIS names of 14 bytes: 0.99.
const minConfidence = 0.8

// zipNames decodes the names of a zip. A name with the UTF-8 flag (bit 11)
// is UTF-8; one with an Info-ZIP Unicode Path extra field (0x7075) whose
// CRC matches its stored name takes the UTF-8 name from there. The other
// non-ASCII names are decoded with one encoding for the whole archive:
// force when given, else UTF-8 when they all are valid UTF-8 (writers
// that forget the flag exist), else what chardet finds for them all
// together when it is a CJK encoding with confidence ≥ 0.8, else CP437.
// It returns the display names and their encodings, index for index.
func zipNames(files []*zip.File, force string) (names, encs []string) {
	names, encs = make([]string, len(files)), make([]string, len(files))
	var legacy [][]byte
	var pending []int
	for i, f := range files {
		switch {
		case f.Flags&0x800 != 0:
			names[i], encs[i] = strings.ToValidUTF8(f.Name, "\uFFFD"), "utf-8"
		case isASCII(f.Name):
			names[i], encs[i] = f.Name, "utf-8"
		default:
			if u, ok := unicodePath(f); ok {
				names[i], encs[i] = u, "utf-8"
				continue
			}
			legacy = append(legacy, []byte(f.Name))
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return names, encs
	}
	enc := force
	if enc == "" {
		enc = guessEncoding(legacy)
	}
	for _, i := range pending {
		names[i], encs[i] = decodeName(files[i].Name, enc)
	}
	return names, encs
}

// guessEncoding picks one encoding for an archive's legacy names.
func guessEncoding(names [][]byte) string {
	allUTF8 := true
	for _, n := range names {
		allUTF8 = allUTF8 && utf8.Valid(n)
	}
	if allUTF8 {
		return "utf-8"
	}
	r := chardet.Detect(bytes.Join(names, []byte("\n")))
	if e, ok := detected[r.Encoding]; ok && r.Confidence >= minConfidence {
		return e
	}
	return "cp437"
}

// decodeName decodes one name; a name the encoding rejects falls back to
// CP437, which maps every byte.
func decodeName(name, enc string) (string, string) {
	if enc == "utf-8" {
		if utf8.ValidString(name) {
			return name, enc
		}
		enc = "cp437"
	}
	e, ok := Encodings[enc]
	if !ok {
		enc, e = "cp437", charmap.CodePage437
	}
	s, err := e.NewDecoder().String(name)
	if err != nil || strings.ContainsRune(s, utf8.RuneError) {
		s, _ = charmap.CodePage437.NewDecoder().String(name)
		enc = "cp437"
	}
	return s, enc
}

// unicodePath returns the UTF-8 name of an Info-ZIP Unicode Path extra
// field (0x7075: version 1, CRC32 of the stored name, UTF-8 name) when its
// CRC matches the stored name, as the specification requires: a tool that
// renamed the entry without updating the field left a stale name.
func unicodePath(f *zip.File) (string, bool) {
	extra := f.Extra
	for len(extra) >= 4 {
		id, size := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if size > len(extra) {
			return "", false
		}
		field := extra[:size]
		extra = extra[size:]
		if id != 0x7075 || len(field) < 5 || field[0] != 1 {
			continue
		}
		if binary.LittleEndian.Uint32(field[1:]) != crc32.ChecksumIEEE([]byte(f.Name)) || !utf8.Valid(field[5:]) {
			return "", false
		}
		return string(field[5:]), true
	}
	return "", false
}

// decodeUnflagged decodes a tar name: tar has no encoding flag, PAX
// records are UTF-8, and GNU tar stores the creator's locale bytes; what
// is not UTF-8 is shown with replacement characters, the raw bytes
// staying in Member.Path.
func decodeUnflagged(name string) (string, string) {
	if utf8.ValidString(name) {
		return name, "utf-8"
	}
	return strings.ToValidUTF8(name, "\uFFFD"), "bytes"
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
