package projections

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/store"
)

// ErrLogReplaced is returned by Run, CatchUp and Rebuild when the log no
// longer holds what the index was built from: the stream was deleted and
// created again (or its jetstream/ directory lost), it is empty, events
// below its first sequence are gone, or it lost more than an unsynced
// tail. The index is left as it is, the only copy of what it knew, and a
// running projector answers no query from it. To build a new index from
// the log as it is now, call AcceptNewLog (indexer-project rebuild
// --accept-new-log), which keeps the old file as index.db.orphaned-TIME.
var ErrLogReplaced = errors.New("the log was replaced under the index")

// TailLossWindow is the most log time a lost tail may span to be rebuilt
// without the operator: JetStream writes to disk at once but syncs every
// two minutes by default (sync_interval), so a power loss or crash of the
// machine loses at most about that much of what it acknowledged. It is
// measured from the time of storing of the log's last event to that of the
// index's checkpoint; a gap wider than this is an older copy of the store
// (a restored backup), not a lost tail.
const TailLossWindow = 5 * time.Minute

// keyCheckpointTime is the meta key of the log's time of storing of the
// checkpoint's event (be64 Unix nanoseconds), written with the checkpoint.
var keyCheckpointTime = []byte("checkpoint_log_time")

// identityEvery is how often a following projector checks that the stream
// is still the one its index was built from, besides before every commit.
const identityEvery = time.Second

// verdict says whether an index at cp, whose checkpoint's event was stored
// at cpTime (zero if unknown), can follow the stream. reason is "" when it
// can. Otherwise auto says whether the index may be rebuilt without the
// operator: the index is of another read model version (the log is whole),
// or the stream, the same incarnation, lost a tail no longer than
// TailLossWindow (lastTime is the time of storing of its last event).
func verdict(cp store.Checkpoint, cpTime time.Time, info store.StreamInfo, lastTime time.Time) (reason string, auto bool) {
	switch {
	case cp.Seq == 0:
		return "", false
	case !cp.StreamCreated.Equal(info.Created):
		return fmt.Sprintf("the stream was deleted and created again (or its store lost): the index at seq %d was built from the stream created %s, the log now is the stream created %s, holding %d events",
			cp.Seq, cp.StreamCreated.Format(time.RFC3339Nano), info.Created.UTC().Format(time.RFC3339Nano), info.Msgs), false
	case info.LastSeq == 0 || info.Msgs == 0:
		return fmt.Sprintf("the log is empty but the index holds its events up to seq %d", cp.Seq), false
	case info.FirstSeq > cp.Seq+1:
		return fmt.Sprintf("the log starts at seq %d: the events from seq %d the index has not applied are gone", info.FirstSeq, cp.Seq+1), false
	case info.LastSeq < cp.Seq:
		gap := cpTime.Sub(lastTime)
		if !cpTime.IsZero() && !lastTime.IsZero() && gap <= TailLossWindow {
			return fmt.Sprintf("the log was truncated, losing its unsynced tail: it ends at seq %d, stored %s before the index's checkpoint at seq %d (within %s, JetStream's sync interval and then some: a power loss or crash)",
				info.LastSeq, gap.Round(time.Millisecond), cp.Seq, TailLossWindow), true
		}
		span := "an unknown time"
		if !cpTime.IsZero() && !lastTime.IsZero() {
			span = gap.Round(time.Second).String()
		}
		return fmt.Sprintf("the log ends at seq %d but the index is at seq %d, %s later than the log's last event: more than an unsynced tail (over %s) is gone, as when an older copy of the store came back",
			info.LastSeq, cp.Seq, span, TailLossWindow), false
	case cp.ModelVersion != ModelVersion:
		return fmt.Sprintf("the index has read model version %d, this program builds version %d", cp.ModelVersion, ModelVersion), true
	}
	return "", false
}

// checkpointTime reads the log time of the checkpoint's event.
func checkpointTime(tx *store.Tx) time.Time {
	v := tx.Bucket(bucketMeta).Get(keyCheckpointTime)
	if len(v) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
}

// A verdict against the index on a replicated stream is asked again
// staleLooks times, staleWait apart, and acted on only when every answer
// gives one and comes from a leader that has heard a majority of the
// stream's replicas (StreamInfo.Quorum): a node that was paused (SIGSTOP,
// a suspended VM) answers, as the leader it still believes it is, from
// its stale store until it hears the new leader, and that store may end
// below the index's checkpoint. Taken for a lost tail, it had the index
// rebuilt from the stale store (TestStaleLeaderIsNotALostTail); taken for
// a replaced log, projection would stop. An answer without a quorum is
// asked again for up to staleMaxLooks, then the log counts as
// unavailable (retried); a real loss stays one when asked again.
var (
	staleLooks    = 4
	staleMaxLooks = 60
	staleWait     = 2 * time.Second
)

// logVerdict compares the index with the stream as it is now.
func (p *Projector) logVerdict(ctx context.Context) (store.StreamInfo, string, bool, error) {
	var cp store.Checkpoint
	var cpTime time.Time
	if err := p.view(func(tx *store.Tx) error { cp, cpTime = tx.Checkpoint(), checkpointTime(tx); return nil }); err != nil {
		return store.StreamInfo{}, "", false, err
	}
	trusted := 0
	for look := 1; ; look++ {
		info, reason, auto, err := p.streamVerdict(ctx, cp, cpTime)
		if err != nil || reason == "" || info.Replicas <= 1 {
			return info, reason, auto, err
		}
		// Another read model version alone is not the stream's answer.
		current := cp
		current.ModelVersion = ModelVersion
		if r, _ := verdict(current, cpTime, info, time.Time{}); r == "" {
			return info, reason, auto, nil
		}
		if info.Quorum {
			trusted++
		}
		switch {
		case trusted >= staleLooks:
			return info, reason, auto, nil
		case look >= staleMaxLooks:
			return info, "", false, fmt.Errorf("%w: the stream's leader answers without a majority of its replicas (a node back from a pause?): %s", store.ErrUnavailable, reason)
		}
		p.logger().Info("the log looks changed under the index; asking again, as a paused replica answers from its stale store until it hears the new leader", "reason", reason, "look", look, "quorum", info.Quorum, "in", staleWait)
		select {
		case <-ctx.Done():
			return info, "", false, ctx.Err()
		case <-time.After(staleWait):
		}
	}
}

// streamVerdict asks the stream once and gives the verdict on an index at
// cp.
func (p *Projector) streamVerdict(ctx context.Context, cp store.Checkpoint, cpTime time.Time) (store.StreamInfo, string, bool, error) {
	info, err := p.Log.Info(ctx)
	if err != nil {
		return info, "", false, err
	}
	var lastTime time.Time
	if info.LastSeq > 0 && info.LastSeq < cp.Seq {
		r, err := p.Log.Get(ctx, info.LastSeq)
		if err != nil {
			return info, "", false, err
		}
		lastTime = r.Time
	}
	reason, auto := verdict(cp, cpTime, info, lastTime)
	return info, reason, auto, nil
}

// replaced is the error of an index whose log was replaced.
func replaced(reason string) error {
	return fmt.Errorf("%w: %s; the index is kept as it was and answers no queries: to build a new one from the log as it is now, run 'indexer-project rebuild --accept-new-log' (the old index is kept as index.db.orphaned-TIME)", ErrLogReplaced, reason)
}

// OrphanPath returns the name the old index at path is kept under when a
// new log is accepted at t.
func OrphanPath(path string, t time.Time) string { return asidePath(path, "orphaned", t) }

// AcceptNewLog keeps the index aside as OrphanPath(Path, now) and rebuilds
// it from the log as it is now, whatever the log's verdict: the operator's
// answer to ErrLogReplaced. It returns the orphan's path. A Run that
// stopped with ErrLogReplaced may be started again.
func (p *Projector) AcceptNewLog(ctx context.Context) (string, error) {
	orphan := OrphanPath(p.Path, time.Now())
	// A hard link keeps the old file as it is while the rebuild renames a
	// new one over Path; nothing is copied.
	if err := os.Link(p.Path, orphan); err != nil {
		return "", fmt.Errorf("accept the new log: keep the old index: %w", err)
	}
	syncDir(filepath.Dir(p.Path))
	p.logger().Warn("building a new index from the log as it is now; the old one is kept", "old", orphan, "index", p.Path)
	if err := p.rebuild(ctx); err != nil {
		return orphan, fmt.Errorf("accept the new log: %w", err)
	}
	p.nmu.Lock()
	if errors.Is(p.fatal, ErrLogReplaced) {
		p.fatal = nil
	}
	p.nmu.Unlock()
	return orphan, nil
}
