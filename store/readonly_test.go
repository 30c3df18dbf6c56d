package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/indexer/indexer/store"
)

// TestReadOnlyLogLeavesTheStreamAlone: a read-only Log (a read replica)
// finds the stream its owner configured and changes nothing of it, even
// when its own settings differ; where there is no stream it creates none,
// nor the lease bucket, and says ErrNotFound.
func TestReadOnlyLogLeavesTheStreamAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := MustOpenServer(t, "", true)
	nc, err := srv.Connect("replica")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	streamConfig := func() (maxBytes int64, dup time.Duration, found bool) {
		t.Helper()
		m, err := nc.Request("$JS.API.STREAM.INFO.INDEXER", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Config *struct {
				MaxBytes   int64         `json:"max_bytes"`
				Duplicates time.Duration `json:"duplicate_window"`
			} `json:"config"`
		}
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		if info.Config == nil {
			return 0, 0, false
		}
		return info.Config.MaxBytes, info.Config.Duplicates, true
	}
	bucketExists := func() bool {
		m, err := nc.Request("$JS.API.STREAM.INFO.KV_"+store.LeaseBucket, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Config any `json:"config"`
		}
		json.Unmarshal(m.Data, &info)
		return info.Config != nil
	}

	replica := &store.Log{Conn: nc, ReadOnly: true}
	if err := replica.Open(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read-only open without a stream: %v, want ErrNotFound", err)
	}
	if _, _, found := streamConfig(); found {
		t.Fatal("a read-only open created the stream")
	}
	if bucketExists() {
		t.Fatal("a read-only open created the lease bucket")
	}

	ownerConn, err := srv.Connect("owner")
	if err != nil {
		t.Fatal(err)
	}
	defer ownerConn.Close()
	owner := &store.Log{Conn: ownerConn, MaxBytes: 1 << 30, Duplicates: 10 * time.Second}
	if err := owner.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := owner.Append(ctx, testEvents(3, "m")...); err != nil {
		t.Fatal(err)
	}
	// The replica's own settings (the defaults: no byte limit, a 3 s
	// window) are not the owner's: a provisioning open would apply them.
	replica = &store.Log{Conn: nc, ReadOnly: true}
	if err := replica.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if maxBytes, dup, _ := streamConfig(); maxBytes != 1<<30 || dup != 10*time.Second {
		t.Fatalf("after a read-only open: max bytes %d, duplicates %s; want the owner's %d and 10s", maxBytes, dup, 1<<30)
	}
	if info, err := replica.Info(ctx); err != nil || info.Msgs != 3 {
		t.Fatalf("read-only info: %+v %v, want 3 events", info, err)
	}
	n := 0
	if _, err := replica.Replay(ctx, 1, "", func(store.Record) error { n++; return nil }); err != nil || n != 3 {
		t.Fatalf("read-only replay: %d events, %v; want 3", n, err)
	}
}
