package events

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SubjectPrefix is the first token of every event subject. The stream
// captures SubjectPrefix + ".>".
const SubjectPrefix = "idx"

// kinds maps a type to the last two tokens of its subject.
var kinds = map[Type]string{
	TypeScanStarted:    "scan.started",
	TypeFileScanned:    "file.scanned",
	TypeFileChanged:    "file.changed",
	TypeFileMoved:      "file.moved",
	TypeFileDeleted:    "file.deleted",
	TypeFileUnreadable: "file.unreadable",
	TypeScanCompleted:  "scan.completed",
	TypeFilesForgotten: "files.forgotten",
}

// Kind returns the subject suffix of t, for example "file.changed".
func Kind(t Type) string { return kinds[t] }

// TypeOfKind returns the type whose Kind is k.
func TypeOfKind(k string) (Type, bool) {
	for t, kk := range kinds {
		if kk == k {
			return t, true
		}
	}
	return "", false
}

// Subject returns the subject an event of type t from machine is published
// on: idx.<machine>.<kind>.
func Subject(machine string, t Type) string {
	return SubjectPrefix + "." + machine + "." + kinds[t]
}

// MachineSubjects returns the filter subject for all of one machine's events,
// or for everyone's when machine is empty.
func MachineSubjects(machine string) string {
	if machine == "" {
		return SubjectPrefix + ".>"
	}
	return SubjectPrefix + "." + machine + ".>"
}

// ValidateMachine returns an error saying what is wrong when name cannot be
// a machine name. A machine name is one subject token of letters, digits,
// '-' and '_', at most 64 bytes: no dots, spaces or wildcards.
func ValidateMachine(name string) error {
	if name == "" {
		return fmt.Errorf("machine name is empty; set --machine or INDEXER_MACHINE")
	}
	if len(name) > 64 {
		return fmt.Errorf("machine name %q is longer than 64 bytes", name)
	}
	for i, c := range name {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			continue
		}
		// The offending character as written: a whole UTF-8 sequence, or
		// the one byte that is not valid UTF-8.
		_, size := utf8.DecodeRuneInString(name[i:])
		return fmt.Errorf("machine name %q may hold only ASCII letters, digits, '-' and '_' (it is one NATS subject token); %q is not allowed", name, name[i:i+size])
	}
	return nil
}

// MachineFromHost turns a host name into a valid machine name: the first
// label, with any other character replaced by '-'.
func MachineFromHost(host string) string {
	host, _, _ = strings.Cut(host, ".")
	b := []byte(host)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	if len(b) == 0 {
		return "localhost"
	}
	return string(b)
}
