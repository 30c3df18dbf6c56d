package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseBucket is the JetStream key-value bucket holding scan leases.
const LeaseBucket = "INDEXER_LEASES"

// DefaultLeaseTTL is the lease bucket's TTL when Log.Open creates it:
// how long a crashed holder blocks others.
const DefaultLeaseTTL = 30 * time.Second

// Lease is exclusive use of a name (a machine's scans) across every process
// on the NATS network. It is a key in LeaseBucket that expires TTL after its
// holder stops renewing it, so a crashed holder blocks others for at most
// TTL.
type Lease struct {
	kv     jetstream.KeyValue
	log    *Log
	key    string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	rev uint64
	err error
}

// AcquireLease takes the lease name for holder (a description shown to
// whoever finds it taken), renewing it every ttl/3 until Release. If another
// holder has it, it returns an error wrapping ErrConflict that names them,
// unless stale (when not nil) says that holder is gone (a crashed process
// of this host): then the lease is taken over from it at once, rather than
// after it expires.
func (l *Log) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, stale func(holder string) bool) (*Lease, error) {
	var kv jetstream.KeyValue
	err := whileStarting(ctx, func() (err error) { kv, err = l.leaseBucket(ctx, ttl); return err })
	if err != nil {
		return nil, fmt.Errorf("lease bucket: %w", translate(err))
	}
	// A try whose reply was lost may have taken it: then it holds holder.
	rev, err := l.createLease(ctx, kv, name, holder)
	if errors.Is(err, jetstream.ErrKeyExists) {
		if rev, err = l.takeHeld(ctx, kv, name, holder, stale); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, translate(err))
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	le := &Lease{kv: kv, log: l, key: name, cancel: cancel, rev: rev}
	le.wg.Add(1)
	go le.renew(rctx, []byte(holder), ttl/3)
	return le, nil
}

// createLease creates name's key holding holder, tried again while a
// cluster elects the bucket's leader.
func (l *Log) createLease(ctx context.Context, kv jetstream.KeyValue, name, holder string) (rev uint64, err error) {
	err = whileStarting(ctx, func() error {
		return l.call(ctx, func(ctx context.Context) (err error) {
			rev, err = kv.Create(ctx, name, []byte(holder))
			return err
		})
	})
	return rev, err
}

// takeHeld is AcquireLease once name's key exists: it asks who holds it
// (asked again while a cluster elects the bucket's leader: a lease whose
// holder is not known is not another scan's) and takes it when it is
// holder's own (an earlier try's whose reply was lost), stale's, or free
// again (released or expired since). Otherwise the error wraps
// ErrConflict and names the holder.
func (l *Log) takeHeld(ctx context.Context, kv jetstream.KeyValue, name, holder string, stale func(holder string) bool) (uint64, error) {
	var e jetstream.KeyValueEntry
	err := whileStarting(ctx, func() error {
		return l.call(ctx, func(ctx context.Context) (err error) {
			e, err = kv.Get(ctx, name)
			return err
		})
	})
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err = l.createLease(ctx, kv, name, holder)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("lease %s is held by another scan: %w", name, ErrConflict)
		}
		if err != nil {
			return 0, fmt.Errorf("lease %s: %w", name, translate(err))
		}
		return rev, nil
	case err != nil:
		return 0, fmt.Errorf("lease %s: ask who holds it: %w", name, translate(err))
	}
	who := string(e.Value())
	switch {
	case who == holder:
		return e.Revision(), nil
	case stale != nil && stale(who):
		// Only if it is still that holder's: two taking it over at once
		// cannot both succeed.
		err := l.call(ctx, func(ctx context.Context) (err error) {
			rev, err = kv.Update(ctx, name, []byte(holder), e.Revision())
			return err
		})
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			// Not taken by another: the log refused the write (full,
			// unreachable). Say that, not that a scan runs.
			return 0, fmt.Errorf("lease %s: take over from %s: %w", name, who, translate(err))
		}
	}
	return 0, fmt.Errorf("lease %s is held by %s: %w", name, who, ErrConflict)
}

// leaseBucket opens the lease bucket, creating it when it does not exist
// (a credential that may not create it finds it made by the owner). It is
// created, never updated: a bucket a node answering during an election
// did not know is found on the next attempt, as it is.
func (l *Log) leaseBucket(ctx context.Context, ttl time.Duration) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := l.call(ctx, func(ctx context.Context) (err error) {
		kv, err = l.js.KeyValue(ctx, LeaseBucket)
		return err
	})
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return kv, err
	}
	err = l.call(ctx, func(ctx context.Context) (err error) {
		kv, err = l.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      LeaseBucket,
			Description: "indexer: one scan per machine at a time",
			TTL:         ttl,
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    l.Replicas,
		})
		return err
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		err = fmt.Errorf("%w: %v", errExistsAfterAll, err)
	}
	return kv, err
}

func (le *Lease) renew(ctx context.Context, holder []byte, every time.Duration) {
	defer le.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		le.mu.Lock()
		var rev uint64
		err := le.log.call(ctx, func(ctx context.Context) (err error) {
			rev, err = le.kv.Update(ctx, le.key, holder, le.rev)
			return err
		})
		if err == nil {
			le.rev = rev
		} else if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) {
			le.err = fmt.Errorf("lease %s lost: %w", le.key, ErrConflict) // expired and taken
		}
		le.mu.Unlock()
	}
}

// Err returns why the lease was lost, or nil while it is held.
func (le *Lease) Err() error {
	le.mu.Lock()
	defer le.mu.Unlock()
	return le.err
}

// Release stops renewing and frees the name for the next holder.
func (le *Lease) Release(ctx context.Context) error {
	le.cancel()
	le.wg.Wait()
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.err != nil {
		return nil
	}
	if err := le.log.call(ctx, func(ctx context.Context) error {
		return le.kv.Delete(ctx, le.key, jetstream.LastRevision(le.rev))
	}); err != nil {
		return fmt.Errorf("release lease %s: %w", le.key, translate(err))
	}
	return nil
}
