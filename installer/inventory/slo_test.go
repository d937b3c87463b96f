package inventory

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// sloProbe is a probe for the SLO cases; it spans lines 5 to 7, so an slo
// block after it starts on line 8.
const sloProbe = `probe "shop" {
  targets = ["https://shop.example.com/health"]
}
`

func TestSLOsDecode(t *testing.T) {
	src := monHost + sloProbe + `slo "shop-availability" {
  objective = 99.9
  probe     = "shop"
  labels    = { team = "web" }
}
slo "api" {
  objective = 99.5
  window    = "7d"
  errors    = "sum(rate(http_requests_total{code=~\"5..\"}[$window]))"
  total     = "sum(rate(http_requests_total[$window]))"
}
`
	inv, diags, _ := loadIn(t, src)
	if inv == nil {
		t.Fatalf("refused:\n%s", dumpDiags(diags))
	}
	if len(inv.SLOs) != 2 {
		t.Fatalf("SLOs %+v", inv.SLOs)
	}
	a, b := inv.SLOs[0], inv.SLOs[1]
	if a.Name != "shop-availability" || a.Objective != 99.9 || a.Window != DefaultSLOWindow || a.Probe != "shop" || a.Errors != "" || a.Labels["team"] != "web" {
		t.Errorf("probe SLO %+v", a)
	}
	if b.Window != "7d" || b.Probe != "" || !strings.Contains(b.Errors, `code=~"5.."`) || !strings.Contains(b.Total, "[$window]") {
		t.Errorf("ratio SLO %+v", b)
	}
}

func TestSLOMistakes(t *testing.T) {
	const ratio = "  errors    = \"sum(rate(e[$window]))\"\n  total     = \"sum(rate(t[$window]))\"\n"
	mistakes := []struct{ name, src, want, pos string }{
		{"objective 100", "slo \"s\" {\n  objective = 100\n  probe     = \"shop\"\n}\n", "objective is 100; it is the percentage of good events, above 0 and below 100", "9:15"},
		{"objective 0", "slo \"s\" {\n  objective = 0\n  probe     = \"shop\"\n}\n", "objective is 0", "9:15"},
		{"objective negative", "slo \"s\" {\n  objective = -1\n  probe     = \"shop\"\n}\n", "objective is -1", "9:15"},
		{"objective missing", "slo \"s\" {\n  probe = \"shop\"\n}\n", "set objective, the percentage of good events", "8:1"},
		{"unknown probe", "slo \"s\" {\n  objective = 99.9\n  probe     = \"shpo\"\n}\n", `there is no probe "shpo". Did you mean "shop"?`, "10:15"},
		{"both SLIs", "slo \"s\" {\n  objective = 99.9\n  probe     = \"shop\"\n" + ratio + "}\n", "the SLI is either probe or errors + total, not both", "11:15"},
		{"no SLI", "slo \"s\" {\n  objective = 99.9\n}\n", `say what is measured: probe = "<probe name>"`, "8:1"},
		{"errors without window", "slo \"s\" {\n  objective = 99.9\n  errors    = \"sum(rate(e[5m]))\"\n  total     = \"sum(rate(t[$window]))\"\n}\n", `slo "s" errors must use $window as its range`, "10:15"},
		{"total without window", "slo \"s\" {\n  objective = 99.9\n  errors    = \"sum(rate(e[$window]))\"\n  total     = \"sum(rate(t[1h]))\"\n}\n", `slo "s" total must use $window`, "11:15"},
		{"total missing", "slo \"s\" {\n  objective = 99.9\n  errors    = \"sum(rate(e[$window]))\"\n}\n", "errors is set, total is not", "8:1"},
		{"unclosed bracket", "slo \"s\" {\n  objective = 99.9\n  errors    = \"sum(rate(e[$window])\"\n  total     = \"sum(rate(t[$window]))\"\n}\n", `")" is missing at the end`, "10:15"},
		{"unclosed quote", "slo \"s\" {\n  objective = 99.9\n  errors    = \"sum(rate(e{code=\\\"5..}[$window]))\"\n  total     = \"sum(rate(t[$window]))\"\n}\n", "the string opened with \" is not closed", "10:15"},
		{"window not a duration", "slo \"s\" {\n  objective = 99.9\n  window    = \"30 days\"\n  probe     = \"shop\"\n}\n", `slo "s" window: "30 days" is not a duration`, "10:15"},
		{"window too short", "slo \"s\" {\n  objective = 99.9\n  window    = \"1d\"\n  probe     = \"shop\"\n}\n", "shorter than 3d", "10:15"},
		{"reserved label", "slo \"s\" {\n  objective = 99.9\n  probe     = \"shop\"\n  labels    = { severity = \"page\" }\n}\n", `"severity" is reserved`, "11:17"},
		{"bad label", "slo \"s\" {\n  objective = 99.9\n  probe     = \"shop\"\n  labels    = { \"a-b\" = \"x\" }\n}\n", `"a-b" is not a valid Prometheus label name`, "11:17"},
		{"duplicate name", "slo \"s\" {\n  objective = 99.9\n  probe     = \"shop\"\n}\nslo \"s\" {\n  objective = 99\n  probe     = \"shop\"\n}\n", `slo "s" is already defined at`, "12:5"},
		{"bad name", "slo \"shop slo\" {\n  objective = 99.9\n  probe     = \"shop\"\n}\n", `slo name "shop slo" must be`, "8:5"},
	}
	for _, tc := range mistakes {
		t.Run(tc.name, func(t *testing.T) {
			inv, diags, _ := loadIn(t, monHost+sloProbe+tc.src)
			if inv != nil {
				t.Fatalf("accepted:\n%s", tc.src)
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && diagPosString(d) == tc.pos && strings.Contains(diagText(d), tc.want) {
					return
				}
			}
			t.Errorf("want an error at %s containing %q, got:\n%s", tc.pos, tc.want, dumpDiags(diags))
		})
	}
}

func TestSLOUnknownProbeWithoutProbes(t *testing.T) {
	_, diags, _ := loadIn(t, monHost+"slo \"s\" {\n  objective = 99.9\n  probe     = \"shop\"\n}\n")
	if !strings.Contains(dumpDiags(diags), "The inventory defines no probe block") {
		t.Errorf("got:\n%s", dumpDiags(diags))
	}
}
