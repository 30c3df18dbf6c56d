package app

import (
	"strconv"
	"strings"
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
