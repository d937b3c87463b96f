package templates

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/internal/golden"
)

func TestGrafanaINIGolden(t *testing.T) {
	tests := []struct {
		golden string
		in     GrafanaINI
	}{
		{"grafana-defaults.ini", GrafanaINI{AdminPassword: "correct-horse-battery"}},
		{"grafana-custom.ini", GrafanaINI{
			HTTPPort:      3001,
			HTTPAddr:      "10.0.0.5",
			RootURL:       "https://grafana.example.com/",
			AdminUser:     "ops",
			AdminPassword: "p#ss;word with spaces",
			SecretKey:     "0123456789abcdef0123456789abcdef",
			LogLevel:      "warn",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := RenderGrafanaINI(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "grafana", tt.golden), got)
		})
	}
}

// grafanaINIKeys reads an ini file the way Grafana's parser (go-ini v1.67,
// parser.go readValue, default options) reads the lines obsbox writes:
// section -> key -> value. It covers """-quoted and bare values, not go-ini's
// multi-line forms, which obsbox never writes.
func grafanaINIKeys(t *testing.T, b []byte) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	section := ""
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimLeft(line, " \t")
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = line[1:strings.LastIndexByte(line, ']')]
			continue
		}
		eq := strings.IndexAny(line, "=:")
		if eq < 0 {
			t.Fatalf("line %d: no = in %q", n+1, line)
		}
		key := strings.TrimSpace(line[:eq])
		v := strings.TrimLeft(line[eq+1:], " \t")
		switch {
		case len(v) > 3 && v[:3] == `"""`:
			end := strings.LastIndex(v[3:], `"""`)
			if end < 0 {
				t.Fatalf("line %d: unterminated \"\"\" in %q", n+1, line)
			}
			v = v[3 : 3+end]
		case v != "" && v[0] == '`':
			t.Fatalf("line %d: obsbox never writes `-quoted values: %q", n+1, line)
		default:
			v = strings.TrimSpace(v)
			if strings.HasSuffix(v, `\`) {
				t.Fatalf("line %d: go-ini would join the next line to %q", n+1, line)
			}
			if i := strings.IndexAny(v, "#;"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] &&
				strings.IndexByte(v[1:], v[0]) == len(v)-2 {
				v = v[1 : len(v)-1]
			}
		}
		if out[section] == nil {
			out[section] = map[string]string{}
		}
		out[section][key] = v
	}
	return out
}

func TestGrafanaINIKeys(t *testing.T) {
	b, err := RenderGrafanaINI(GrafanaINI{AdminPassword: "correct-horse-battery"})
	if err != nil {
		t.Fatal(err)
	}
	keys := grafanaINIKeys(t, b)
	// The keys the brief and Grafana's documented configuration call for.
	want := map[string]map[string]string{
		"paths": {
			"data":         GrafanaDataDir,
			"logs":         GrafanaDataDir + "/log",
			"plugins":      GrafanaDataDir + "/plugins",
			"provisioning": GrafanaProvisioningDir,
		},
		"server":    {"http_port": "3000", "protocol": "http"},
		"database":  {"type": "sqlite3", "path": GrafanaDatabasePath},
		"security":  {"admin_user": "admin", "admin_password": "correct-horse-battery"},
		"analytics": {"reporting_enabled": "false", "check_for_updates": "false", "check_for_plugin_updates": "false"},
		"log":       {"mode": "console"},
		"plugins":   {"preinstall_disabled": "true"},
	}
	for section, kv := range want {
		for k, v := range kv {
			if got, ok := keys[section][k]; !ok || got != v {
				t.Errorf("[%s] %s = %q (set: %v), want %q", section, k, got, ok, v)
			}
		}
	}
	if _, ok := keys["security"]["secret_key"]; ok {
		t.Error("secret_key is written although none was given")
	}
}

func TestGrafanaINIPasswordRoundTrip(t *testing.T) {
	// Each must come back unchanged from Grafana's parser. The same list was
	// checked once against gopkg.in/ini.v1 v1.67.0 itself.
	passwords := []string{
		"simple-pass", "pa#ss;word", `"quoted"`, `'single'`, `ends with \`,
		" lead and trail ", `a"""b`, `xxxx"`, `"""start`, "`tick`", "semi;",
		"has = equals", `back\slash`, "ünïcödé pass", "$notvar", "$$double",
		"%notref", "%(admin_user)", "100%s", `"a"b"`,
	}
	for _, pw := range passwords {
		b, err := RenderGrafanaINI(GrafanaINI{AdminPassword: pw, AdminUser: pw})
		if err != nil {
			t.Errorf("password %q: %v", pw, err)
			continue
		}
		keys := grafanaINIKeys(t, b)
		if got := keys["security"]["admin_password"]; got != pw {
			t.Errorf("admin_password %q reads back as %q", pw, got)
		}
		if got := keys["security"]["admin_user"]; got != pw {
			t.Errorf("admin_user %q reads back as %q", pw, got)
		}
	}
}

func TestGrafanaINIRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      GrafanaINI
		wantErr string
	}{
		{"no password", GrafanaINI{}, "shorter than 5"},
		{"short password", GrafanaINI{AdminPassword: "abcd"}, "shorter than 5"},
		{"newline", GrafanaINI{AdminPassword: "abc\ndef"}, "control character"},
		{"tab", GrafanaINI{AdminPassword: "abc\tdef"}, "control character"},
		{"env expansion", GrafanaINI{AdminPassword: "abc${HOME}"}, "${...}"},
		{"file expansion", GrafanaINI{AdminPassword: "x$__file{/etc/shadow}"}, "${...}"},
		{"ini reference", GrafanaINI{AdminPassword: "x%(admin_user)s"}, "%(...)s"},
		{"bad utf8", GrafanaINI{AdminPassword: "abcde\xff"}, "UTF-8"},
		{"bad port", GrafanaINI{AdminPassword: "abcdef", HTTPPort: 70000}, "http_port 70000"},
		{"bad addr", GrafanaINI{AdminPassword: "abcdef", HTTPAddr: "any"}, `http_addr "any"`},
		{"bad log level", GrafanaINI{AdminPassword: "abcdef", LogLevel: "trace"}, `log level "trace"`},
		{"bad secret key", GrafanaINI{AdminPassword: "abcdef", SecretKey: "a\nb"}, "secret_key"},
		{"bad admin user", GrafanaINI{AdminPassword: "abcdef", AdminUser: "${USER}"}, "admin_user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RenderGrafanaINI(tt.in)
			if err == nil {
				t.Fatalf("RenderGrafanaINI succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.in.AdminPassword != "" && len(tt.in.AdminPassword) > 4 && strings.Contains(err.Error(), tt.in.AdminPassword) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestGrafanaDatasourceGolden(t *testing.T) {
	tests := []struct {
		golden string
		in     GrafanaDatasource
	}{
		{"datasource.yaml", GrafanaDatasource{
			URL: "http://10.0.0.5:9090", IsDefault: true, ScrapeInterval: "15s", PrometheusVersion: "2.53.2",
		}},
		{"datasource-minimal.yaml", GrafanaDatasource{Name: `Prom "$main"`, URL: "https://prom.example.com/"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := RenderGrafanaDatasource(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "grafana", tt.golden), got)
			if !bytes.Contains(got, []byte("uid: \""+GrafanaDatasourceUID+"\"\n")) {
				t.Errorf("datasource lacks uid %q:\n%s", GrafanaDatasourceUID, got)
			}
		})
	}
}

func TestGrafanaDashboardProvider(t *testing.T) {
	got, err := RenderGrafanaDashboardProvider(GrafanaDashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "grafana", "dashboard-provider.yaml"), got)
	for _, bad := range []string{"", "dashboards", "/etc/obsbox/../x", "/etc/obsbox/grafana/dashboards/"} {
		if _, err := RenderGrafanaDashboardProvider(bad); err == nil {
			t.Errorf("RenderGrafanaDashboardProvider(%q) succeeded, want an error", bad)
		}
	}
}

func TestGrafanaResetAdminPassword(t *testing.T) {
	c, err := GrafanaResetAdminPassword(GrafanaHomeDir, "correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/opt/obsbox/grafana/current/bin/grafana", "cli",
		"--homepath", "/opt/obsbox/grafana/current",
		"--config", "/etc/obsbox/grafana/grafana.ini",
		"admin", "reset-admin-password", "--password-from-stdin",
	}
	if !slices.Equal(c.Argv, want) {
		t.Errorf("argv = %q, want %q", c.Argv, want)
	}
	if string(c.Stdin) != "correct-horse-battery\n" {
		t.Errorf("stdin = %q, want the password and a newline", c.Stdin)
	}
	if c.User != GrafanaUser {
		t.Errorf("user = %q, want %q", c.User, GrafanaUser)
	}
	if strings.Contains(strings.Join(c.Argv, " "), "correct-horse-battery") {
		t.Error("the password is in argv, where ps and logs show it")
	}
	if _, err := GrafanaResetAdminPassword(GrafanaHomeDir, "abc"); err == nil {
		t.Error("a 3-character password was accepted; grafana cli refuses it")
	}
	if _, err := GrafanaResetAdminPassword("opt/grafana", "correct-horse-battery"); err == nil {
		t.Error("a relative home folder was accepted")
	}
}

func TestGrafanaServerArgv(t *testing.T) {
	got := GrafanaServerArgv("/opt/obsbox/grafana/11.2.2")
	want := []string{"/opt/obsbox/grafana/11.2.2/bin/grafana", "server", "--config", GrafanaINIPath, "--homepath", "/opt/obsbox/grafana/11.2.2"}
	if !slices.Equal(got, want) {
		t.Errorf("GrafanaServerArgv = %q, want %q", got, want)
	}
}

// grafanaKnownMetrics lists every metric the dashboards query and who exposes
// it, in every version obsbox supports: node_exporter 1.5-1.8, Prometheus
// 2.42-2.53, Alertmanager 0.25-0.27. TestGrafanaDashboardMetrics fails on a
// metric missing here, and on an entry no dashboard uses any more.
var grafanaKnownMetrics = map[string]string{
	"node_uname_info":                   "node_exporter (uname collector)",
	"node_boot_time_seconds":            "node_exporter (stat collector)",
	"node_time_seconds":                 "node_exporter (time collector)",
	"node_cpu_seconds_total":            "node_exporter (cpu collector)",
	"node_load1":                        "node_exporter (loadavg collector)",
	"node_load5":                        "node_exporter (loadavg collector)",
	"node_load15":                       "node_exporter (loadavg collector)",
	"node_memory_MemTotal_bytes":        "node_exporter (meminfo collector)",
	"node_memory_MemAvailable_bytes":    "node_exporter (meminfo collector)",
	"node_memory_SwapTotal_bytes":       "node_exporter (meminfo collector)",
	"node_memory_SwapFree_bytes":        "node_exporter (meminfo collector)",
	"node_filesystem_avail_bytes":       "node_exporter (filesystem collector)",
	"node_filesystem_size_bytes":        "node_exporter (filesystem collector)",
	"node_disk_read_bytes_total":        "node_exporter (diskstats collector)",
	"node_disk_written_bytes_total":     "node_exporter (diskstats collector)",
	"node_disk_io_time_seconds_total":   "node_exporter (diskstats collector)",
	"node_network_receive_bytes_total":  "node_exporter (netdev collector)",
	"node_network_transmit_bytes_total": "node_exporter (netdev collector)",
	"node_exporter_build_info":          "node_exporter",

	"up":                      "Prometheus, synthetic series of every scrape",
	"scrape_duration_seconds": "Prometheus, synthetic series of every scrape",
	"ALERTS":                  "Prometheus, synthetic series of alerting rules",

	"prometheus_build_info":                       "Prometheus",
	"prometheus_config_last_reload_successful":    "Prometheus",
	"prometheus_rule_evaluation_failures_total":   "Prometheus (rule manager)",
	"prometheus_rule_group_last_duration_seconds": "Prometheus (rule manager)",
	"prometheus_rule_group_interval_seconds":      "Prometheus (rule manager)",
	"prometheus_notifications_sent_total":         "Prometheus (notifier)",
	"prometheus_notifications_errors_total":       "Prometheus (notifier)",
	"prometheus_notifications_dropped_total":      "Prometheus (notifier)",
	"prometheus_notifications_queue_length":       "Prometheus (notifier)",
	"prometheus_tsdb_head_series":                 "Prometheus (TSDB)",
	"prometheus_tsdb_head_samples_appended_total": "Prometheus (TSDB)",

	"alertmanager_build_info":                    "Alertmanager",
	"alertmanager_config_last_reload_successful": "Alertmanager",
	"alertmanager_notifications_total":           "Alertmanager (notify)",
	"alertmanager_notifications_failed_total":    "Alertmanager (notify)",
	"alertmanager_alerts":                        "Alertmanager",

	"probe_success":                  "blackbox_exporter 0.24-0.27 (every prober)",
	"probe_duration_seconds":         "blackbox_exporter 0.24-0.27 (every prober)",
	"probe_http_duration_seconds":    "blackbox_exporter 0.24-0.27 (http prober, by phase)",
	"probe_ssl_earliest_cert_expiry": "blackbox_exporter 0.24-0.27 (http and tcp probers over TLS)",
}

// Grafana's dashboard JSON, as far as the tests read it.
type grafanaDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	SchemaVersion int            `json:"schemaVersion"`
	Editable      bool           `json:"editable"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string             `json:"name"`
			Type       string             `json:"type"`
			Definition string             `json:"definition"`
			Datasource *grafanaDatasource `json:"datasource"`
			Query      struct {
				Query string `json:"query"`
			} `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *grafanaDatasource       `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		Datasource *grafanaDatasource `json:"datasource"`
		Expr       string             `json:"expr"`
		RefID      string             `json:"refId"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // of collapsed rows
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func grafanaLoadDashboards(t *testing.T) map[string]grafanaDashboard {
	t.Helper()
	files := GrafanaDashboards()
	maps.Copy(files, BlackboxDashboards())
	out := map[string]grafanaDashboard{}
	for name, b := range files {
		var d grafanaDashboard
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: not valid dashboard JSON: %v", name, err)
		}
		out[name] = d
	}
	return out
}

func TestGrafanaDashboards(t *testing.T) {
	dashboards := grafanaLoadDashboards(t)
	want := map[string]struct{ uid, title string }{
		"obsbox-host-overview.json": {"obsbox-host-overview", "Host overview"},
		"obsbox-stack-health.json":  {"obsbox-stack-health", "Stack health"},
		"obsbox-probes.json":        {"obsbox-probes", "Probes"},
	}
	if len(dashboards) != len(want) {
		t.Errorf("%d dashboards, want %d", len(dashboards), len(want))
	}
	for name, w := range want {
		d, ok := dashboards[name]
		if !ok {
			t.Errorf("dashboard %s is missing", name)
			continue
		}
		if d.UID != w.uid || d.Title != w.title {
			t.Errorf("%s: uid %q title %q, want %q %q", name, d.UID, d.Title, w.uid, w.title)
		}
		if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
			t.Errorf("%s: schemaVersion %d, want one Grafana 11 writes (around 39)", name, d.SchemaVersion)
		}
		if d.Editable {
			t.Errorf("%s: editable; provisioned dashboards are read-only", name)
		}
		ids := map[int]string{}
		var queries int
		for _, p := range grafanaAllPanels(d.Panels) {
			where := name + ": panel " + p.Title
			if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
				t.Errorf("%s: id %d is not a unique positive id (also %q)", where, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v does not fit Grafana's 24 columns", where, p.GridPos)
			}
			if p.Type == "row" {
				if len(p.Targets) > 0 {
					t.Errorf("%s: a row with queries", where)
				}
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != GrafanaDatasourceUID || p.Datasource.Type != "prometheus" {
				t.Errorf("%s: datasource %+v, want prometheus uid %q", where, p.Datasource, GrafanaDatasourceUID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			for _, q := range p.Targets {
				queries++
				if q.Datasource == nil || q.Datasource.UID != GrafanaDatasourceUID {
					t.Errorf("%s: query %s datasource %+v, want uid %q", where, q.RefID, q.Datasource, GrafanaDatasourceUID)
				}
				if strings.TrimSpace(q.Expr) == "" {
					t.Errorf("%s: query %s has no expression", where, q.RefID)
				}
			}
		}
		if queries == 0 {
			t.Errorf("%s: no queries at all", name)
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != GrafanaDatasourceUID) {
				t.Errorf("%s: variable %s uses datasource %+v, want uid %q", name, v.Name, v.Datasource, GrafanaDatasourceUID)
			}
		}
		grafanaCheckNoOverlap(t, name, d.Panels)
	}
}

// TestGrafanaHostOverview checks the host picker and that every query is
// about the picked host.
func TestGrafanaHostOverview(t *testing.T) {
	d := grafanaLoadDashboards(t)["obsbox-host-overview.json"]
	var found bool
	for _, v := range d.Templating.List {
		if v.Name != "instance" {
			continue
		}
		found = true
		const q = "label_values(node_uname_info, instance)"
		if v.Type != "query" || v.Query.Query != q || v.Definition != q {
			t.Errorf("variable instance: type %q query %q definition %q, want a query of %s", v.Type, v.Query.Query, v.Definition, q)
		}
	}
	if !found {
		t.Fatal("Host overview has no instance variable")
	}
	for _, p := range grafanaAllPanels(d.Panels) {
		for _, q := range p.Targets {
			for _, m := range grafanaMetricRefs(q.Expr) {
				rest := q.Expr[m.end:]
				end := strings.IndexByte(rest, '}')
				if !strings.HasPrefix(rest, "{") || end < 0 || !strings.Contains(rest[:end], `instance="$instance"`) {
					t.Errorf("panel %q: %s in %q is not limited to instance=\"$instance\"", p.Title, m.name, q.Expr)
				}
			}
		}
	}
}

func TestGrafanaDashboardMetrics(t *testing.T) {
	used := map[string]bool{}
	for name, d := range grafanaLoadDashboards(t) {
		var exprs []string
		for _, p := range grafanaAllPanels(d.Panels) {
			for _, q := range p.Targets {
				exprs = append(exprs, q.Expr)
			}
		}
		for _, v := range d.Templating.List {
			if m := regexp.MustCompile(`^label_values\((\w+),\s*\w+\)$`).FindStringSubmatch(v.Query.Query); m != nil {
				exprs = append(exprs, m[1])
			} else if v.Type == "query" {
				t.Errorf("%s: variable %s: query %q is not label_values(metric, label)", name, v.Name, v.Query.Query)
			}
		}
		for _, e := range exprs {
			refs := grafanaMetricRefs(e)
			if len(refs) == 0 {
				t.Errorf("%s: no metric found in %q", name, e)
			}
			for _, m := range refs {
				used[m.name] = true
				if _, ok := grafanaKnownMetrics[m.name]; !ok {
					t.Errorf("%s: %q uses %s, which is not in grafanaKnownMetrics (check that node_exporter 1.5-1.8, Prometheus 2.42-2.53 or Alertmanager 0.25-0.27 expose it, then add it)", name, e, m.name)
				}
			}
		}
	}
	var unused []string
	for m := range grafanaKnownMetrics {
		if !used[m] {
			unused = append(unused, m)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("grafanaKnownMetrics lists metrics no dashboard uses: %v", unused)
	}
}

func TestGrafanaMetricRefs(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (job) (up)`, []string{"up"}},
		{`count(up == 0) or vector(0)`, []string{"up"}},
		{`1 - node_filesystem_avail_bytes{instance="$instance", fstype!~"tmpfs|x"} / node_filesystem_size_bytes{mountpoint="/"}`,
			[]string{"node_filesystem_avail_bytes", "node_filesystem_size_bytes"}},
		{`sum by (mode) (rate(node_cpu_seconds_total{mode!="idle"}[$__rate_interval])) / scalar(count(node_cpu_seconds_total))`,
			[]string{"node_cpu_seconds_total", "node_cpu_seconds_total"}},
		{`count by (alertname, severity) (ALERTS{alertstate="firing"})`, []string{"ALERTS"}},
		{`max(x) without (instance) * on (job) group_left (version) y offset 5m`, []string{"x", "y"}},
		{`rate(a_total[5m:1m]) > bool 1e3 and b unless c`, []string{"a_total", "b", "c"}},
		{`{__name__="up"}`, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range grafanaMetricRefs(tt.expr) {
			got = append(got, m.name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("grafanaMetricRefs(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

type grafanaMetricRef struct {
	name string
	end  int // offset just past the name in the expression
}

var grafanaPromQLKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
	"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "atan2": true,
}

// Aggregations may put "by (...)" between their name and their "(".
var grafanaPromQLAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true,
	"quantile": true, "limitk": true, "limit_ratio": true,
}

// grafanaMetricRefs finds the metric names in a PromQL expression: every
// identifier that is not a function, keyword, label list, label matcher,
// string, number, range or Grafana variable.
func grafanaMetricRefs(expr string) []grafanaMetricRef {
	var out []grafanaMetricRef
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n') {
			i++
		}
		return i
	}
	skipTo := func(i int, close byte) int { // i is just past the opening bracket
		for i < len(expr) && expr[i] != close {
			if expr[i] == '"' || expr[i] == '\'' || expr[i] == '`' {
				q := expr[i]
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' && q != '`' {
						i++
					}
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c) - 1
		case c == '$':
			for i++; i < len(expr) && (isIdent(expr[i]) || expr[i] == '{' || expr[i] == '}'); i++ {
			}
		case c >= '0' && c <= '9' || c == '.':
			for i++; i < len(expr) && (isIdent(expr[i]) || expr[i] == '.' || expr[i] == '+' && (expr[i-1] == 'e' || expr[i-1] == 'E')); i++ {
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := skipSpace(i)
			switch {
			case grafanaPromQLKeywords[strings.ToLower(word)]:
				// by (...), on (...), group_left (...): label lists, not metrics.
				if next < len(expr) && expr[next] == '(' && word != "and" && word != "or" && word != "unless" {
					i = skipTo(next+1, ')')
				}
			case grafanaPromQLAggregations[word], next < len(expr) && expr[next] == '(':
				// a function or aggregation; its arguments are scanned next
			default:
				out = append(out, grafanaMetricRef{name: word, end: i})
			}
		default:
			i++
		}
	}
	return out
}

func grafanaAllPanels(panels []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range panels {
		out = append(out, p)
		out = append(out, grafanaAllPanels(p.Panels)...)
	}
	return out
}

// grafanaCheckNoOverlap fails when two top-level panels share grid cells.
func grafanaCheckNoOverlap(t *testing.T, name string, panels []grafanaPanel) {
	t.Helper()
	for i, a := range panels {
		for _, b := range panels[i+1:] {
			if a.GridPos.X < b.GridPos.X+b.GridPos.W && b.GridPos.X < a.GridPos.X+a.GridPos.W &&
				a.GridPos.Y < b.GridPos.Y+b.GridPos.H && b.GridPos.Y < a.GridPos.Y+a.GridPos.H {
				t.Errorf("%s: panels %q and %q overlap", name, a.Title, b.Title)
			}
		}
	}
}
