package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Record is one stored event as the log holds it: its sequence, subject,
// time of storing and raw JSON. Decode Data with events.Decode; a stranger
// may have published anything on the subjects.
type Record struct {
	Seq     uint64
	Subject string
	Time    time.Time
	Data    []byte
	// Pending is how many matching events followed this one in the log when
	// it was delivered; 0 means it was the tail.
	Pending uint64
	// Source is the event's SourceHeader: which of the stream's sources
	// stored it (a laptop's, see CheckSource), "" for an event appended
	// to the stream directly.
	Source string
}

// Reader reads the log in sequence order from a starting sequence, through
// an ordered consumer (no server-side state to clean up, restarted by the
// client on any gap). Close it when done.
type Reader struct {
	it      jetstream.MessagesContext
	pending uint64 // matching events not yet delivered, at open
	log     *Log
	last    uint64 // the last sequence delivered
}

// NewReader opens a reader at sequence from (1 or 0 for the beginning),
// delivering only subjects matching filter ("" for every event; see
// events.MachineSubjects).
func (l *Log) NewReader(ctx context.Context, from uint64, filter string) (*Reader, error) {
	return l.newReader(ctx, from, filter, readAhead, false)
}

// readAhead is how many events a Reader asks the server for at a time.
const readAhead = 8192

// newReader is NewReader pulling pull events at a time, on a brief
// consumer if asked (see orderedConsumer).
func (l *Log) newReader(ctx context.Context, from uint64, filter string, pull int, brief bool) (*Reader, error) {
	cons, pending, err := l.orderedConsumer(ctx, from, filter, false, brief)
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pull))
	if err != nil {
		return nil, fmt.Errorf("read log from %d: %w", from, translate(err))
	}
	return &Reader{it: it, pending: pending, log: l}, nil
}

// orderedConsumer makes an ordered consumer from sequence from on filter,
// of the messages' headers only if asked, and returns it with the number
// of matching events it has to deliver. A brief one is for a short read:
// the server drops it soon after, not after the default five minutes
// (Stop does not delete it, and a stream takes 1,000 at most).
func (l *Log) orderedConsumer(ctx context.Context, from uint64, filter string, headersOnly, brief bool) (jetstream.Consumer, uint64, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, HeadersOnly: headersOnly}
	if brief {
		cfg.InactiveThreshold = 10 * time.Second
	}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	// The API requests wait for a reply; one lost with a server that died
	// would otherwise be waited for as long as ctx allows, maybe forever.
	actx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var cons jetstream.Consumer
	var info *jetstream.ConsumerInfo
	err := l.call(actx, func(ctx context.Context) (err error) {
		if cons, err = l.js.OrderedConsumer(ctx, l.Stream, cfg); err != nil {
			return err
		}
		info, err = cons.Info(ctx)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read log from %d: %w", from, translate(err))
	}
	return cons, info.NumPending, nil
}

// apiTimeout bounds a JetStream API request made on a caller's context.
const apiTimeout = 5 * time.Second

// Pending returns how many matching events the log held beyond the start
// when the reader opened.
func (r *Reader) Pending() uint64 { return r.pending }

// Next blocks until the next event arrives or ctx ends.
func (r *Reader) Next(ctx context.Context) (Record, error) {
	m, err := r.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return Record{}, ctx.Err()
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return Record{}, ErrClosed
		}
		return Record{}, fmt.Errorf("read log: %w", translate(err))
	}
	md, err := m.Metadata()
	if err != nil {
		return Record{}, fmt.Errorf("read log: %w", err)
	}
	r.last = md.Sequence.Stream
	return Record{
		Seq: md.Sequence.Stream, Subject: m.Subject(), Time: md.Timestamp,
		Data: m.Data(), Pending: md.NumPending, Source: m.Headers().Get(SourceHeader),
	}, nil
}

// Close stops the reader.
func (r *Reader) Close() {
	r.it.Stop()
	r.log.saw(r.last)
}

// Replay calls fn for every matching event from sequence from to the tail as
// it was when Replay began, in order, then returns the last sequence passed
// to fn (0 if none). An error from fn stops the replay and is returned.
func (l *Log) Replay(ctx context.Context, from uint64, filter string, fn func(Record) error) (uint64, error) {
	r, err := l.NewReader(ctx, from, filter)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var last uint64
	for left := r.Pending(); left > 0; left-- {
		rec, err := r.Next(ctx)
		if err != nil {
			return last, err
		}
		if err := fn(rec); err != nil {
			return last, err
		}
		last = rec.Seq
		if rec.Pending == 0 {
			break
		}
	}
	return last, nil
}

// Range calls fn for each event the log holds at sequences from through to,
// in order, and returns the last sequence passed to fn (0 if none). It asks
// the server for no more than the range: a few events by direct gets, more
// through a brief consumer (a Reader pulls thousands ahead), which stops
// at the log's tail.
func (l *Log) Range(ctx context.Context, from, to uint64, fn func(Record) error) (uint64, error) {
	switch {
	case to < from:
		return 0, nil
	case to-from < rangeGets:
		return l.rangeGets(ctx, from, to, fn)
	}
	r, err := l.newReader(ctx, from, "", int(min(to-from+1, readAhead)), true)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if r.Pending() == 0 {
		return 0, nil
	}
	var last uint64
	for {
		rec, err := r.Next(ctx)
		if err != nil || rec.Seq > to {
			return last, err
		}
		if err := fn(rec); err != nil {
			return last, err
		}
		last = rec.Seq
		if rec.Seq == to || rec.Pending == 0 {
			return last, nil
		}
	}
}

// rangeGets is the most events Range reads by direct gets, one request each.
const rangeGets = 64

// rangeGets is Range by direct gets: a sequence the log does not hold
// (never stored, or removed) is passed over.
func (l *Log) rangeGets(ctx context.Context, from, to uint64, fn func(Record) error) (uint64, error) {
	var s jetstream.Stream
	err := l.call(ctx, func(ctx context.Context) (err error) {
		s, err = l.js.Stream(ctx, l.Stream)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read log from %d: %w", from, translate(err))
	}
	var last uint64
	for seq := from; seq <= to; seq++ {
		var m *jetstream.RawStreamMsg
		err := l.call(ctx, func(ctx context.Context) (err error) {
			m, err = s.GetMsg(ctx, seq)
			return err
		})
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			continue
		case err != nil:
			return last, fmt.Errorf("get %d: %w", seq, translate(err))
		}
		if err := fn(recordOf(m)); err != nil {
			return last, err
		}
		last = seq
	}
	return last, nil
}

// Follow calls fn for every matching event from sequence from, in order,
// waiting for new ones, until ctx ends or fn returns an error.
func (l *Log) Follow(ctx context.Context, from uint64, filter string, fn func(Record) error) error {
	r, err := l.NewReader(ctx, from, filter)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		rec, err := r.Next(ctx)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// findIDs calls fn with the message id and sequence of every event
// matching filter ("" for all) from sequence from to the tail as it was
// when findIDs began, and returns the last sequence it read (0 if none).
// It reads headers only: the Appender searches with it for events whose
// acknowledgement was lost.
func (l *Log) findIDs(ctx context.Context, from uint64, filter string, fn func(id string, seq uint64)) (last uint64, err error) {
	cons, pending, err := l.orderedConsumer(ctx, from, filter, true, true)
	if err != nil || pending == 0 {
		return 0, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(8192))
	if err != nil {
		return 0, fmt.Errorf("search log from %d: %w", from, translate(err))
	}
	defer it.Stop()
	for left := pending; left > 0; left-- {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return last, fmt.Errorf("search log: %w", translate(err))
		}
		md, err := m.Metadata()
		if err != nil {
			return last, fmt.Errorf("search log: %w", err)
		}
		last = md.Sequence.Stream
		fn(m.Headers().Get(jetstream.MsgIDHeader), last)
		if md.NumPending == 0 {
			break
		}
	}
	return last, nil
}

// recordOf is the Record of a message got by its sequence.
func recordOf(m *jetstream.RawStreamMsg) Record {
	return Record{Seq: m.Sequence, Subject: m.Subject, Time: m.Time, Data: m.Data, Source: m.Header.Get(SourceHeader)}
}
