package projections

import (
	"context"
	"fmt"
	"os"
	"time"
)

// CompactPath returns the file Compact writes beside the live index at
// path before swapping it in: path + ".compact".
func CompactPath(path string) string { return path + ".compact" }

// Compaction is what Compact did.
type Compaction struct {
	Before int64         `json:"before_bytes"`
	After  int64         `json:"after_bytes"`
	Seq    uint64        `json:"seq"`
	Took   time.Duration `json:"took_ns"`
}

// Compact rewrites the index file to its live size: bbolt reuses freed
// pages but never gives them back, so an index that once held many more
// files than it does keeps its largest size. It copies the live file,
// compacted, beside it (CompactPath) from one read transaction while
// queries and projection go on, then swaps the copy in as Rebuild does,
// applying the events that arrived meanwhile: readers are held only for
// those. Every answer is the same before and after.
//
// An index that does not match its log (see Rebuild) is refused: the
// catch-up would build it afresh while holding readers off.
func (p *Projector) Compact(ctx context.Context) (Compaction, error) {
	start := time.Now()
	tmp := CompactPath(p.Path)
	if _, reason, _, err := p.logVerdict(ctx); err != nil {
		return Compaction{}, fmt.Errorf("compact %s: %w", p.Path, err)
	} else if reason != "" {
		return Compaction{}, fmt.Errorf("compact %s: the index does not match its log (%s): rebuild it instead", p.Path, reason)
	}
	skip, err := p.skipped(ctx)
	if err != nil {
		return Compaction{}, fmt.Errorf("compact %s: %w", p.Path, err)
	}
	p.mu.RLock()
	db := p.db
	var c Compaction
	if db == nil {
		err = fmt.Errorf("compact %s: index closed", p.Path)
	} else {
		c.Before = db.Size()
		err = db.CompactTo(tmp)
	}
	p.mu.RUnlock()
	if err != nil {
		return c, err
	}
	cp, err := p.swapIn(ctx, tmp, BuildOptions{BatchSize: p.rebuildSize(), Decoders: p.decoders(), Logger: p.logger(), Skip: skip})
	if err != nil {
		os.Remove(tmp)
		return c, fmt.Errorf("compact %s: %w", p.Path, err)
	}
	p.mu.RLock()
	c.After = p.db.Size()
	p.mu.RUnlock()
	c.Seq, c.Took = cp.Seq, time.Since(start)
	p.logger().Info("compacted index swapped in", "path", p.Path, "seq", cp.Seq, "before", c.Before, "after", c.After, "took", c.Took.Round(time.Millisecond))
	return c, nil
}
