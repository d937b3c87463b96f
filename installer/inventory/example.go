package inventory

import _ "embed"

//go:embed example.hcl
var exampleInventory []byte

// ExampleInventory returns the commented example that "obsbox init" writes.
// It validates as is, with no environment variable set.
func ExampleInventory() []byte { return append([]byte(nil), exampleInventory...) }
