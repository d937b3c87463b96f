package main

import (
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
)

// TestIssue13_BareUpgradeNamesNewMajors: a bare upgrade of a 2.x fleet stays
// on 2.x and says how to move to 3.
func TestIssue13_BareUpgradeNamesNewMajors(t *testing.T) {
	src := "host \"a\" {\n  address = \"10.0.0.5\"\n  roles = [\"prometheus\"]\n}\nversions {\n  prometheus = \"2.53.3\"\n  node_exporter = \"1.8.2\"\n}\n"
	inv, diags := inventory.LoadSource("obsbox.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want, notes := newestWithinMajor(inv)
	if want["prometheus"] != "2.55.1" || want["node_exporter"] != "1.12.1" {
		t.Errorf("bare upgrade wants %v", want)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "obsbox upgrade prometheus=3.16.0") {
		t.Errorf("notes %q", notes)
	}
}
