package templates

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/duration"
	"github.com/obsbox/obsbox/internal/golden"
)

// rulesSpecNames are the built-in rule names SPEC.md fixes.
var rulesSpecNames = []string{
	"HostDown", "FilesystemFillingUp", "FilesystemAlmostFull", "InodesAlmostExhausted",
	"MemoryPressure", "ClockSkew", "SystemdUnitFailed", "PrometheusConfigReloadFailed",
	"PrometheusRuleEvaluationFailures", "PrometheusNotificationsFailing",
	"AlertmanagerNotificationsFailing", "Watchdog",
}

func rulesFloat(f float64) *float64 { return &f }

// rulesCases are rendered to testdata/rules/<name>.yml; a case with a
// testdata/rules/<name>_test.yml is also run through promtool test rules.
func rulesCases() []struct {
	name     string
	settings RuleSettings
} {
	return []struct {
		name     string
		settings RuleSettings
	}{
		{"default", RuleSettings{}},
		{"overrides", RuleSettings{
			Disabled: []string{"ClockSkew", "SystemdUnitFailed"},
			Overrides: map[string]RuleOverride{
				"HostDown":             {For: "1m"},
				"FilesystemAlmostFull": {For: "5m", Severity: "ticket", Threshold: rulesFloat(20)},
				"MemoryPressure":       {Severity: "page", Threshold: rulesFloat(2.5)},
				"FilesystemFillingUp":  {Threshold: rulesFloat(4), For: "0s"},
			},
			RunbookBaseURL: "https://wiki.example.com/ops/it's-ünïcode/runbooks",
		}},
		{"watchdog_only", RuleSettings{Disabled: slices.DeleteFunc(slices.Clone(rulesSpecNames), func(n string) bool { return n == "Watchdog" })}},
		{"none", RuleSettings{Disabled: rulesSpecNames}},
	}
}

func TestRulesGolden(t *testing.T) {
	for _, tc := range rulesCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderAlertRules(tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "rules", tc.name+".yml"), got)
			for _, name := range tc.settings.Disabled {
				if strings.Contains(string(got), "alert: '"+name+"'") {
					t.Errorf("disabled rule %s is rendered", name)
				}
			}
		})
	}
}

// TestRulesPromtool checks every case with promtool check rules and runs the
// unit tests in testdata/rules/<case>_test.yml against the freshly rendered file.
func TestRulesPromtool(t *testing.T) {
	tools := promTools(t, "OBSBOX_PROMTOOL", "promtool")
	tested := 0
	for _, tc := range rulesCases() {
		rendered, err := RenderAlertRules(tc.settings)
		if err != nil {
			t.Fatal(err)
		}
		unit, err := os.ReadFile(filepath.Join("testdata", "rules", tc.name+"_test.yml"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		dir := t.TempDir()
		promWrite(t, filepath.Join(dir, "obsbox-alerts.yml"), rendered)
		if unit != nil {
			tested++
			promWrite(t, filepath.Join(dir, "unit_test.yml"), unit)
		}
		for _, tool := range tools {
			t.Run(tc.name+"/"+filepath.Base(tool), func(t *testing.T) {
				out, err := promRun(t, dir, tool, "check", "rules", "obsbox-alerts.yml")
				if err != nil {
					t.Fatalf("promtool check rules: %v\n%s", err, out)
				}
				if unit == nil {
					return
				}
				out, err = promRun(t, dir, tool, "test", "rules", "unit_test.yml")
				if err != nil {
					t.Fatalf("promtool test rules %s_test.yml: %v\n%s", tc.name, err, out)
				}
			})
		}
	}
	if tested < 2 {
		t.Errorf("only %d cases have promtool unit tests", tested)
	}
}

// TestPromYRoundTrip proves with the real YAML reader (promtool's) that quoted
// and literal-block strings read back exactly: a rule carries them as labels
// and the unit test expects them verbatim.
func TestPromYRoundTrip(t *testing.T) {
	tools := promTools(t, "OBSBOX_PROMTOOL", "promtool")
	values := []string{
		"plain", "", " ", "it's", `"double"`, `back\slash \n \u0041`, "a\nb", "trailing\n", "\nleading", "tab\there",
		"cr\r\nlf", "nul\x00", "del\x7f", "nel\u0085", "ls\u2028ps\u2029", "bom\ufeff", "nbsp\u00a0", "ünïcødé 🚨",
		"\U000E0001", "# not a comment", "- not a list", "key: value", "{a: b}", "[c]", "*ref", "&anc", "!tag", "%d", "@",
		"`q`", "| block", "> folded", "---", "...", "yes", "null", "~", "0x1F", "1e3", ".inf",
	}
	labels := map[string]string{}
	for i, v := range values {
		labels[string(rune('a'+i%26))+strings.Repeat("x", i/26)] = v
	}
	type rtRule struct {
		Alert       yStr    `yaml:"alert"`
		Expr        yStr    `yaml:"expr"`
		Labels      yLabels `yaml:"labels"`
		Annotations struct {
			Block    yText `yaml:"block"`
			NotBlock yText `yaml:"notblock"`
		} `yaml:"annotations"`
	}
	type rtGroup struct {
		Name  yStr     `yaml:"name"`
		Rules []rtRule `yaml:"rules"`
	}
	rule := rtRule{Alert: "RoundTrip", Expr: "vector(1)", Labels: labels}
	rule.Annotations.Block = "first line\n  indented: yes\n\n# hash\n- dash\nlast"
	rule.Annotations.NotBlock = " leading space\nx"
	rendered, err := yMarshal(yamlHeader, struct {
		Groups []rtGroup `yaml:"groups"`
	}{[]rtGroup{{Name: "roundtrip", Rules: []rtRule{rule}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rendered), "    block: |-\n") {
		t.Errorf("trusted text was not written as a literal block:\n%s", rendered)
	}
	// Prometheus drops labels with empty values.
	expLabels := map[string]string{}
	for k, v := range labels {
		if v != "" {
			expLabels[k] = v
		}
	}
	// JSON is YAML: the expectations are written with a different encoder.
	unit, err := json.Marshal(map[string]any{
		"rule_files":          []string{"roundtrip.yml"},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":     "1m",
			"input_series": []any{},
			"alert_rule_test": []any{map[string]any{
				"eval_time": "0m",
				"alertname": "RoundTrip",
				"exp_alerts": []any{map[string]any{
					"exp_labels": expLabels,
					"exp_annotations": map[string]string{
						"block":    "first line\n  indented: yes\n\n# hash\n- dash\nlast",
						"notblock": " leading space\nx",
					},
				}},
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json leaves DEL, C1 controls and the BOM raw; YAML readers refuse those.
	var esc strings.Builder
	for _, r := range string(unit) {
		if (r >= 0x7f && r <= 0x9f) || r == 0xfeff {
			fmt.Fprintf(&esc, `\u%04x`, r)
		} else {
			esc.WriteRune(r)
		}
	}
	dir := t.TempDir()
	promWrite(t, filepath.Join(dir, "roundtrip.yml"), rendered)
	promWrite(t, filepath.Join(dir, "roundtrip_test.yml"), []byte(esc.String()))
	for _, tool := range tools {
		t.Run(filepath.Base(tool), func(t *testing.T) {
			out, err := promRun(t, dir, tool, "test", "rules", "roundtrip_test.yml")
			if err != nil {
				t.Fatalf("promtool read back different values: %v\n%s\n--- rendered ---\n%s", err, out, rendered)
			}
		})
	}
}

func TestBuiltinAlertRules(t *testing.T) {
	rules := BuiltinAlertRules()
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
		switch {
		case r.Name == "Watchdog":
			if r.Severity != "none" || r.For != "" {
				t.Errorf("Watchdog: severity %q for %q, want none and no for", r.Severity, r.For)
			}
		case r.Severity != "page" && r.Severity != "ticket":
			t.Errorf("%s: severity %q, want page or ticket", r.Name, r.Severity)
		}
		if (r.Threshold == nil) != (r.ThresholdMeaning == "") {
			t.Errorf("%s: a threshold needs a meaning and only then exists", r.Name)
		}
		if _, err := duration.Parse(r.For); r.For != "" && err != nil {
			t.Errorf("%s: for: %v", r.Name, err)
		}
	}
	if !slices.Equal(names, rulesSpecNames) {
		t.Errorf("built-in rules %v, SPEC names %v", names, rulesSpecNames)
	}
	if hd := rules[0]; hd.Name != "HostDown" || hd.Severity != "page" {
		t.Errorf("HostDown must page, got %+v", hd)
	}
	rendered, err := RenderAlertRules(RuleSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rendered), "expr: 'up{job=\"node\"} == 0'") {
		t.Errorf("HostDown does not use up{job=\"node\"} == 0:\n%s", rendered)
	}
	if !strings.Contains(string(rendered), "runbook_url: 'https://github.com/obsbox/obsbox/blob/main/templates/runbooks/HostDown.md'") {
		t.Errorf("default runbook URL missing:\n%s", rendered)
	}
}

// TestRunbooks checks there is a runbook for every rule, and only for those,
// each with the sections a responder looks for.
func TestRunbooks(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("runbooks", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, f := range files {
		have = append(have, strings.TrimSuffix(filepath.Base(f), ".md"))
	}
	slices.Sort(have)
	// The components' own rules (catalog AlertRules) have runbooks here too.
	all := append(slices.Clone(rulesSpecNames), catalog.AlertRuleNames()...)
	all = append(all, SLOAlert) // the SLOs' burn-rate alert (slo.go)
	want := slices.Sorted(slices.Values(all))
	if !slices.Equal(have, want) {
		t.Errorf("runbooks %v, want one per rule %v", have, want)
	}
	sections := []string{"## Meaning", "## Check", "## Fix", "## Escalate"}
	for _, name := range all {
		b, err := os.ReadFile(filepath.Join("runbooks", name+".md"))
		if err != nil {
			t.Error(err)
			continue
		}
		s := string(b)
		if !strings.HasPrefix(s, "# "+name+"\n") {
			t.Errorf("runbooks/%s.md does not start with the heading %q", name, "# "+name)
		}
		last := -1
		for _, sec := range sections {
			i := strings.Index(s, "\n"+sec+"\n")
			if i < 0 {
				t.Errorf("runbooks/%s.md lacks the section %q", name, sec)
				continue
			}
			if i < last {
				t.Errorf("runbooks/%s.md: section %q is out of order", name, sec)
			}
			last = i
		}
	}
}

func TestRulesThresholdInExpr(t *testing.T) {
	// Each override must land in the expression, not only in the text.
	for _, tc := range []struct {
		rule string
		t    float64
		want *regexp.Regexp
	}{
		{"FilesystemFillingUp", 4, regexp.MustCompile(`\[6h\], 4 \* 3600\) < 0`)},
		{"FilesystemAlmostFull", 12.5, regexp.MustCompile(`\* 100 < 12\.5\n`)},
		{"InodesAlmostExhausted", 3, regexp.MustCompile(`files\{[^}]*\} \* 100 < 3\n`)},
		{"MemoryPressure", 7, regexp.MustCompile(`MemTotal_bytes\{job="node"\} \* 100 < 7'`)},
		{"ClockSkew", 0.25, regexp.MustCompile(`> 0\.25\n(?s:.*)< -0\.25\n`)},
		{"PrometheusRuleEvaluationFailures", 3, regexp.MustCompile(`\[5m\]\) > 3'`)},
		{"PrometheusNotificationsFailing", 10, regexp.MustCompile(`\) \* 100 > 10\n`)},
		{"AlertmanagerNotificationsFailing", 0, regexp.MustCompile(`\) \* 100 > 0\n`)},
	} {
		got, err := RenderAlertRules(RuleSettings{Overrides: map[string]RuleOverride{tc.rule: {Threshold: rulesFloat(tc.t)}}})
		if err != nil {
			t.Errorf("%s: %v", tc.rule, err)
			continue
		}
		if !tc.want.Match(got) {
			t.Errorf("%s threshold %v: rendered rules do not match %s", tc.rule, tc.t, tc.want)
		}
	}
}

func TestRulesErrors(t *testing.T) {
	cases := []struct {
		name string
		s    RuleSettings
		want string
	}{
		{"bad severity", RuleSettings{Overrides: map[string]RuleOverride{"HostDown": {Severity: "critical"}}}, `rule "HostDown": severity "critical": must be page or ticket`},
		{"watchdog severity", RuleSettings{Overrides: map[string]RuleOverride{"Watchdog": {Severity: "page"}}}, `rule "Watchdog": severity cannot be changed`},
		{"watchdog for", RuleSettings{Overrides: map[string]RuleOverride{"Watchdog": {For: "5m"}}}, `rule "Watchdog": for cannot be set`},
		{"threshold without one", RuleSettings{Overrides: map[string]RuleOverride{"HostDown": {Threshold: rulesFloat(1)}}}, `rule "HostDown": threshold cannot be set`},
		{"percent above 100", RuleSettings{Overrides: map[string]RuleOverride{"FilesystemAlmostFull": {Threshold: rulesFloat(150)}}}, `rule "FilesystemAlmostFull": threshold 150 (percent of the filesystem's space`},
		{"zero percent", RuleSettings{Overrides: map[string]RuleOverride{"MemoryPressure": {Threshold: rulesFloat(0)}}}, "must be a percentage above 0"},
		{"negative hours", RuleSettings{Overrides: map[string]RuleOverride{"FilesystemFillingUp": {Threshold: rulesFloat(-1)}}}, "must be greater than 0"},
		{"negative failures", RuleSettings{Overrides: map[string]RuleOverride{"PrometheusRuleEvaluationFailures": {Threshold: rulesFloat(-1)}}}, "must be at least 0"},
		{"hundred percent failing", RuleSettings{Overrides: map[string]RuleOverride{"AlertmanagerNotificationsFailing": {Threshold: rulesFloat(100)}}}, "from 0 to below 100"},
		{"NaN", RuleSettings{Overrides: map[string]RuleOverride{"ClockSkew": {Threshold: rulesFloat(math.NaN())}}}, "finite number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RenderAlertRules(tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
