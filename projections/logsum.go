package projections

import (
	"log/slog"
	"time"
)

// batchLog sums the batches Run commits into one info line every
// batchLogEvery (and when the projector reaches the log's end after a
// busy spell): a scan's trickle commits many batches a second, one line
// each would drown the log.
type batchLog struct {
	since   time.Time
	batches int
	events  int
	busy    time.Duration
}

const batchLogEvery = 10 * time.Second

// add records a committed batch of n events up to seq that took d; atEnd
// says the batch reached the end of what the log held (it was not full).
// A catch-up of more than one full batch is summed up when it ends.
func (b *batchLog) add(logger *slog.Logger, n int, seq uint64, d time.Duration, atEnd bool) {
	now := time.Now()
	if b.batches == 0 {
		b.since = now
	}
	b.batches++
	b.events += n
	b.busy += d
	if elapsed := now.Sub(b.since); elapsed >= batchLogEvery || atEnd && b.batches > 1 && b.events > n {
		logger.Info("projected", "events", b.events, "batches", b.batches, "checkpoint", seq,
			"busy", b.busy.Round(time.Millisecond), "over", elapsed.Round(time.Millisecond))
		*b = batchLog{}
	}
}

// flush logs what add has not yet.
func (b *batchLog) flush(logger *slog.Logger, seq uint64) {
	if b.batches > 0 {
		logger.Info("projected", "events", b.events, "batches", b.batches, "checkpoint", seq,
			"busy", b.busy.Round(time.Millisecond), "over", time.Since(b.since).Round(time.Millisecond))
	}
	*b = batchLog{}
}
