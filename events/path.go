package events

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Path is a file name as the exact bytes the operating system gave. A Go
// string holds any bytes; only the JSON form needs care (see MarshalJSON).
type Path string

// MarshalJSON writes a valid UTF-8 path as a JSON string and any other path
// as {"b64":"...","text":"..."} so that no byte is lost.
func (p Path) MarshalJSON() ([]byte, error) {
	return appendPath(nil, p), nil
}

// AppendJSON appends what MarshalJSON returns to b: for encoders written by
// hand that give the same bytes without an allocation per path.
func (p Path) AppendJSON(b []byte) []byte { return appendPath(b, p) }

// UnmarshalJSON reads either form written by MarshalJSON.
func (p *Path) UnmarshalJSON(b []byte) error {
	r := &reader{b: b}
	v := r.path()
	r.ws()
	if r.err == nil && r.i != len(b) {
		r.fail("data after the path")
	}
	if r.err != nil {
		return r.err
	}
	*p = v
	return nil
}

// String returns the path for display: invalid UTF-8 bytes are shown as
// \xNN escapes, control characters as Go escapes, so a strange name cannot
// break a terminal line. Use string(p) for the exact bytes.
func (p Path) String() string {
	s := string(p)
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r < 0x20 || r == 0x7f:
			q := fmt.Sprintf("%q", string(r))
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
