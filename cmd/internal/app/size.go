package app

import (
	"fmt"
	"strconv"
	"strings"
)

// SizeFlag is a byte size flag (N is the size) that takes 300, 10k, 1.5M, 2GiB.
type SizeFlag struct{ N int64 }

// String is the size in the largest unit that divides it, as Set reads it.
func (s *SizeFlag) String() string {
	for i, u := range "PTGMk" {
		if m := int64(1) << (10 * (5 - i)); s.N != 0 && s.N%m == 0 {
			return strconv.FormatInt(s.N/m, 10) + string(u)
		}
	}
	return strconv.FormatInt(s.N, 10)
}

func (s *SizeFlag) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	s.N = n
	return nil
}

// ParseSize reads a size with an optional binary unit suffix (k, M, G, T,
// with or without "iB"/"B").
func ParseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	low := strings.ToLower(t)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"p", 1 << 50}} {
		for _, form := range []string{u.suffix + "ib", u.suffix + "b", u.suffix} {
			if strings.HasSuffix(low, form) {
				low, mult = strings.TrimSpace(strings.TrimSuffix(low, form)), u.mult
				goto parsed
			}
		}
	}
	low = strings.TrimSuffix(low, "b")
parsed:
	f, err := strconv.ParseFloat(low, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 300, 10k, 1.5M, 2G)", v)
	}
	return int64(f * float64(mult)), nil
}
