package scancmd

// The tests drive Main in their own process with the embedded server in
// it, as indexer-scan runs (its main imports inproc too).
import _ "github.com/indexer/indexer/cmd/internal/inproc"
