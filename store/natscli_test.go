package store_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store/storetest"
)

// TestNATSCLIReadsTheLog reads the log back with the real NATS CLI: the
// stream, its readable subjects, and events as plain JSON.
func TestNATSCLIReadsTheLog(t *testing.T) {
	t.Parallel()
	cli := storetest.NATSCLI(t)
	srv := storetest.MustOpenServer(t, "", false)
	l := storetest.MustOpenLog(t, srv)
	evs := testEvents(3, "nas1")
	evs[1].Data.(*events.FileScanned).Path = "/caf\xe9/new\nline"
	if err := l.Append(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	nats := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(cli, append([]string{"--server", srv.ClientURL()}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nats %v: %v\n%s", args, err, out)
		}
		return out
	}
	var info struct {
		Config struct {
			Name        string   `json:"name"`
			Subjects    []string `json:"subjects"`
			Compression string   `json:"compression"`
			DenyDelete  bool     `json:"deny_delete"`
			DenyPurge   bool     `json:"deny_purge"`
		} `json:"config"`
		State struct {
			Msgs uint64 `json:"messages"`
		} `json:"state"`
	}
	if err := json.Unmarshal(nats("stream", "info", "INDEXER", "--json"), &info); err != nil {
		t.Fatal(err)
	}
	if info.Config.Name != "INDEXER" || info.State.Msgs != 3 || info.Config.Compression != "s2" ||
		!info.Config.DenyDelete || !info.Config.DenyPurge || strings.Join(info.Config.Subjects, ",") != "idx.>" {
		t.Fatalf("stream info: %+v", info)
	}
	if out := nats("stream", "subjects", "INDEXER", "--json"); !strings.Contains(string(out), `"idx.nas1.file.scanned": 3`) {
		t.Fatalf("stream subjects: %s", out)
	}
	out := nats("stream", "get", "INDEXER", "2", "--json")
	var msg struct {
		Subject string `json:"subject"`
		Data    []byte `json:"data"`
	}
	if err := json.Unmarshal(out, &msg); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	e, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatalf("event read by the NATS CLI does not decode: %v\n%s", err, msg.Data)
	}
	if msg.Subject != "idx.nas1.file.scanned" || e.ID != evs[1].ID || string(e.Data.(*events.FileScanned).Path) != "/caf\xe9/new\nline" {
		t.Fatalf("nats stream get 2: subject %s, event %+v", msg.Subject, e)
	}
	if !json.Valid(msg.Data) || !strings.Contains(string(msg.Data), `"type":"FileScanned"`) {
		t.Fatalf("event is not readable JSON: %s", msg.Data)
	}
}
