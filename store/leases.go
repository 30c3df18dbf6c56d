package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// HeldLeases returns the names whose lease is held now (the machines being
// scanned), in no particular order; none when no scan ever ran.
func (l *Log) HeldLeases(ctx context.Context) ([]string, error) {
	kv, err := l.js.KeyValue(ctx, LeaseBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("held leases: %w", translate(err))
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("held leases: %w", translate(err))
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	return names, nil
}
