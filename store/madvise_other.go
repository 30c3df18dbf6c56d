//go:build !linux

package store

import "errors"

// madviseDontNeed is not done here: the pages stay mapped.
func madviseDontNeed(uintptr, uint64) error { return errors.ErrUnsupported }
