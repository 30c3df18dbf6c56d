package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// ErrMalformed is returned (wrapped) by Decode when the input is not an event
// this package can read: not JSON, an unknown type, missing fields, or a
// payload of the wrong shape. A projector records such an event as a dead
// letter and goes on.
var ErrMalformed = errors.New("malformed event")

// ErrNewerSchema is returned (wrapped) by Decode when the event's schema
// version is newer than SchemaVersion. Upgrade the binary; guessing at a
// newer shape could build a wrong index.
var ErrNewerSchema = errors.New("event schema is newer than this program")

// envelope is the wire form of Event.
type envelope struct {
	Header
	Data json.RawMessage `json:"data"`
}

// Encode returns the JSON form of e.
func Encode(e Event) ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("encode %s: no payload", e.Type)
	}
	if e.Data.EventType() != e.Type {
		return nil, fmt.Errorf("encode: header type %s, payload %s", e.Type, e.Data.EventType())
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	b, err := json.Marshal(envelope{Header: e.Header, Data: data})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	return b, nil
}

// Decode parses one event. It never panics; see ErrMalformed and
// ErrNewerSchema for the errors it returns.
func Decode(b []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case env.V <= 0:
		return Event{}, fmt.Errorf("%w: missing schema version", ErrMalformed)
	case env.V > SchemaVersion:
		return Event{}, fmt.Errorf("%w: version %d, this program knows %d", ErrNewerSchema, env.V, SchemaVersion)
	case env.ID == ulid.ULID{}:
		return Event{}, fmt.Errorf("%w: missing id", ErrMalformed)
	case ValidateMachine(env.Machine) != nil:
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, ValidateMachine(env.Machine))
	}
	data, err := upcast(env.V, env.Type, env.Data)
	if err != nil {
		return Event{}, fmt.Errorf("%w: upcast v%d %s: %v", ErrMalformed, env.V, env.Type, err)
	}
	p := newPayload(env.Type)
	if p == nil {
		return Event{}, fmt.Errorf("%w: unknown type %q", ErrMalformed, env.Type)
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return Event{}, fmt.Errorf("%w: %s without data", ErrMalformed, env.Type)
	}
	if err := json.Unmarshal(data, p); err != nil {
		return Event{}, fmt.Errorf("%w: %s data: %v", ErrMalformed, env.Type, err)
	}
	env.Header.V = SchemaVersion
	return Event{Header: env.Header, Data: p}, nil
}

// upcasters[v] rewrites the payload of a version-v event of the given type
// into version v+1. Decode applies them in turn up to SchemaVersion. There
// are none yet: v1 is the first version. When v2 changes a shape, add
// upcasters[1] here and a golden v1 event to the tests.
var upcasters = map[int]func(t Type, data json.RawMessage) (json.RawMessage, error){}

func upcast(v int, t Type, data json.RawMessage) (json.RawMessage, error) {
	for ; v < SchemaVersion; v++ {
		f, ok := upcasters[v]
		if !ok {
			return nil, fmt.Errorf("no upcaster from version %d", v)
		}
		var err error
		if data, err = f(t, data); err != nil {
			return nil, err
		}
	}
	return data, nil
}
