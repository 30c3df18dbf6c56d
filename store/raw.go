package store

import (
	"context"
	"fmt"
)

// AppendRaw publishes data as is on subject and returns the sequence the log
// stored it at. It is how a stranger on the NATS network (or a test playing
// one) writes anything at all onto the event subjects: no encoding, no
// validation, no message id, no retry.
func (l *Log) AppendRaw(ctx context.Context, subject string, data []byte) (uint64, error) {
	ack, err := l.js.Publish(ctx, subject, data)
	if err != nil {
		return 0, fmt.Errorf("append raw %s: %w", subject, translate(err))
	}
	return ack.Sequence, nil
}
