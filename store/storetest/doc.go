// Package storetest has test helpers for the real parts: an embedded NATS
// server in a temp dir per test (MustOpenServer), a Log on it
// (MustOpenLog), and the real NATS CLI built from the version pinned in
// tools/go.mod (NATSCLI), and a JetStream cluster of several nodes on
// loopback: in this process (Cluster, a node stopped cleanly with Stop) or
// one process a node (ProcessCluster, running the natsnode program, a node
// frozen with Freeze, SIGSTOP). No mocks: tests run what users run.
//
// # Caveats
//
// NATSCLI builds the CLI with the go command on first use; the first build
// on a machine downloads its modules. ProcessCluster builds natsnode with
// the go command once per test binary.
//
// A cluster's ports are found free by binding 127.0.0.1:0 and letting go
// (routes must name every node's port before the nodes start): another
// program can take one in between, and the cluster then does not form.
package storetest
