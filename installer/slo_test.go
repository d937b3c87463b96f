package installer

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
)

func TestSLOReport(t *testing.T) {
	src := `host "mon-1" {
  address = "10.0.0.1"
  roles   = ["prometheus"]
}
probe "shop" {
  targets = ["https://shop.example.com/"]
}
slo "shop" {
  objective = 99.9
  probe     = "shop"
}
slo "new" {
  objective = 99
  window    = "7d"
  probe     = "shop"
}
`
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	s := func(name, slo string, v float64, extra ...string) promSample {
		l := map[string]string{"__name__": name, "slo": slo}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return promSample{Labels: l, Value: v}
	}
	rep := sloReport(Options{Inventory: inv}, "mon-1", []promSample{
		s("slo:sli_error:ratio_window", "shop", 0.0005, "window", "30d"),
		s("slo:error_budget_remaining:ratio", "shop", 0.5, "window", "30d"),
		s("slo:sli_error:ratio_rate5m", "shop", 0.02),
		s("slo:sli_error:ratio_rate1h", "shop", 0.0144),
		s("ALERTS", "shop", 1, "severity", "page", "long_window", "1h", "short_window", "5m"),
		s("slo:sli_error:ratio_rate5m", "new", math.NaN()), // no events yet
		s("slo:sli_error:ratio_rate5m", "other", 1),        // not in the inventory
	})
	if len(rep.SLOs) != 2 {
		t.Fatalf("rows %+v", rep.SLOs)
	}
	a, b := rep.SLOs[0], rep.SLOs[1]
	near := func(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-9 }
	if a.SLO != "shop" || !near(a.SLI, 99.95) || !near(a.BudgetLeft, 50) || !near(a.BurnRateNow, 20) || !near(a.BurnRate["1h"], 14.4) ||
		a.BurnRate["3d"] != nil || len(a.Firing) != 1 || a.Firing[0] != "page (1h/5m)" {
		t.Errorf("shop row %+v", a)
	}
	if b.SLO != "new" || b.Window != "7d" || b.SLI != nil || b.BurnRateNow != nil || len(b.Firing) != 0 {
		t.Errorf("new row %+v", b)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	for _, want := range []string{"99.950%", "50.0%", "20.00x", "14.40x", "page (1h/5m)", "new   ", "mon-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"sli_percent":null`) || !strings.Contains(string(j), `"burn_rate_now":20`) {
		t.Errorf("json %s", j)
	}
}
