package templates

import (
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// contribJob is a job in the shape a component contributes: URL parameters
// and relabeling, with values that must stay inside their scalars.
func contribJob() PrometheusScrapeJob {
	return PrometheusScrapeJob{
		Name:           "contrib-it's",
		Targets:        []string{"http://10.0.0.1/x?a=b#c", "host:1\nextra: true"},
		MetricsPath:    "/probe",
		ScrapeInterval: "5s",
		Labels:         map[string]string{"team": "web: 'x'"},
		Params:         map[string][]string{"module": {"a\"b"}, "b": {"1", "2"}},
		RelabelConfigs: []PrometheusRelabel{
			{SourceLabels: []string{"__address__"}, TargetLabel: "__param_target"},
			{SourceLabels: []string{"__param_target", "x"}, Separator: ";", Regex: "(.*)", TargetLabel: "instance", Replacement: "$1"},
			{TargetLabel: "__address__", Replacement: "127.0.0.1:1"},
			{Regex: "tmp_.*", Action: "labeldrop"},
		},
	}
}

// TestFinding12_ComponentScrapeJobs: a component's jobs render after the
// built-in ones with params and relabel_configs, read back as written.
func TestFinding12_ComponentScrapeJobs(t *testing.T) {
	cfg := PrometheusConfig{ScrapeInterval: "15s", ComponentJobs: []PrometheusScrapeJob{contribJob()},
		Jobs: []PrometheusScrapeJob{{Name: "user", Targets: []string{"10.0.0.2:80"}}}}
	b, err := RenderPrometheusConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ScrapeConfigs []struct {
			JobName       string              `yaml:"job_name"`
			ScrapeTimeout string              `yaml:"scrape_timeout"`
			Params        map[string][]string `yaml:"params"`
			StaticConfigs []struct {
				Targets []string          `yaml:"targets"`
				Labels  map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
			RelabelConfigs []struct {
				SourceLabels []string `yaml:"source_labels"`
				Separator    string   `yaml:"separator"`
				Regex        string   `yaml:"regex"`
				TargetLabel  string   `yaml:"target_label"`
				Replacement  string   `yaml:"replacement"`
				Action       string   `yaml:"action"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	var names []string
	for _, j := range doc.ScrapeConfigs {
		names = append(names, j.JobName)
	}
	if strings.Join(names, ",") != "node,contrib-it's,user" {
		t.Fatalf("jobs %v", names)
	}
	j, want := doc.ScrapeConfigs[1], contribJob()
	if j.ScrapeTimeout != "5s" || len(j.Params) != 2 || j.Params["module"][0] != `a"b` || strings.Join(j.Params["b"], ",") != "1,2" {
		t.Errorf("timeout %q params %v", j.ScrapeTimeout, j.Params)
	}
	if got := j.StaticConfigs[0]; strings.Join(got.Targets, "|") != strings.Join(want.Targets, "|") || got.Labels["team"] != want.Labels["team"] {
		t.Errorf("static config %+v", got)
	}
	if len(j.RelabelConfigs) != len(want.RelabelConfigs) {
		t.Fatalf("relabel_configs %+v", j.RelabelConfigs)
	}
	for i, r := range j.RelabelConfigs {
		w := want.RelabelConfigs[i]
		if strings.Join(r.SourceLabels, ",") != strings.Join(w.SourceLabels, ",") || r.Separator != w.Separator || r.Regex != w.Regex ||
			r.TargetLabel != w.TargetLabel || r.Replacement != w.Replacement || r.Action != w.Action {
			t.Errorf("relabel %d: %+v, want %+v", i, r, w)
		}
	}

	// A component's job and a user's job of one name: Prometheus would refuse the file.
	cfg.Jobs[0].Name = cfg.ComponentJobs[0].Name
	if _, err := RenderPrometheusConfig(cfg); err == nil || !strings.Contains(err.Error(), "two scrape jobs") {
		t.Errorf("duplicate job name: err %v", err)
	}
}

func contribRules() []RuleGroup {
	return []RuleGroup{{Name: "contrib", Rules: []AlertRule{
		{Name: "ContribDown", Severity: "page", For: "2m", Expr: func(string) string { return `up{job="contrib"} == 0` },
			Summary: "{{ $labels.instance }} down", Description: "down for <FOR>"},
		{Name: "ContribSlow", Severity: "ticket", For: "10m", ThresholdMeaning: "seconds", Threshold: 2, CheckThreshold: ThresholdAbove(0),
			Expr:    func(t string) string { return `avg_over_time(x{job="contrib"}[10m]) > ` + t },
			Summary: "slow", Description: "above <T> s"},
	}}}
}

// TestFinding12_ContributedRuleGroups: a component's rules follow the
// built-in group, and disable, overrides and the runbook URL apply to them.
func TestFinding12_ContributedRuleGroups(t *testing.T) {
	b, err := RenderAlertRules(RuleSettings{Groups: contribRules(), RunbookBaseURL: "https://rb.example.com",
		Overrides: map[string]RuleOverride{"ContribSlow": {Threshold: rulesFloat(0.5), Severity: "page"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"- name: 'obsbox-builtin'", "- name: 'contrib'", "alert: 'ContribDown'",
		"expr: 'avg_over_time(x{job=\"contrib\"}[10m]) > 0.5'", "description: 'above 0.5 s'", "description: 'down for 2m'",
		"runbook_url: 'https://rb.example.com/ContribSlow.md'"} {
		if !strings.Contains(s, want) {
			t.Errorf("rules lack %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "'obsbox-builtin'") > strings.Index(s, "'contrib'") {
		t.Error("the contributed group comes before the built-in one")
	}
	b, err = RenderAlertRules(RuleSettings{Groups: contribRules(), Disabled: []string{"ContribDown", "ContribSlow"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "contrib") {
		t.Errorf("disabled rules rendered:\n%s", b)
	}
	if _, err := RenderAlertRules(RuleSettings{Groups: contribRules(), Overrides: map[string]RuleOverride{"ContribDown": {Threshold: rulesFloat(1)}}}); err == nil {
		t.Error("a threshold on a rule without one was accepted")
	}
	if _, err := RenderAlertRules(RuleSettings{Groups: contribRules(), Overrides: map[string]RuleOverride{"ContribSlow": {Threshold: rulesFloat(0)}}}); err == nil {
		t.Error("threshold 0 passed ThresholdAbove(0)")
	}
}

// TestFinding12_ContributedPromtool: promtool accepts a contributed job and rule group.
func TestFinding12_ContributedPromtool(t *testing.T) {
	tools := promTools(t, "OBSBOX_PROMTOOL", "promtool")
	job := contribJob()
	job.Targets = []string{"http://10.0.0.1/x"}
	cfg, err := RenderPrometheusConfig(PrometheusConfig{RuleFiles: []string{PromBuiltinRulesFile}, ComponentJobs: []PrometheusScrapeJob{job}})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := RenderAlertRules(RuleSettings{Groups: contribRules()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	promWrite(t, filepath.Join(dir, "prometheus.yml"), cfg)
	promWrite(t, filepath.Join(dir, PromBuiltinRulesFile), rules)
	for _, tool := range tools {
		out, err := promRun(t, dir, tool, "check", "config", "prometheus.yml")
		if err != nil || !strings.Contains(out, "SUCCESS: 14 rules found") {
			t.Errorf("%s check config: %v\n%s", tool, err, out)
		}
	}
}
