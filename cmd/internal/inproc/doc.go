// Package inproc runs the embedded NATS server in this process for
// app.Open: importing it sets app.Serve to Serve. indexer-scan and
// indexer-project import it; the indexer command does not, so it does not
// link nats-server, and app runs the server in the sibling indexer-project
// instead (app.Sibling, which ends in Serve in that process).
package inproc
