package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// IsVersionFlag reports whether args ask for the version only: --version
// (or -version) as the first argument.
func IsVersionFlag(args []string) bool {
	return len(args) > 0 && (args[0] == "--version" || args[0] == "-version")
}

// Version is the line --version prints for the command name: the module
// version, the VCS revision and time the binary was built from (with
// "modified" when the tree had uncommitted changes), and the Go version.
// A binary built by 'go install module@version' knows its version; one
// built from a checkout says "(devel)" and its revision.
func Version(name string) string {
	v, rev, at, modified := "(unknown)", "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var extra []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		extra = append(extra, "revision "+rev)
	}
	if at != "" {
		extra = append(extra, at)
	}
	if modified {
		extra = append(extra, "modified")
	}
	extra = append(extra, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("%s %s (%s)", name, v, strings.Join(extra, ", "))
}
