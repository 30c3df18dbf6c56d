package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// integer is any integer type a count may have.
type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Count returns n and the noun that goes with it, for human output: "1
// file", "0 files", "2 files".
func Count[T integer](n T, one, many string) string {
	noun := many
	if n == 1 {
		noun = one
	}
	if n < 0 {
		return strconv.FormatInt(int64(n), 10) + " " + noun
	}
	return strconv.FormatUint(uint64(n), 10) + " " + noun
}

// NoProjector explains a lag of the index behind the log that no process
// is working off, wherever a command reports one.
const NoProjector = "no projector running: start indexer-project, or run indexer-scan standalone to update the index"

// Bytes formats a size n in binary units with three significant digits,
// for human output: "0 B", "1.46 KiB", "32.5 MiB", "114 MiB".
func Bytes[T integer](n T) string {
	f := float64(n)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%d B", int64(n))
	case f < 10:
		return fmt.Sprintf("%.2f %s", f, units[i])
	case f < 100:
		return fmt.Sprintf("%.1f %s", f, units[i])
	}
	return fmt.Sprintf("%.0f %s", f, units[i])
}

// CommandFirst moves a subcommand given after flags to the front, so
// "indexer --data D stats" means "indexer stats --data D". Leading
// arguments that start with '-' are flags; one without '=' takes the next
// argument as its value unless that is a flag or a command (isCommand).
// Args without such a subcommand come back as they were.
func CommandFirst(args []string, isCommand func(string) bool) []string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		switch {
		case strings.Contains(args[i], "="), i+1 == len(args),
			isCommand(args[i+1]), strings.HasPrefix(args[i+1], "-"):
			i++
		default:
			i += 2
		}
	}
	if i == 0 || i >= len(args) || !isCommand(args[i]) {
		return args
	}
	out := make([]string, 0, len(args))
	out = append(out, args[i])
	out = append(out, args[:i]...)
	return append(out, args[i+1:]...)
}

// IsTerminal reports whether f (a reader or writer) is a terminal, not
// merely a character device (/dev/null is one): progress lines are drawn,
// and questions asked, only there.
func IsTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS)
	return err == nil
}
