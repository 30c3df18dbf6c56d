package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/events"
)

// DefaultStream is the name of the stream that holds the log.
const DefaultStream = "INDEXER"

// Log is the append-only event log: one JetStream stream capturing idx.>.
// Set the fields, then Open, which creates or updates the stream.
type Log struct {
	// Conn is a connected client (Server.Connect or Dial). The Log does not
	// close it. An Appender needs publishes never to be buffered while the
	// connection reconnects (nats.ReconnectBufSize(-1), as Dial sets).
	Conn *nats.Conn
	// Stream defaults to DefaultStream.
	Stream string
	// Replicas is the stream's replica count: 1 embedded, 3 on a
	// cluster. Open creates the stream with it, and changes an existing
	// stream's count to it in place (a cluster moves the data; a single
	// server refuses more than 1). 0 keeps an existing stream's count and
	// creates a new one with 1; after Open it is the stream's count.
	Replicas int
	// MaxBytes limits the stream's size; -1 (the default when 0) is no
	// limit. The log is the source of truth: it never discards old events,
	// it refuses new ones (ErrLogFull).
	MaxBytes int64
	// Duplicates is the deduplication window: a publish whose message id was
	// stored within it is stored once. Default 3 seconds: the server keeps
	// every id of the window in memory (about 115 bytes each, and it frees
	// expired ones in bulk, so up to three windows' worth) and reloads them
	// on start. An Appender resends blindly only within half of it and
	// searches the log before a later resend, so the window bounds memory,
	// not how long an append is retried.
	Duplicates time.Duration
	// RequestTimeout is how long Request waits for each message of a
	// reply when its context has no deadline: 10 seconds when 0.
	RequestTimeout time.Duration
	// ReadOnly makes Open only find the stream: it never creates it,
	// changes its configuration or creates the lease bucket, and returns
	// ErrNotFound when the stream does not exist. For a read replica:
	// another process owns the stream's configuration. Such a Log is
	// for reading; nothing stops an Appender made from it.
	ReadOnly bool

	js jetstream.JetStream
	// perm holds the permission violations of Conn (nil for a connection
	// not made by Dial or Server.Connect).
	perm *permWatch
	// seen is the highest sequence this Log has seen stored (read,
	// acknowledged, or the stream's last in Info): an event appended later
	// is stored above it, where an Appender's search for it starts.
	seen atomic.Uint64
}

// saw records that seq is stored.
func (l *Log) saw(seq uint64) {
	for {
		cur := l.seen.Load()
		if seq <= cur || l.seen.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// StreamInfo is the part of the stream's state callers need.
type StreamInfo struct {
	Name     string
	Created  time.Time // identifies this incarnation of the stream
	FirstSeq uint64
	LastSeq  uint64
	Msgs     uint64
	Bytes    uint64
	Subjects uint64
	// Replicas is the stream's replica count: above 1, the answer came
	// from the node that believes it leads, which a paused node does,
	// from its stale store, until it hears the new leader.
	Replicas int
	// Quorum reports that the answer can be trusted as the stream's: it
	// is not replicated, or the node that answered as its leader has
	// heard a majority of its replicas (itself and the followers current
	// and seen within QuorumActive). A node thawed after a pause answers
	// as the leader it was, without that majority, until it hears the
	// new leader.
	Quorum bool
}

// QuorumActive is how recently a follower must have been heard for the
// leader's answer to count it towards StreamInfo.Quorum.
const QuorumActive = 5 * time.Second

// Lag is how many events of the stream come after seq: the events a reader
// at seq has not applied yet.
func (info StreamInfo) Lag(seq uint64) uint64 {
	if info.LastSeq > seq {
		return info.LastSeq - seq
	}
	return 0
}

// Open provisions the stream, idempotently: the same config twice is no
// change, and an updated config is applied in place (Replicas 0 keeps the
// stream's replica count). A ReadOnly Log only finds it.
func (l *Log) Open(ctx context.Context) error {
	if l.Conn == nil {
		return fmt.Errorf("open log: no connection")
	}
	if l.Stream == "" {
		l.Stream = DefaultStream
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = -1
	}
	if l.Duplicates == 0 {
		l.Duplicates = 3 * time.Second
	}
	js, err := jetstream.New(l.Conn,
		// The Appender bounds in-flight publishes and times out acks itself,
		// with one timer for the oldest rather than one per message.
		jetstream.WithPublishAsyncMaxPending(1<<20),
	)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	l.js = js
	l.perm = watchOf(l.Conn)
	if l.ReadOnly {
		return l.find(ctx)
	}
	cfg := jetstream.StreamConfig{
		Name:        l.Stream,
		Description: "indexer event log: immutable file facts, JSON, see events package",
		Subjects:    []string{events.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    l.MaxBytes,
		MaxMsgs:     -1,
		MaxAge:      0,
		MaxMsgSize:  1 << 20,
		Duplicates:  l.Duplicates,
		Replicas:    l.Replicas,
		Compression: jetstream.S2Compression,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}
	if err := whileStarting(ctx, func() error { return l.provision(ctx, cfg) }); err != nil {
		return fmt.Errorf("provision stream %s: %w", l.Stream, translate(err))
	}
	// The lease bucket too, so a scanner whose credential may not create
	// it finds it. Retried as the stream is: a cluster whose bucket lost
	// its leader answers again once it elected another.
	err = whileStarting(ctx, func() error { _, err := l.leaseBucket(ctx, DefaultLeaseTTL); return err })
	if err != nil && !errors.Is(err, ErrPermission) {
		return fmt.Errorf("provision lease bucket: %w", translate(err))
	}
	return nil
}

// whileStarting runs fn until it succeeds or fails for good, at most 21
// times, 250 ms apart: JetStream may still be starting, or a cluster
// electing a leader.
func whileStarting(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt == 20 || ctx.Err() != nil || !retryable(err) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// find waits while JetStream starts, then returns nil when the stream
// exists, ErrNotFound when it does not. (Info's errors are translated, so
// it waits on ErrUnavailable rather than through whileStarting.)
func (l *Log) find(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		_, err := l.Info(ctx)
		if err == nil || attempt == 20 || ctx.Err() != nil || !errors.Is(err, ErrUnavailable) {
			if err != nil {
				return fmt.Errorf("find stream %s: %w", l.Stream, err)
			}
			return nil
		}
		time.Sleep(250 * time.Millisecond) // JetStream may still be starting
	}
}

// provision creates the stream or brings its configuration to cfg. A
// stream already configured so is left alone, so a credential that may
// not manage streams (a scanner, a reader) opens it without trying; one
// configured otherwise (another MaxBytes, say) is used as it is by such a
// credential. cfg.Replicas 0 keeps the stream's count, whatever happens to
// the attempts before: l.Replicas is set only when it succeeds, so a retry
// after a timed-out stream info (a cluster electing the stream's leader)
// never takes a count it did not learn for a request of 1. A stream not
// found is created, never updated: a stream that appeared meanwhile (or
// that a node answering during an election did not know) is asked for
// again rather than scaled down.
func (l *Log) provision(ctx context.Context, cfg jetstream.StreamConfig) error {
	var exists bool
	err := l.call(ctx, func(ctx context.Context) error {
		s, err := l.js.Stream(ctx, cfg.Name)
		if err != nil {
			return err
		}
		exists = true
		got := s.CachedInfo().Config
		if cfg.Replicas == 0 {
			cfg.Replicas = got.Replicas
		}
		if sameStream(got, cfg) {
			return nil
		}
		// The sources are the hub's laptops (LeafHub): kept as they are.
		cfg.Sources = got.Sources
		return errNeedsUpdate
	})
	if err == nil {
		l.Replicas = cfg.Replicas
		return nil
	}
	if !errors.Is(err, errNeedsUpdate) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	err = l.call(ctx, func(ctx context.Context) (err error) {
		if exists {
			_, err = l.js.UpdateStream(ctx, cfg)
		} else {
			_, err = l.js.CreateStream(ctx, cfg)
		}
		return err
	})
	switch {
	case err == nil:
		l.Replicas = cfg.Replicas
		return nil
	case errors.Is(err, ErrPermission) && exists:
		return nil
	case errors.Is(err, ErrPermission):
		return fmt.Errorf("the stream does not exist and %w; start indexer-project (or a scan with the data directory's own credential) first", err)
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		// It exists after all, configured otherwise: whileStarting asks
		// again, and the next attempt finds it.
		return fmt.Errorf("%w: %v", errExistsAfterAll, err)
	case cfg.Replicas > 1 && !retryable(err):
		// Not wrapped: the server's "insufficient resources" here means
		// too few nodes, not a full log.
		return fmt.Errorf("%d replicas: %v (a single server keeps 1; a cluster, at most as many as it has nodes)", cfg.Replicas, err)
	}
	return err
}

// errExistsAfterAll is a creation refused because the stream (or the lease
// bucket) exists: whileStarting tries again, and finds it.
var errExistsAfterAll = errors.New("the stream exists after all")

var errNeedsUpdate = errors.New("stream configuration differs")

// sameStream reports whether got has what Open sets in want.
func sameStream(got, want jetstream.StreamConfig) bool {
	return got.Description == want.Description && slices.Equal(got.Subjects, want.Subjects) &&
		got.Storage == want.Storage && got.Retention == want.Retention && got.Discard == want.Discard &&
		got.MaxBytes == want.MaxBytes && got.MaxMsgs == want.MaxMsgs && got.MaxAge == want.MaxAge &&
		got.MaxMsgSize == want.MaxMsgSize && got.Duplicates == want.Duplicates && got.Replicas == want.Replicas &&
		got.Compression == want.Compression && got.DenyDelete == want.DenyDelete && got.DenyPurge == want.DenyPurge &&
		got.AllowDirect == want.AllowDirect
}

// call runs an API request fn on a context that a permissions violation
// reported on the connection ends at once, and returns that
// *PermissionError instead of fn's error.
func (l *Log) call(ctx context.Context, fn func(ctx context.Context) error) error {
	gctx, cancel := l.perm.guard(ctx)
	defer cancel()
	return denied(gctx, fn(gctx))
}

// Info returns the stream's current state.
func (l *Log) Info(ctx context.Context) (StreamInfo, error) {
	var s jetstream.Stream
	err := l.call(ctx, func(ctx context.Context) (err error) {
		s, err = l.js.Stream(ctx, l.Stream)
		return err
	})
	if err != nil {
		return StreamInfo{}, fmt.Errorf("stream info: %w", translate(err))
	}
	info := s.CachedInfo()
	l.saw(info.State.LastSeq)
	quorum := true
	if info.Config.Replicas > 1 {
		heard := 0
		if info.Cluster != nil && info.Cluster.Leader != "" {
			heard = 1
			for _, p := range info.Cluster.Replicas {
				if p.Current && !p.Offline && p.Active < QuorumActive {
					heard++
				}
			}
		}
		quorum = heard > info.Config.Replicas/2
	}
	return StreamInfo{
		Name: info.Config.Name, Created: info.Created,
		FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq,
		Msgs: info.State.Msgs, Bytes: info.State.Bytes, Subjects: uint64(info.State.NumSubjects),
		Replicas: info.Config.Replicas, Quorum: quorum,
	}, nil
}

// Get returns the event stored at seq.
func (l *Log) Get(ctx context.Context, seq uint64) (Record, error) {
	var m *jetstream.RawStreamMsg
	err := l.call(ctx, func(ctx context.Context) error {
		s, err := l.js.Stream(ctx, l.Stream)
		if err != nil {
			return err
		}
		m, err = s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(""))
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("get %d: %w", seq, translate(err))
	}
	return recordOf(m), nil
}

// Append stores events and waits until the log acknowledged every one. It is
// the simple form of an Appender, for a few events at a time.
func (l *Log) Append(ctx context.Context, evs ...events.Event) error {
	a := l.NewAppender()
	for _, e := range evs {
		if err := a.Append(ctx, e); err != nil {
			return err
		}
	}
	return a.Flush(ctx)
}

// translate maps NATS and JetStream errors to store errors, keeping the
// original text.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence:
			return fmt.Errorf("%w: %v", ErrConflict, err)
		case jetstream.JSErrCodeStreamNotFound, jetstream.JSErrCodeMessageNotFound, jetstream.JSErrCodeConsumerNotFound:
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		case 10023: // insufficient resources
			return fmt.Errorf("%w: %v", ErrLogFull, err)
		case 10077: // store failed: a limit (maximum bytes/messages) or I/O
			if strings.Contains(apiErr.Description, "maximum") {
				return fmt.Errorf("%w: %v", ErrLogFull, err)
			}
		}
		if apiErr.Code == 503 {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrMsgNotFound),
		errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w: %v", ErrClosed, err)
	case errors.Is(err, nats.ErrReconnectBufExceeded):
		return fmt.Errorf("%w: the server cannot be reached; the connection is trying to reconnect (%v)", ErrUnavailable, err)
	case retryable(err):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// retryable reports whether err is the kind that goes away when the server
// comes back: timeouts, disconnections, no responders, a socket that broke.
func retryable(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoServers) || errors.Is(err, errExistsAfterAll) ||
		errors.Is(err, nats.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount)
}
