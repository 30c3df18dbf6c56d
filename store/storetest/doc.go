// Package storetest has test helpers for the real parts: an embedded NATS
// server in a temp dir per test (MustOpenServer), a Log on it
// (MustOpenLog), and the real NATS CLI built from the version pinned in
// tools/go.mod (NATSCLI). No mocks: tests run what users run.
//
// # Caveats
//
// NATSCLI builds the CLI with the go command on first use; the first build
// on a machine downloads its modules.
package storetest
