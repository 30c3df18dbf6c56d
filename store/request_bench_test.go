package store_test

import (
	"context"
	"testing"

	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// BenchmarkRequest asks a service over the loopback socket, one request at
// a time, with a small reply: the round trip the indexer CLI makes per
// query when a projector serves the index.
func BenchmarkRequest(b *testing.B) {
	srv := storetest.MustOpenServer(b, b.TempDir(), false)
	l := storetest.MustOpenLog(b, srv)
	reply := []byte(`{"files":1000000,"bytes":123456789}`)
	svc, err := l.StartService(store.ServiceConfig{
		Name: "bench", Version: "1.0.0",
		Endpoints: []store.ServiceEndpoint{{Name: "echo", Subject: "bench.echo", Handler: func(context.Context, []byte) ([]byte, error) { return reply, nil }}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Stop()
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Request(ctx, "bench.echo", nil); err != nil {
			b.Fatal(err)
		}
	}
}
