package store

import "context"

// IDs calls fn with the message id (the event's id, Nats-Msg-Id) and the
// sequence of every event matching filter ("" for all) from sequence from
// to the tail as it was when IDs began, reading headers only, and returns
// the last sequence it read (0 if none). An import asks it what the log
// already holds, so an event is stored once however often it is imported.
func (l *Log) IDs(ctx context.Context, from uint64, filter string, fn func(id string, seq uint64)) (uint64, error) {
	return l.findIDs(ctx, from, filter, fn)
}
