package inventory

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// oneLinePerAttributeHint ends HCL's own report of several attributes (or a
// nested block) on one line: the inventory is plain HCL, as every HCL editor
// and formatter reads it.
const oneLinePerAttributeHint = " The inventory is plain HCL: write one attribute per line, and put each nested block on lines of its own (as \"terraform fmt\" or any HCL formatter lays it out)."

// parse parses src as HCL native syntax, adding the hint above to the
// diagnostics that report a crowded line.
func parse(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	for _, d := range diags {
		if crowdedLine(d) && !strings.Contains(d.Detail, oneLinePerAttributeHint) {
			d.Detail = strings.TrimSpace(d.Detail) + oneLinePerAttributeHint
		}
	}
	return f, diags
}

// crowdedLine reports whether d is HCL's diagnostic for a line holding more
// than one attribute or a block with more than one argument.
func crowdedLine(d *hcl.Diagnostic) bool {
	switch d.Summary {
	case "Invalid single-argument block definition", "Missing newline after argument", "Missing newline after block definition":
		return true
	case "Argument definition required":
		return strings.Contains(d.Detail, "single-line block")
	}
	return false
}
