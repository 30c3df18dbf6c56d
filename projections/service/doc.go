// Package service is the query side of the indexer: one interface, Queries,
// for every question a user asks (where is this file, what are the
// duplicates, what is in this folder, what happened to this file), and the
// ways to answer it.
//
//   - Local answers from an index in this process: a live projector's
//     (Projector.Index) or an index.db opened read-only.
//   - Cache answers the hot queries (stats, duplicates, trees, machines,
//     scans) from memory until the projection's checkpoint moves.
//   - Serve makes any Queries a NATS request/reply service (nats.go's micro
//     package), listed by `nats micro ls` and asked with `nats req
//     indexer.stats {}`; Client asks such a service and is itself a Queries.
//     A reply over the NATS server's max payload (1 MiB by default) comes
//     in parts that Client puts together (see store.StartService), so every
//     answer is the same over NATS as from the index.
//
// The CLI (cmd/indexer), the HTTP API and web UI (projections/web) and the
// NATS service all sit on Queries, so they give the same answers.
//
// # Requests
//
// FindRequest, DupesRequest and TreeRequest are plain JSON-able values: the
// same struct is a CLI's flags, an HTTP query string and a NATS request
// body. Paths are events.Path, exact bytes: a name that is not UTF-8
// travels as {"b64":"..."} (see events.Path).
//
// # Replies
//
// AppendReply writes a reply's JSON for every front end (the CLI's --json,
// the HTTP API, the NATS service), so they give the same bytes: file modes
// as stat(2) gives them (see PosixJSON). The duplicate groups, the largest
// replies (8 MB for every group of 100,000 files), are written by hand in
// the bytes json.Marshal and PosixJSON give, which tests hold them to.
//
// # Caveats
//
//   - Find with Archived or PathContains beside a name pattern, and Dupes
//     with Machine, read every candidate: the read models have no index for
//     them.
//   - A group's files (Group, Dupes with Files) are all read before being
//     cut to the number asked for: the empty file can have 100,000 paths.
//   - Cached answers are shared: callers must not modify them.
//   - Rot reads every FileChanged, FileMoved and FileDeleted in the log
//     (the read models keep no list of bit rot): a heavy query, cached
//     per checkpoint by Cache.
//   - Handlers of one NATS endpoint run one at a time (micro's model), so a
//     slow query delays the next request to the same endpoint.
//   - Heavy queries (a regex, no limit, every duplicate, large listings)
//     take a slot of Local.Heavy (see Gate) or answer ErrBusy; every query
//     stops when its context ends.
//   - `nats req` shows only the first part of a reply in parts: ask for a
//     page (limit) to read a large answer with the NATS CLI.
package service
