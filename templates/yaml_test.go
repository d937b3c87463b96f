package templates

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// yHostile are values that would change a document written without quoting
// or escaping: quotes, line breaks, ": ", "#", template braces, YAML
// indicators, YAML 1.1 booleans and null, controls and unicode.
var yHostile = []string{
	"plain", "", " ", "  lead and trail  ", "it's", `"double"`, `back\slash`, "a\nb", "trailing\n", "\nleading",
	"cr\r\nlf", "tab\there", "key: value", "# comment", "a #b", "{{ .Evil }}", "{{", "}}", "*ref", "&anc", "!tag",
	"!!str x", "%YAML", "@at", "`q`", "| block", "> folded", "- dash", "? q", "[c]", "{a: b}", ",", "---", "...",
	"yes", "no", "on", "off", "null", "~", "true", "0x1F", "1e3", ".inf", "0o17", "12:30",
	"nul\x00", "del\x7f", "nel\u0085", "ls\u2028ps\u2029", "bom\ufeff", "nbsp\u00a0", "ünïcødé", "🚨", "\U000E0001",
	"$HOME", "${X}", "$__env{X}", "'; rm -rf / #", "\"\n  injected: true\n",
}

// yPlaceholder marks where a test puts the hostile value.
const yPlaceholder = "PLACEHOLDERxyz"

// yDecode reads rendered YAML back with the library, as a generic tree.
func yDecode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("rendered YAML does not parse: %v\n%s", err, b)
	}
	return v
}

// yCompare walks the document rendered with the placeholder (want) and the
// one rendered with a hostile value (got): their shapes must be the same, and
// every string must be want's with the placeholder replaced by expect(...).
// It returns how many strings held the value.
func yCompare(t *testing.T, where string, want, got any, expect func(benign string) []string) int {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %#v, want a map like %#v", where, got, want)
			return 0
		}
		n := 0
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: key %q is gone", where, k)
				continue
			}
			n += yCompare(t, where+"."+k, wv, gv, expect)
		}
		return n
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %#v, want a list like %#v", where, got, want)
			return 0
		}
		n := 0
		for i := range w {
			n += yCompare(t, fmt.Sprintf("%s[%d]", where, i), w[i], g[i], expect)
		}
		return n
	case string:
		g, ok := got.(string)
		if !ok {
			t.Errorf("%s: got %#v (%T), want a string", where, got, got)
			return 0
		}
		if !strings.Contains(w, yPlaceholder) {
			if g != w {
				t.Errorf("%s: got %q, want %q", where, g, w)
			}
			return 0
		}
		for _, e := range expect(w) {
			if g == e {
				return 1
			}
		}
		t.Errorf("%s: read back %q, want one of %q", where, g, expect(w))
		return 0
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: got %#v, want %#v", where, got, want)
		}
		return 0
	}
}

// yBlockLine is a line installer/mask.go can read: block style, one
// "key: value", "key:" or "- value" per line.
var yBlockLine = regexp.MustCompile(`^ *(- )*((?:` + yKeyRE + `):(?: (?:` + yValueRE + `))?|(?:` + yValueRE + `))$`)

const (
	yKeyRE   = `[A-Za-z_][A-Za-z0-9_]*|` + yQuotedRE
	yValueRE = yQuotedRE + `|\|-|\[\]|\{\}|[A-Za-z0-9_.]+`
	// A scalar in single quotes ('' is a quote) or double quotes (with escapes).
	yQuotedRE = `'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"`
)

// yCheckBlockStyle fails on a line outside a literal block that is not yBlockLine.
func yCheckBlockStyle(t *testing.T, name string, b []byte) {
	t.Helper()
	blockIndent := -1
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if blockIndent >= 0 && (line == "" || indent > blockIndent) {
			continue
		}
		blockIndent = -1
		if i == 0 && strings.HasPrefix(line, "# Managed by obsbox") {
			continue
		}
		if !yBlockLine.MatchString(line) {
			t.Errorf("%s line %d is not one block-style key or item: %q", name, i+1, line)
		}
		if strings.HasSuffix(line, ": |-") {
			blockIndent = indent
		}
	}
}

func yHostilePrometheus(v string) PrometheusConfig {
	return PrometheusConfig{
		ScrapeInterval:  "30s",
		ExternalLabels:  map[string]string{"env": "x" + v},
		Alertmanagers:   []string{v},
		RuleFiles:       []string{v},
		NodeTargetsFile: v,
		Prometheus:      []PrometheusStaticTarget{{Host: v, Address: v, Labels: map[string]string{"team": v}}},
		Jobs: []PrometheusScrapeJob{{Name: v, Targets: []string{v, "b:1"}, MetricsPath: "/" + v, Scheme: "https",
			ScrapeInterval: "5s", Labels: map[string]string{"role": v, "yes": v, "null": v}}},
		RemoteWrite: []PrometheusRemoteWrite{
			{Name: v, URL: "https://x/" + v, Username: v, Password: v},
			{Name: "b", URL: "https://y/", BearerToken: v},
		},
	}
}

func yHostileAlertmanager(v string) AlertmanagerConfig {
	return AlertmanagerConfig{
		Receivers: []AlertmanagerReceiver{
			{Name: v, Webhook: &AlertmanagerWebhook{URL: "https://h/" + v}},
			{Name: "s", Slack: &AlertmanagerSlack{APIURL: "https://s/" + v, Channel: v}},
			{Name: "p", PagerDuty: &AlertmanagerPagerDuty{RoutingKey: v}},
			{Name: "m", Email: &AlertmanagerEmail{To: v, From: v, Smarthost: v, AuthUsername: v, AuthPassword: v}},
		},
		Routes:           []AlertmanagerRoute{{Severity: v, Receiver: v}},
		DefaultReceiver:  v,
		WatchdogReceiver: v,
	}
}

// TestFinding4_HostileValuesReadBack renders every YAML file with a hostile
// value in each place a value from the inventory goes, reads it back with the
// library and checks that the document has the same shape as with a benign
// value and holds exactly the value (or, where Alertmanager or Grafana would
// expand it, the escaped form that expands to it), and stays in block style.
func TestFinding4_HostileValuesReadBack(t *testing.T) {
	type renderer struct {
		name   string
		render func(v string) ([]byte, error)
		places int // places the value goes to
		expect func(v, benign string) []string
	}
	same := func(v, benign string) []string { return []string{strings.ReplaceAll(benign, yPlaceholder, v)} }
	renderers := []renderer{
		{"prometheus.yml", func(v string) ([]byte, error) { return RenderPrometheusConfig(yHostilePrometheus(v)) }, 18, same},
		{"alertmanager.yml", func(v string) ([]byte, error) { return RenderAlertmanagerConfig(yHostileAlertmanager(v)) }, 14,
			func(v, benign string) []string {
				// channel, to, from and the routing key are templates; matchers quote their value.
				return []string{
					strings.ReplaceAll(benign, yPlaceholder, v),
					strings.ReplaceAll(benign, yPlaceholder, amLiteral(v)),
					strings.ReplaceAll(benign, `"`+yPlaceholder+`"`, amMatcher("", "", v)),
				}
			}},
		{"rules", func(v string) ([]byte, error) {
			return RenderAlertRules(RuleSettings{RunbookBaseURL: "https://wiki.example.com/" + v + "/"})
		}, 12, same},
		{"datasource", func(v string) ([]byte, error) {
			return RenderGrafanaDatasource(GrafanaDatasource{Name: v, URL: "http://p/" + v, ScrapeInterval: v, PrometheusVersion: v})
		}, 4, func(v, benign string) []string {
			return []string{strings.ReplaceAll(benign, yPlaceholder, strings.ReplaceAll(v, "$", "$$"))}
		}},
		{"dashboard provider", func(v string) ([]byte, error) {
			return RenderGrafanaDashboardProvider("/x/" + strings.NewReplacer("/", "", ".", "").Replace(v) + "y")
		}, 1, func(v, benign string) []string {
			v = strings.NewReplacer("/", "", ".", "").Replace(v)
			return []string{strings.ReplaceAll(benign, yPlaceholder, strings.ReplaceAll(v, "$", "$$"))}
		}},
	}
	for _, r := range renderers {
		t.Run(r.name, func(t *testing.T) {
			benign, err := r.render(yPlaceholder)
			if err != nil {
				t.Fatal(err)
			}
			want := yDecode(t, benign)
			for _, v := range yHostile {
				if v == "" || r.name == "dashboard provider" && strings.NewReplacer("/", "", ".", "").Replace(v) == "" {
					continue // "" leaves optional keys out; the provider's folder must be a clean path
				}
				if v == AlertmanagerNullReceiver && r.name == "alertmanager.yml" {
					continue // the built-in receiver's name, which the inventory refuses
				}
				got, err := r.render(v)
				if err != nil {
					t.Errorf("value %q: %v", v, err)
					continue
				}
				n := yCompare(t, fmt.Sprintf("%q", v), want, yDecode(t, got), func(b string) []string { return r.expect(v, b) })
				if n != r.places {
					t.Errorf("value %q read back in %d places, want %d", v, n, r.places)
				}
				yCheckBlockStyle(t, fmt.Sprintf("%s with %q", r.name, v), got)
			}
		})
	}
}

// TestFinding4_RenderersTrustTheInventory: what installer/inventory has
// validated is not refused again with other rules. The inventory's version
// syntax takes a pre-release (1.0.0-rc-1), which the datasource used to refuse.
func TestFinding4_RenderersTrustTheInventory(t *testing.T) {
	ds, err := RenderGrafanaDatasource(GrafanaDatasource{URL: "http://10.0.0.5:9090", PrometheusVersion: "1.0.0-rc-1"})
	if err != nil {
		t.Fatalf("a version the inventory accepts was refused: %v", err)
	}
	if !strings.Contains(string(ds), `prometheusVersion: "1.0.0-rc-1"`) {
		t.Errorf("version missing:\n%s", ds)
	}
}

// TestFinding4_InvalidUTF8 fails the render without showing the value: it
// may be a secret.
func TestFinding4_InvalidUTF8(t *testing.T) {
	const secret = "SECRET-\xff"
	for name, render := range map[string]func() ([]byte, error){
		"prometheus.yml": func() ([]byte, error) {
			return RenderPrometheusConfig(PrometheusConfig{RemoteWrite: []PrometheusRemoteWrite{{URL: "https://x/", Username: "u", Password: secret}}})
		},
		"alertmanager.yml": func() ([]byte, error) {
			return RenderAlertmanagerConfig(AlertmanagerConfig{Receivers: []AlertmanagerReceiver{{Name: "h", Webhook: &AlertmanagerWebhook{URL: secret}}}})
		},
		"datasource": func() ([]byte, error) { return RenderGrafanaDatasource(GrafanaDatasource{URL: secret}) },
	} {
		_, err := render()
		if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("%s: error %v, want one about UTF-8", name, err)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error %q shows the value", name, err)
		}
	}
}
