// Package web serves the indexer over HTTP: the pyFileIndexer API, so its
// users and scripts can switch, the indexer's own JSON API, Prometheus
// metrics, and a web UI, all from one http.Handler over service.Queries.
//
// # pyFileIndexer's endpoints
//
//	GET /api/files       page, per_page (<= 100), name, path, machine, min_size, max_size, hash_value
//	GET /api/search      query, search_type=name|path|hash; paged here with page, per_page
//	                     (the body stays a list; X-Total-Count and X-Pages tell the rest)
//	GET /api/statistics
//	GET /api/duplicates  page, per_page, min_size (default 1 MiB), min_count (>= 2),
//	                     sort_by=count_desc|count_asc|size_desc|size_asc (and wasted_*)
//	GET /api/tree        path=/machine/dir/... (or path=/dir/... and machine, which
//	                     one machine in the index needs not): the directory index, with sizes
//	GET /health
//
// Their shapes are pyFileIndexer's (FileWithHash: {meta, hash}); fields
// beyond them (size, seq, wasted, dirs with sizes) are additions. "scanned"
// is the end of the machine's last scan: an unchanged file leaves no event,
// so that is the last time the index knows it was there. A path that is not
// UTF-8 is shown with \xNN escapes and its bytes are in path_b64. A member
// of an archive (path ARCHIVE::inner, told by its event's archive field,
// not by "::", which a real name may hold) has is_archived true and
// archive_path the archive file on disk, as pyFileIndexer sends them;
// other files false and null.
//
// # The indexer's endpoints
//
//	GET /api/file?machine&path     a file, its other copies, its history
//	GET /api/lookup?machine&path   one file
//	GET /api/history?machine&path  a path's events, with the events from the log
//	GET /api/find                  q, mode=substring|glob|regex, in=name|path, case, machine,
//	                               under, ext, min_size, max_size, hash, archived, limit, offset
//	GET /api/dupes                 sort=wasted|size|count, order, min_size, min_count, machine,
//	                               files, limit, offset
//	GET /api/group?sha256          a content and its files
//	GET /api/ls?machine&dir        a directory's subdirectories (recursive sizes) and files;
//	                               an archive file lists its members as a directory
//	GET /api/rot?machine           files whose last --verify found bit rot
//	GET /api/stats, /api/machines, /api/scans, /api/status
//	GET /metrics                   Prometheus
//	GET /live, /ready              liveness and readiness, kept apart (see ops.go)
//
// A file's "mode" in these replies is its POSIX st_mode (33188 for
// -rw-r--r--) with "mode_text" as ls shows it, as the CLI's JSON and the
// NATS service give it (service.AppendReply); the index itself records Go's
// fs.FileMode bits.
//
// Handler.Health judges /health when set; Handler.Collectors and
// Handler.Mounts add metrics and handlers (indexer-project mounts the
// embedded NATS server's monitoring under /nats/).
//
// Every path parameter has a _b64 twin (path_b64, dir_b64, under_b64) that
// carries the exact bytes of a name a URL cannot hold as text. Bad
// parameters get a 400 with {"detail": "..."} (FastAPI's shape); what the
// index does not hold, a 404.
//
// # The UI
//
// ui/ holds plain HTML, CSS and JavaScript, embedded in the binary: no Node
// build. Pages are hash routes (#/search?q=..., #/dupes, #/tree?m=...,
// #/file?m=...&p=...) rendered from the JSON API. File names are only ever
// inserted as text, and the Content-Security-Policy allows no inline script.
// Keyboard: / search, j/k rows, Enter open, g d/s/u/t pages, u up a
// directory, [ ] pages, ? help.
//
// # Access
//
// The Handler itself checks nothing; Protect wraps it with an Access: a
// token every request but /health and /api/health must carry (a bearer
// token, or the password of basic authentication, which a browser asks for
// and then sends with the UI's requests), and the Host names a request may
// use (on loopback: localhost, 127.0.0.1, ::1, against DNS rebinding).
// Server serves HTTPS with TLSCert and TLSKey.
//
// # Caveats
//
//   - The Handler alone has no authentication: wrap it with Protect, as
//     indexer-project does (a token beyond loopback, the Host check on it).
//   - /api/statistics's duplicate_files walks every duplicate group (cached
//     per checkpoint behind a service.Cache).
//   - A group's files are read whole before being cut to a page (see
//     package service).
//   - A search counts at most projections.DefaultTotalLimit matches (or the
//     page's end, if further): past that, total and pages are lower bounds
//     and total_capped is true (/api/search: the X-Total-Capped header).
package web
