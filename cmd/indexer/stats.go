package main

import (
	"context"
	"fmt"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
)

const statsAbout = `Prints the index's totals: files, bytes, unique bytes, duplicate groups and
wasted bytes, per machine; symbolic links and the members of archives
are counted apart (a link is no file and its size no bytes; an archive
file is a file, what it holds is "in archives"), the last scans and how far the index is behind
the log. Without a running indexer-project it reads index.db alone and does
not know the log's end ("no projector running"; --json leaves status.last_seq
and status.lag out): indexer-project status compares the two.`

func (m *Main) runStats(ctx context.Context, args []string) error {
	fs, qf := m.queryFlags("stats", "", statsAbout)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos, "stats"); err != nil {
		return err
	}
	s, err := m.openSession(ctx, qf, "indexer stats", false)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.q.Stats(ctx)
	if err != nil {
		return err
	}
	scans, err := s.q.Scans(ctx, "", 5)
	if err != nil {
		return err
	}
	status, err := s.q.Status(ctx)
	if err != nil {
		return err
	}
	if qf.json {
		js := statsStatus{Status: status}
		if s.logRead {
			js.LastSeq, js.Lag = &status.LastSeq, &status.Lag
		}
		return newPrinter(m.Stdout, true).obj(struct {
			projections.Stats
			Status statsStatus        `json:"status"`
			Scans  []projections.Scan `json:"last_scans"`
		}{st, js, scans})
	}
	p := newPrinter(m.Stdout, false)
	p.row("files", fmt.Sprint(st.Files))
	p.row("size", app.Bytes(st.Bytes))
	if st.Links > 0 {
		p.row("links", fmt.Sprintf("%d (symbolic: not files, no size)", st.Links))
	}
	if st.Members > 0 {
		p.row("in archives", fmt.Sprintf("%s, %s uncompressed", app.Count(st.Members, "file", "files"), app.Bytes(st.MemberBytes)))
	}
	p.row("unique size", app.Bytes(st.UniqueBytes))
	groups := app.Count(st.Groups, "group", "groups")
	// dupes leaves the empty files' group out unless --empty: say which
	// count is that one, so the two commands agree.
	if empty, err := s.q.Find(ctx, service.FindRequest{Hash: emptySHA256, Limit: 1}); err == nil && empty.Total >= 2 && st.Groups > 0 {
		groups += " (one of them the empty files, which dupes lists with --empty)"
	}
	p.row("duplicates", fmt.Sprintf("%s, %s wasted", groups, app.Bytes(st.Wasted)))
	p.row("index", indexState(status, s.logRead))
	if st.DeadLetters > 0 {
		p.row("rejected events", fmt.Sprintf("%d (see indexer-project status)", st.DeadLetters))
	}
	if err := p.flush(); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout)
	if err := printMachines(m.Stdout, st.Machines); err != nil {
		return err
	}
	if len(scans) > 0 {
		fmt.Fprintln(m.Stdout)
		return printScans(m.Stdout, scans)
	}
	return nil
}

// statsStatus is the status in stats --json. Without a projector, stats
// reads index.db alone and does not start the embedded server to ask the
// log (that would take the data directory, as a scan does): the log's last
// sequence and the lag are then unknown and left out, not 0.
type statsStatus struct {
	service.Status
	LastSeq *uint64 `json:"last_seq,omitempty"`
	Lag     *uint64 `json:"lag,omitempty"`
}

// indexState says where the index is relative to the log; logRead says
// whether s holds the log's last sequence.
func indexState(s service.Status, logRead bool) string {
	out := fmt.Sprintf("at seq %d", s.Checkpoint)
	switch {
	case !logRead:
	case s.Lag == 0:
		out += ", caught up with the log"
	default:
		out += fmt.Sprintf(", %s behind the log", app.Count(s.Lag, "event", "events"))
	}
	switch {
	case s.Live:
		out += " (live)"
	case logRead && s.Lag > 0:
		out += " (" + app.NoProjector + ")"
	case !logRead:
		out += " (no projector running; indexer-project status compares it with the log)"
	}
	return out
}

// emptySHA256 is the sha256 of no bytes: the content of every empty file.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
