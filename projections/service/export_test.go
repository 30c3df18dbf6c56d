package service

import "context"

// HoldSlot takes a slot of g, as a heavy query running would, until the
// returned function is called.
func HoldSlot(g *Gate) func() {
	leave, err := g.enter(context.Background(), "test")
	if err != nil {
		panic(err)
	}
	return leave
}

// FileModeJSON is what Client does to a reply before decoding it.
var FileModeJSON = fileModeJSON
