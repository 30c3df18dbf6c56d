package projections

import "github.com/indexer/indexer/events"

// decode parses one record's data.
func decode(b []byte) (events.Event, error) { return events.Decode(b) }
