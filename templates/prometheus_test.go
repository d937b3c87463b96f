package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/internal/golden"
	"go.yaml.in/yaml/v3"
)

// promTools returns the real binaries to test with: $env, else every
// /var/cache/obsbox-e2e/bin/<name>-* (one per version). Without any the test is
// skipped, or fails when CI=true.
func promTools(t *testing.T, env, name string) []string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return []string{p}
	}
	found, _ := filepath.Glob("/var/cache/obsbox-e2e/bin/" + name + "-*")
	if len(found) == 0 {
		msg := fmt.Sprintf("no %s to test with: set %s or build /var/cache/obsbox-e2e/bin/%s-<version>", name, env, name)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return found
}

// promRun runs a tool in dir and returns its combined output.
func promRun(t *testing.T, dir, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func promWrite(t *testing.T, file string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func promCases() []struct {
	name string
	cfg  PrometheusConfig
} {
	return []struct {
		name string
		cfg  PrometheusConfig
	}{
		{"minimal", PrometheusConfig{
			RuleFiles:  []string{PromBuiltinRulesFile, PromUserRulesGlob},
			Prometheus: []PrometheusStaticTarget{{Host: "mon-1", Address: "10.0.0.5:9090"}},
		}},
		{"full", PrometheusConfig{
			ScrapeInterval:     "30s",
			EvaluationInterval: "1m",
			ExternalLabels:     map[string]string{"region": "eu-west", "cluster": "prod-eu"},
			Alertmanagers:      []string{"10.0.0.5:9093", "10.0.0.6:9093"},
			RuleFiles:          []string{PromBuiltinRulesFile, PromUserRulesGlob},
			Prometheus:         []PrometheusStaticTarget{{Host: "mon-1", Address: "10.0.0.5:9090", Labels: map[string]string{"env": "prod"}}},
			Alertmanager: []PrometheusStaticTarget{
				{Host: "mon-1", Address: "10.0.0.5:9093", Labels: map[string]string{"env": "prod"}},
				{Host: "mon-2", Address: "10.0.0.6:9093"},
			},
			Grafana: []PrometheusStaticTarget{{Host: "mon-1", Address: "10.0.0.5:3000"}},
			Jobs: []PrometheusScrapeJob{
				{Name: "app", Targets: []string{"10.0.1.10:8080", "10.0.1.11:8080"}, MetricsPath: "/internal/metrics",
					Scheme: "https", ScrapeInterval: "5s", Labels: map[string]string{"team": "payments"}},
				{Name: "blackbox", Targets: []string{"10.0.0.9:9115"}, ScrapeInterval: "2m"},
			},
			RemoteWrite: []PrometheusRemoteWrite{
				{Name: "longterm", URL: "https://metrics.example.com/api/v1/write", Username: "obsbox", Password: "s3cr3t"},
				{Name: "vendor", URL: "https://push.example.net/write?tenant=a&x=1", BearerToken: "tok-123"},
			},
		}},
		{"hostile", PrometheusConfig{
			ScrapeInterval: "1m",
			ExternalLabels: map[string]string{
				"note":  "it's \"quoted\"\nsecond line: - [x] #c",
				"yes":   "no",
				"null":  "~",
				"emoji": "🚨 ünïcødé \u0085 \u2028 \ttab \x00 \x7f \u00a0 \ufeff",
				"space": " ",
				"flow":  "{a: b} [c] *ref &anc !tag %d @x `q` | > ---",
			},
			Alertmanagers: []string{"am.example.com:9093"},
			RuleFiles:     []string{PromBuiltinRulesFile, "rules/user/it's #1/*.yml"},
			Prometheus:    []PrometheusStaticTarget{{Host: "mon'1: #x", Address: "[::1]:9090"}},
			Jobs: []PrometheusScrapeJob{
				{Name: `app "quoted": #1`, Targets: []string{"10.0.1.10:8080"}, MetricsPath: "/m?x='1'&y=\"2\"",
					Labels: map[string]string{"tmpl": "{{ .x }}", "on": "off", "nl": "a\nb\r\n"}},
			},
			RemoteWrite: []PrometheusRemoteWrite{
				{Name: "basic 'one'", URL: "https://user@metrics.example.com/write?q='x'#frag", Username: "user: name", Password: "p'a\"ss\nword\\ #"},
				{Name: "bearer", URL: "http://10.0.0.9:8428/api/v1/write", BearerToken: "a b #c \"d\" 'e'"},
			},
		}},
	}
}

func TestPrometheusConfigGolden(t *testing.T) {
	for _, tc := range promCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderPrometheusConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "prometheus", tc.name+".yml"), got)
		})
	}
}

// TestPrometheusConfigPromtool lays rendered files out as on a host and has
// the real promtool check them, rule files and file_sd targets included.
func TestPrometheusConfigPromtool(t *testing.T) {
	tools := promTools(t, "OBSBOX_PROMTOOL", "promtool")
	rules, err := RenderAlertRules(RuleSettings{})
	if err != nil {
		t.Fatal(err)
	}
	targets, err := RenderFileSD([]FileSDTarget{
		{Target: "10.0.0.5:9100", Labels: map[string]string{"instance": "mon-1", "env": "prod"}},
		{Target: "10.0.1.10:9100", Labels: map[string]string{"instance": "web-1", "note": "it's \"odd\"\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range promCases() {
		cfg, err := RenderPrometheusConfig(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		promWrite(t, filepath.Join(dir, "prometheus.yml"), cfg)
		promWrite(t, filepath.Join(dir, PromBuiltinRulesFile), rules)
		promWrite(t, filepath.Join(dir, "rules", "user", "custom.yml"),
			[]byte("groups:\n  - name: custom\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n"))
		promWrite(t, filepath.Join(dir, PromNodeTargetsFile), targets)
		for _, tool := range tools {
			t.Run(tc.name+"/"+filepath.Base(tool), func(t *testing.T) {
				// Run from elsewhere: relative paths must resolve against the config's folder.
				out, err := promRun(t, "/", tool, "check", "config", filepath.Join(dir, "prometheus.yml"))
				if err != nil {
					t.Fatalf("promtool check config: %v\n%s", err, out)
				}
				if !strings.Contains(out, "obsbox-alerts.yml\n  SUCCESS: 12 rules found") {
					t.Errorf("promtool did not read the built-in rules:\n%s", out)
				}
				// A missing targets file is only a warning; promtool checks the ones present.
				if strings.Contains(out, "WARNING") {
					t.Errorf("promtool warned:\n%s", out)
				}
			})
		}
	}
}

func TestPrometheusConfigShape(t *testing.T) {
	got, err := RenderPrometheusConfig(promCases()[1].cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		// node targets come from a file Prometheus watches: no reload to add a host
		"  - job_name: 'node'\n    file_sd_configs:\n      - files:\n          - 'targets/node.json'\n        refresh_interval: '30s'\n",
		// component targets are named by host, not address
		"      - targets:\n          - '10.0.0.6:9093'\n        labels:\n          instance: 'mon-2'\n",
		// a 5s job under a 30s global interval needs its own timeout
		"    scrape_interval: '5s'\n    scrape_timeout: '5s'\n",
		"    basic_auth:\n      username: 'obsbox'\n      password: 's3cr3t'\n",
		"    authorization:\n      type: 'Bearer'\n      credentials: 'tok-123'\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered config lacks\n%s\n--- in ---\n%s", want, s)
		}
	}
	if strings.Contains(s, "    scrape_interval: '2m'\n    scrape_timeout") {
		t.Errorf("a 2m job got a scrape_timeout it does not need:\n%s", s)
	}
}

func TestPrometheusConfigErrors(t *testing.T) {
	base := func() PrometheusConfig {
		return PrometheusConfig{Prometheus: []PrometheusStaticTarget{{Host: "mon-1", Address: "10.0.0.5:9090"}}}
	}
	cases := []struct {
		name   string
		change func(*PrometheusConfig)
		want   string // part of the error
		secret string // must not appear in the error
	}{
		{"external label name", func(c *PrometheusConfig) { c.ExternalLabels = map[string]string{"bad-name": "x"} }, `external label "bad-name": not a valid label name`, ""},
		{"reserved label name", func(c *PrometheusConfig) { c.ExternalLabels = map[string]string{"__name__": "x"} }, "reserved for Prometheus", ""},
		{"empty external label", func(c *PrometheusConfig) { c.ExternalLabels = map[string]string{"env": ""} }, `external label "env": empty value`, ""},
		{"job label not UTF-8", func(c *PrometheusConfig) {
			c.Jobs = []PrometheusScrapeJob{{Name: "app", Targets: []string{"a:1"}, Labels: map[string]string{"team": "\xff"}}}
		}, "prometheus.yml: a value is not valid UTF-8", ""},
		{"remote write both auths", func(c *PrometheusConfig) {
			c.RemoteWrite = []PrometheusRemoteWrite{{Name: "lt", URL: "https://x/w", Username: "u", Password: "SECRET2", BearerToken: "SECRET3"}}
		}, "either username/password or a bearer token", "SECRET"},
		{"remote write password not UTF-8", func(c *PrometheusConfig) {
			c.RemoteWrite = []PrometheusRemoteWrite{{Name: "lt", URL: "https://x/w", Username: "u", Password: "SECRET5\xff"}}
		}, "prometheus.yml: a value is not valid UTF-8", "SECRET5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(&c)
			_, err := RenderPrometheusConfig(c)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q leaks a secret", err)
			}
		})
	}
}

func promFileSDCases() []struct {
	name    string
	targets []FileSDTarget
} {
	return []struct {
		name    string
		targets []FileSDTarget
	}{
		{"empty", nil},
		{"hosts", []FileSDTarget{
			{Target: "10.0.1.11:9100", Labels: map[string]string{"instance": "web-2", "env": "prod", "role": "web"}},
			{Target: "10.0.0.5:9100", Labels: map[string]string{"instance": "mon-1", "env": "prod"}},
			{Target: "10.0.1.10:9100", Labels: map[string]string{"instance": "web-1"}},
			{Target: "10.0.2.1:9100"},
		}},
		{"hostile", []FileSDTarget{
			{Target: "db-1.example.com:9100", Labels: map[string]string{
				"instance": "db-1",
				"note":     "\"quoted\" 'single' \\back\nline </script> & <b>",
				"emoji":    "🚨\u2028\x00",
			}},
		}},
	}
}

func TestFileSDGolden(t *testing.T) {
	for _, tc := range promFileSDCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderFileSD(tc.targets)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "prometheus", "file_sd_"+tc.name+".json"), got)

			// Every target and label reads back exactly.
			var groups []struct {
				Targets []string          `json:"targets"`
				Labels  map[string]string `json:"labels"`
			}
			if err := json.Unmarshal(got, &groups); err != nil {
				t.Fatalf("rendered file_sd is not JSON: %v", err)
			}
			if groups == nil {
				t.Fatal("rendered null instead of a list")
			}
			if len(groups) != len(tc.targets) {
				t.Fatalf("%d groups for %d targets", len(groups), len(tc.targets))
			}
			byTarget := map[string]map[string]string{}
			for i, g := range groups {
				if len(g.Targets) != 1 {
					t.Fatalf("group %d has targets %v, want one", i, g.Targets)
				}
				if i > 0 && groups[i-1].Targets[0] >= g.Targets[0] {
					t.Errorf("groups not ordered by target: %q before %q", groups[i-1].Targets[0], g.Targets[0])
				}
				byTarget[g.Targets[0]] = g.Labels
			}
			for _, tt := range tc.targets {
				got := byTarget[tt.Target]
				if len(got) != len(tt.Labels) {
					t.Errorf("target %s: labels %v, want %v", tt.Target, got, tt.Labels)
				}
				for k, v := range tt.Labels {
					if got[k] != v {
						t.Errorf("target %s label %s = %q, want %q", tt.Target, k, got[k], v)
					}
				}
			}
		})
	}
}

func TestFileSDStableOrder(t *testing.T) {
	a := []FileSDTarget{{Target: "b:9100"}, {Target: "a:9100"}, {Target: "c:9100"}}
	b := []FileSDTarget{{Target: "c:9100"}, {Target: "b:9100"}, {Target: "a:9100"}}
	ra, err := RenderFileSD(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := RenderFileSD(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ra, rb) {
		t.Errorf("input order changed the output:\n%s\n---\n%s", ra, rb)
	}
}

func TestFileSDErrors(t *testing.T) {
	cases := []struct {
		name    string
		targets []FileSDTarget
		want    string
	}{
		{"not UTF-8", []FileSDTarget{{Target: "a:9100", Labels: map[string]string{"env": "\xfe"}}}, `label "env": value is not valid UTF-8`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RenderFileSD(tc.targets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestYQuoted(t *testing.T) {
	cases := []struct {
		in    string
		style yaml.Style
	}{
		{"", yaml.SingleQuotedStyle},
		{"plain", yaml.SingleQuotedStyle},
		{"it's", yaml.SingleQuotedStyle},
		{`up{job="node"}`, yaml.SingleQuotedStyle},
		{`back\slash`, yaml.SingleQuotedStyle},
		{"ünï", yaml.SingleQuotedStyle},
		{"a\nb", yaml.DoubleQuotedStyle},
		{"tab\there", yaml.DoubleQuotedStyle},
		{"nel\u0085", yaml.DoubleQuotedStyle},
		{"\U000E0001", yaml.DoubleQuotedStyle},
	}
	for _, tc := range cases {
		n, err := yQuoted(tc.in, yaml.SingleQuotedStyle)
		if err != nil || n.Style != tc.style || n.Value != tc.in || n.Tag != "!!str" {
			t.Errorf("yQuoted(%q) = %+v, %v; want style %v", tc.in, n, err, tc.style)
		}
	}
	if _, err := yQuoted("\xff", yaml.SingleQuotedStyle); err == nil {
		t.Error("yQuoted accepted invalid UTF-8")
	}
}

func TestYKeys(t *testing.T) {
	for in, quoted := range map[string]bool{
		"env": false, "_x1": false, "yes": true, "on": true, "null": true, "N": true,
		"a-b": true, "1x": true, "a b": true, "a:b": true,
	} {
		n, err := yKey(in)
		if err != nil || (n.Style != 0) != quoted || n.Value != in {
			t.Errorf("yKey(%q) = %+v, %v; want quoted=%v", in, n, err, quoted)
		}
	}
}
