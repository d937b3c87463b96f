package component

import (
	"bytes"
	"path"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/templates"
)

const sloBlocks = `slo "shop-availability" {
  objective = 99.9
  probe     = "shop"
  labels    = { team = "web" }
}
slo "api" {
  objective = 99.5
  errors    = "sum(rate(http_requests_total{code=~\"5..\"}[$window]))"
  total     = "sum(rate(http_requests_total[$window]))"
}
`

// TestSLORulesOnPrometheus: with slo blocks Prometheus gets the SLO rule
// file, lists it in rule_files (so promtool check config, which the apply
// runs on the host, checks it), and Grafana gets the SLOs dashboard; without,
// none of it. The real promtool of each line accepts the whole folder.
func TestSLORulesOnPrometheus(t *testing.T) {
	with := loadProbeInv(t, probeHosts+probeBlocks+sloBlocks)
	bare := loadProbeInv(t, probeHosts+probeBlocks)
	for _, tc := range []struct {
		name string
		want bool
	}{{"with", true}, {"bare", false}} {
		inv := bare
		if tc.want {
			inv = with
		}
		spec, err := Prometheus{}.Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: "3.16.0"})
		if err != nil {
			t.Fatal(err)
		}
		var yml, rules []byte
		for _, f := range spec.Files {
			switch f.Path {
			case path.Join("/etc/obsbox/prometheus", templates.PromSLORulesFile):
				rules = f.Content
			case "/etc/obsbox/prometheus/prometheus.yml":
				yml = f.Content
			}
		}
		listed := bytes.Contains(yml, []byte("'"+templates.PromSLORulesFile+"'"))
		if (rules != nil) != tc.want || listed != tc.want {
			t.Errorf("%s: SLO rule file present %v, listed in rule_files %v; want %v", tc.name, rules != nil, listed, tc.want)
		}
		if _, ok := (Prometheus{}).Dashboards(inv)["obsbox-slos.json"]; ok != tc.want {
			t.Errorf("%s: SLOs dashboard %v, want %v", tc.name, ok, tc.want)
		}
		if !tc.want {
			continue
		}
		for _, s := range []string{`probe_success{probe="shop"}[30d]`, `sum(rate(http_requests_total{code=~"5.."}[1h]))`, "vector(0.995)", "team: 'web'"} {
			if !bytes.Contains(rules, []byte(s)) {
				t.Errorf("SLO rules lack %q", s)
			}
		}
		for _, l := range []struct{ line, version string }{{"3.16", "3.16.0"}, {"2.42", "2.42.0"}} {
			t.Run(l.line, func(t *testing.T) {
				tool := lineTool(t, "promtool", l.line, l.version)
				dir := t.TempDir()
				writeConfig(t, spec, dir)
				out, err := runTool(t, dir, tool, "check", "config", "prometheus.yml")
				if err != nil || !strings.Contains(out, templates.PromSLORulesFile) {
					t.Errorf("promtool check config: %v\n%s", err, out)
				}
			})
		}
	}
}

// TestSLOBadPromQLFailsTheCheck: PromQL the inventory cannot see is wrong
// (its check knows no parser) is refused by promtool check config, the
// check the apply runs on the host before the configuration is used.
func TestSLOBadPromQLFailsTheCheck(t *testing.T) {
	inv := loadProbeInv(t, probeHosts+`slo "api" {
  objective = 99.5
  errors    = "sum(rate(http_requests_total{code=~\"5..\"}[$window])) +"
  total     = "sum(rate(http_requests_total[$window]))"
}
`)
	spec, err := Prometheus{}.Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: "3.16.0"})
	if err != nil {
		t.Fatal(err)
	}
	tool := lineTool(t, "promtool", "3.16", "3.16.0")
	dir := t.TempDir()
	writeConfig(t, spec, dir)
	out, err := runTool(t, dir, tool, "check", "config", "prometheus.yml")
	if err == nil || !strings.Contains(out, templates.PromSLORulesFile) {
		t.Errorf("promtool check config accepts it or does not name the SLO rule file: %v\n%s", err, out)
	}
}
