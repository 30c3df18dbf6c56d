package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
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
	if utf8.ValidString(string(p)) {
		return json.Marshal(string(p))
	}
	return json.Marshal(struct {
		B64  string `json:"b64"`
		Text string `json:"text"`
	}{base64.StdEncoding.EncodeToString([]byte(p)), strings.ToValidUTF8(string(p), "\uFFFD")})
}

// UnmarshalJSON reads either form written by MarshalJSON.
func (p *Path) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			B64 *string `json:"b64"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		if o.B64 == nil {
			return fmt.Errorf("path object without b64")
		}
		raw, err := base64.StdEncoding.DecodeString(*o.B64)
		if err != nil {
			return fmt.Errorf("path b64: %w", err)
		}
		*p = Path(raw)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*p = Path(s)
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
