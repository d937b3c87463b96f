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
	// One note per newer major of each component: Prometheus 3, Grafana 12 and 13.
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"obsbox upgrade prometheus=3.16.0", "obsbox upgrade grafana=12."} {
		if !strings.Contains(joined, want) {
			t.Errorf("no note says %q: %q", want, notes)
		}
	}
	if strings.Contains(joined, "node_exporter") {
		t.Errorf("node_exporter has no newer major, but a note names it: %q", notes)
	}
}
