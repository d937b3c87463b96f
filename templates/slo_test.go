package templates

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/internal/golden"
)

// sloCases are the goldens: one SLO of each SLI kind.
func sloCases() map[string]SLOSettings {
	return map[string]SLOSettings{
		"probe": {SLOs: []SLO{{Name: "shop", Objective: 99.9, Window: "30d", Probe: "shop", Labels: map[string]string{"team": "web"}}}, EvaluationInterval: "15s"},
		"ratio": {SLOs: []SLO{{Name: "api", Objective: 99.9, Window: "30d",
			Errors: `sum(rate(http_requests_total{job="api",code=~"5.."}[$window]))`,
			Total:  `sum(rate(http_requests_total{job="api"}[$window]))`}}, EvaluationInterval: "1m"},
	}
}

func TestSLORulesGolden(t *testing.T) {
	for name, s := range sloCases() {
		t.Run(name, func(t *testing.T) {
			got, err := RenderSLORules(s)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "slo", name+".yml"), got)
		})
	}
}

// sloLineTool is the promtool of one release line: $OBSBOX_PROMTOOL_<line>
// (make test-unit sets it), else the e2e cache's; skipped without (failed with CI=true).
func sloLineTool(t *testing.T, line, version string) string {
	t.Helper()
	env := "OBSBOX_PROMTOOL_" + strings.ReplaceAll(line, ".", "_")
	p := os.Getenv(env)
	if p == "" {
		p = "/var/cache/obsbox-e2e/bin/promtool-" + version
	}
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("no promtool %s (set %s or build %s): %v", line, env, p, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

var sloLines = []struct{ line, version string }{{"3.16", "3.16.0"}, {"2.42", "2.42.0"}}

// TestSLORulesPromtool checks both goldens' rules with promtool check rules.
func TestSLORulesPromtool(t *testing.T) {
	for _, l := range sloLines {
		tool := sloLineTool(t, l.line, l.version)
		for name, s := range sloCases() {
			t.Run(l.line+"/"+name, func(t *testing.T) {
				got, err := RenderSLORules(s)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				promWrite(t, filepath.Join(dir, "slo.yml"), got)
				if out, err := promRun(t, dir, tool, "check", "rules", "slo.yml"); err != nil {
					t.Fatalf("promtool check rules: %v\n%s", err, out)
				}
			})
		}
	}
}

// sloBurnCases are promtool unit tests (testdata/slo/<case>_test.yml) on
// synthetic series, against the rules of one probe SLO and one ratio SLO
// (objective 99.9: an error budget of 0.1%).
var sloBurnCases = []string{
	"outage",  // every probe fails: pages by the 1h/5m pair within 3 minutes
	"burn2x",  // 0.2% errors: the 3d/6h ticket, never a page
	"burn05x", // 0.05% errors: nothing at all, not even pending
	"blip",    // two minutes of failures: pages, then stops once the 5m window is clean
	"uneven",  // uneven traffic: the long ratio is a ratio of sums, not an average of ratios
}

func TestSLOBurnRates(t *testing.T) {
	rules, err := RenderSLORules(SLOSettings{EvaluationInterval: "1m", SLOs: []SLO{
		{Name: "shop", Objective: 99.9, Window: "30d", Probe: "shop", Labels: map[string]string{"team": "web"}},
		{Name: "api", Objective: 99.9, Window: "30d",
			Errors: `sum(rate(http_requests_total{job="api",code=~"5.."}[$window]))`,
			Total:  `sum(rate(http_requests_total{job="api"}[$window]))`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range sloLines {
		tool := sloLineTool(t, l.line, l.version)
		for _, c := range sloBurnCases {
			t.Run(c+"/"+l.line, func(t *testing.T) {
				unit, err := os.ReadFile(filepath.Join("testdata", "slo", c+"_test.yml"))
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				promWrite(t, filepath.Join(dir, "slo.yml"), rules)
				promWrite(t, filepath.Join(dir, "unit_test.yml"), unit)
				if out, err := promRun(t, dir, tool, "test", "rules", "unit_test.yml"); err != nil {
					t.Fatalf("promtool test rules %s_test.yml: %v\n%s", c, err, out)
				}
			})
		}
	}
}

func TestSLODecimals(t *testing.T) {
	for _, tc := range []struct {
		objective   float64
		obj, budget string
	}{{99.9, "0.999", "0.001"}, {99, "0.99", "0.01"}, {99.95, "0.9995", "0.0005"}, {50, "0.5", "0.5"}, {99.999, "0.99999", "0.00001"}} {
		if o, b := sloDecimals(tc.objective); o != tc.obj || b != tc.budget {
			t.Errorf("sloDecimals(%v) = %s, %s; want %s, %s", tc.objective, o, b, tc.obj, tc.budget)
		}
	}
}

func TestSLORulesRefuse(t *testing.T) {
	for name, s := range map[string]SLO{
		"objective 100": {Name: "a", Objective: 100, Window: "30d", Probe: "p"},
		"no SLI":        {Name: "a", Objective: 99, Window: "30d"},
		"both SLIs":     {Name: "a", Objective: 99, Window: "30d", Probe: "p", Errors: "e[$window]", Total: "t[$window]"},
		"errors only":   {Name: "a", Objective: 99, Window: "30d", Errors: "e[$window]"},
		"bad window":    {Name: "a", Objective: 99, Window: "month", Probe: "p"},
		"bad name":      {Name: "a b", Objective: 99, Window: "30d", Probe: "p"},
	} {
		if _, err := RenderSLORules(SLOSettings{SLOs: []SLO{s}}); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

// TestSLODashboard: the dashboard reads only series the rules record, draws
// every alert pair's factor on the burn-rate panel and shows each window.
func TestSLODashboard(t *testing.T) {
	b := SLODashboards()["obsbox-slos.json"]
	if b == nil {
		t.Fatal("no obsbox-slos.json")
	}
	rules, err := RenderSLORules(sloCases()["probe"])
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title       string
			FieldConfig struct {
				Defaults struct {
					Thresholds struct{ Steps []struct{ Value *float64 } }
				}
			}
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	series := regexp.MustCompile(`slo:[a-z_]+:[a-z_0-9]+`)
	windows := map[string]bool{}
	burn := false
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, s := range series.FindAllString(q.Expr, -1) {
				if !strings.Contains(string(rules), "record: '"+s+"'") {
					t.Errorf("panel %q reads %s, which no rule records", p.Title, s)
				}
				if w, ok := strings.CutPrefix(s, SLOErrorRatioPrefix); ok && p.Title == "Burn rate by window" {
					windows[w] = true
				}
			}
		}
		if p.Title == "Burn rate by window" {
			burn = true
			var steps []float64
			for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
				if s.Value != nil {
					steps = append(steps, *s.Value)
				}
			}
			for _, pair := range SLOBurns {
				if !slices.Contains(steps, pair.Factor) {
					t.Errorf("burn-rate panel draws %v, not the %s pair's %v", steps, pair.Long, pair.Factor)
				}
			}
		}
	}
	if !burn {
		t.Fatal("no burn-rate panel")
	}
	for _, w := range SLOWindows {
		if !windows[w] {
			t.Errorf("burn-rate panel lacks the %s window", w)
		}
	}
}
