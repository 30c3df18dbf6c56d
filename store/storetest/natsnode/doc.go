// Command natsnode runs one node of storetest.ProcessCluster: an
// embedded nats-server with JetStream, routed to the other nodes. It
// prints "ready" once the cluster formed (a meta leader, every peer,
// itself current), shuts down cleanly on SIGTERM or SIGINT, and exits
// when its stdin closes (the test that started it is gone).
package main
