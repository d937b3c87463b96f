package plan_test

import (
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/plan"
)

// TestIssue15_FlatTarballUnpackedWithoutStripping: the top folder of a
// Prometheus tarball is stripped and nothing of VictoriaMetrics' flat one
// (catalog Release.Flat), so victoria-metrics-prod lands in its version
// folder: on arrival when the tarballs stream, by the script's tar when an
// older run staged them.
func TestIssue15_FlatTarballUnpackedWithoutStripping(t *testing.T) {
	inv := loadInventory(t, testInventory+`host "vm-1" {
  address = "10.0.0.7"
  roles   = ["prometheus", "victoriametrics"]
}
`)
	sp := specs(t, inv, "vm-1")
	fresh := build(t, plan.Input{Host: "vm-1", Specs: sp, State: emptyState()})
	strips := map[string]int{}
	for _, s := range sp {
		if s.Bundle != nil {
			strips[s.Bundle.SHA256] = 1
			if s.Component == "victoriametrics" {
				strips[s.Bundle.SHA256] = 0
			}
		}
	}
	st := emptyState()
	for _, u := range fresh.Uploads {
		if want, ok := strips[u.SHA256]; ok {
			if !u.Unpack || u.Strip != want {
				t.Errorf("upload %s: unpack %v strip %d, want strip %d", u.LocalPath, u.Unpack, u.Strip, want)
			}
			st.Staged[u.SHA256] = true
		}
	}
	script := build(t, plan.Input{Host: "vm-1", Specs: sp, State: st}).Script()
	for _, want := range []string{
		`"$C"/'tree-victoriametrics' --strip-components=0 `,
		`"$C"/'tree-prometheus' --strip-components=1 `,
		`[ -x "$C"/'tree-victoriametrics/victoria-metrics-prod' ]`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script for staged tarballs lacks %s", want)
		}
	}
}
