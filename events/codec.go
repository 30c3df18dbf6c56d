package events

import (
	"encoding/json"
	"errors"
	"fmt"
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
