package projections

// Fold maps a name to the form the name index compares: valid UTF-8 lower
// cased (simple Unicode folding), every other byte kept, so a name that is
// not UTF-8 still matches itself. Query layers use it to check candidates
// the same way the index does.
func Fold(s string) string { return fold(s) }
