package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/indexer/indexer/store"
)

// untilLayouts are the forms of --until-time besides RFC 3339 and "N UNIT
// ago": dates and times without a zone are local.
var untilLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// untilUnits are the units of "N UNIT ago". A month is 30 days and a year
// 365: "as of about then".
var untilUnits = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
	"month": 30 * 24 * time.Hour, "year": 365 * 24 * time.Hour,
}

// parseUntil reads --until-time: RFC 3339 (2026-01-02T15:04:05Z), a local
// date or date and time (2026-01-02, 2026-01-02 15:04), or "N UNIT ago"
// (2 weeks ago, 36 hours ago, 90 minutes ago) counted back from now.
func parseUntil(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range untilLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	if f := strings.Fields(strings.ToLower(s)); len(f) == 3 && f[2] == "ago" {
		n, err := strconv.Atoi(f[0])
		unit, ok := untilUnits[strings.TrimSuffix(f[1], "s")]
		if err == nil && ok && n >= 0 {
			return now.Add(-time.Duration(n) * unit), nil
		}
	}
	return time.Time{}, usagef("--until-time %q: want RFC 3339 (2026-01-02T15:04:05Z), a local date or time (2026-01-02, 2026-01-02 15:04), or 'N UNIT ago' (2 weeks ago, 36 hours ago)", s)
}

// errFirst stops a replay at its first record.
var errFirst = errors.New("first record")

// checkUntil refuses a time before the log's first event: the index as of
// then is empty, which a user asking for it does not expect.
func checkUntil(ctx context.Context, log *store.Log, until time.Time) error {
	var first store.Record
	_, err := log.Replay(ctx, 1, "", func(r store.Record) error { first = r; return errFirst })
	if err != nil && !errors.Is(err, errFirst) {
		return err
	}
	if first.Seq == 0 {
		return fmt.Errorf("the log holds no event: nothing to build as of %s", until.Local().Format(time.RFC3339))
	}
	if until.Before(first.Time) {
		return usagef("--until-time %s is before the log's first event (seq %d, stored %s): the index as of then is empty; give a later time",
			until.Local().Format(time.RFC3339), first.Seq, first.Time.Local().Format(time.RFC3339))
	}
	return nil
}
