package plan_test

import (
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/plan"
)

// TestIssue15_FlatTarballUnpackedWithoutStripping: the host's tar strips the
// top folder of a Prometheus tarball and nothing of VictoriaMetrics' flat
// one (catalog Release.Flat), so victoria-metrics-prod lands in its version folder.
func TestIssue15_FlatTarballUnpackedWithoutStripping(t *testing.T) {
	inv := loadInventory(t, testInventory+`host "vm-1" {
  address = "10.0.0.7"
  roles   = ["prometheus", "victoriametrics"]
}
`)
	script := build(t, plan.Input{Host: "vm-1", Specs: specs(t, inv, "vm-1"), State: emptyState()}).Script()
	for _, want := range []string{
		`"$C"/'tree-victoriametrics' --strip-components=0 `,
		`"$C"/'tree-prometheus' --strip-components=1 `,
		`[ -x "$C"/'tree-victoriametrics/victoria-metrics-prod' ]`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %s", want)
		}
	}
}
