package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/obsbox/obsbox/installer/catalog"
)

// fakeHome points ~ at a fresh folder holding ~/.ssh/id_ed25519.
func fakeHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	return home
}

// unsetenv clears name for the test and restores it afterwards.
func unsetenv(t *testing.T, name string) {
	t.Setenv(name, "")
	os.Unsetenv(name)
}

// TestSpecExample loads SPEC.md's inventory as written there (plain HCL),
// with its probe block.
func TestSpecExample(t *testing.T) {
	home := fakeHome(t)
	t.Setenv("OBSBOX_SUDO_PASSWORD", "sudo-pw")
	t.Setenv("PD_KEY", "pd-routing-key")
	t.Setenv("SLACK_URL", "https://hooks.slack.com/services/T/B/X")
	t.Setenv("GRAFANA_ADMIN_PASSWORD", "grafana-pw")
	t.Setenv("DEADMAN_URL", "https://deadman.example.com/ping/x")
	src, err := os.ReadFile("testdata/spec.hcl")
	if err != nil {
		t.Fatal(err)
	}
	inv, diags := LoadSource("testdata/spec.hcl", src)
	if inv == nil {
		t.Fatalf("spec example does not load:\n%s", dumpDiags(diags))
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "rules/*.yml") {
		t.Errorf("want only the rule_files warning, got:\n%s", dumpDiags(diags))
	}
	dir, _ := filepath.Abs("testdata")
	if inv.Dir != dir || inv.Path != filepath.Join(dir, "spec.hcl") || !bytes.Equal(inv.Source, src) {
		t.Errorf("Path %q Dir %q, Source kept: %v", inv.Path, inv.Dir, bytes.Equal(inv.Source, src))
	}
	wantSSH := SSH{
		User: "deploy", Port: 22, PrivateKey: filepath.Join(home, ".ssh/id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"), Bastion: "jump.example.com:22",
		SudoPassword: NewSecret("sudo-pw"),
	}
	if inv.SSH != wantSSH {
		t.Errorf("ssh = %+v, want %+v", inv.SSH, wantSSH)
	}
	if len(inv.Hosts) != 2 {
		t.Fatalf("want 2 hosts, got %d", len(inv.Hosts))
	}
	mon, web := inv.Host("mon-1"), inv.Host("web-1")
	monSSH := wantSSH
	monSSH.User = "ubuntu"
	if mon.SSH != monSSH || web.SSH != wantSSH {
		t.Errorf("host ssh: mon-1 %+v, web-1 %+v", mon.SSH, web.SSH)
	}
	if !slices.Equal(mon.Roles, []string{"prometheus", "alertmanager", "grafana"}) || len(web.Roles) != 0 {
		t.Errorf("roles: mon-1 %v, web-1 %v", mon.Roles, web.Roles)
	}
	if mon.Labels["env"] != "prod" || !mon.NodeExporter || !web.NodeExporter {
		t.Errorf("mon-1 labels %v, node_exporter %v/%v", mon.Labels, mon.NodeExporter, web.NodeExporter)
	}
	if mon.DeclRange.Start.Line != 24 || web.DeclRange.Start.Line != 30 {
		t.Errorf("DeclRange lines %d, %d; want 24, 30", mon.DeclRange.Start.Line, web.DeclRange.Start.Line)
	}
	if inv.Versions["prometheus"] != "2.53.2" || inv.Versions["node_exporter"] != "1.8.2" {
		t.Errorf("versions %v", inv.Versions)
	}
	if inv.Bundles != (Bundles{Dir: filepath.Join(dir, "bundles")}) {
		t.Errorf("bundles %+v", inv.Bundles)
	}
	p := inv.Prometheus
	if p.Retention != "30d" || p.ScrapeInterval != "15s" || p.EvaluationInterval != "15s" || p.Port != 9090 {
		t.Errorf("prometheus %+v", p)
	}
	if len(p.Scrape) != 1 || p.Scrape[0].Name != "app" || !slices.Equal(p.Scrape[0].Targets, []string{"10.0.1.10:8080"}) ||
		p.Scrape[0].MetricsPath != "/metrics" || p.Scrape[0].Scheme != "http" {
		t.Errorf("scrape %+v", p.Scrape)
	}
	if len(p.RemoteWrite) != 1 || p.RemoteWrite[0].URL.Value() != "https://..." {
		t.Errorf("remote_write %+v", p.RemoteWrite)
	}
	a := inv.Alertmanager
	if len(a.Receivers) != 4 || a.Receivers[3].Webhook.URL.Value() != "https://deadman.example.com/ping/x" || a.Receivers[0].PagerDuty.RoutingKey.Value() != "pd-routing-key" ||
		a.Receivers[1].Slack.Channel != "#alerts" || a.Receivers[1].Slack.APIURL.Value() != "https://hooks.slack.com/services/T/B/X" ||
		a.Receivers[2].Webhook.URL.Value() != "http://10.0.0.9:5001/" || !a.Receivers[2].Webhook.SendResolved {
		t.Errorf("receivers %+v", a.Receivers)
	}
	wantRoutes := []Route{{Severity: "page", Receiver: "oncall"}, {Severity: "ticket", Receiver: "team"}}
	if !slices.Equal(a.Routes, wantRoutes) || a.DefaultReceiver != "team" {
		t.Errorf("routes %+v default %q", a.Routes, a.DefaultReceiver)
	}
	if inv.Grafana.AdminPassword.Value() != "grafana-pw" || inv.Grafana.AdminUser != "admin" {
		t.Errorf("grafana %+v", inv.Grafana)
	}
	if !slices.Equal(inv.Rules.Disable, []string{"ClockSkew"}) || inv.Rules.Overrides["HostDown"].For != "1m" {
		t.Errorf("rules %+v", inv.Rules)
	}
	if len(inv.Probes) != 1 {
		t.Fatalf("probes %+v", inv.Probes)
	}
	pr := inv.Probes[0]
	if pr.Name != "shop" || pr.Module != ProbeHTTP2xx || pr.Interval != "30s" || pr.Labels["team"] != "web" ||
		!slices.Equal(pr.Targets, []string{"https://shop.example.com/health", "10.0.1.10:5432"}) {
		t.Errorf("probe %+v", pr)
	}
}

func TestDefaults(t *testing.T) {
	home := fakeHome(t)
	t.Setenv("XDG_CACHE_HOME", "/var/cache/me")
	inv, diags, path := loadIn(t, monHost)
	if inv == nil || len(diags) != 0 {
		t.Fatalf("minimal inventory:\n%s", dumpDiags(diags))
	}
	if want := (SSH{User: "root", Port: 22, KnownHosts: filepath.Join(home, ".ssh/known_hosts")}); inv.SSH != want {
		t.Errorf("ssh %+v, want %+v", inv.SSH, want)
	}
	for _, c := range catalog.Names() {
		if inv.Versions[c] == "" || inv.Versions[c] != catalog.Get(c).Default {
			t.Errorf("version of %s = %q, want the catalog's", c, inv.Versions[c])
		}
	}
	if inv.Bundles.Dir != "/var/cache/me/obsbox/bundles" || inv.Bundles.Mirror != "" || inv.Bundles.Offline {
		t.Errorf("bundles %+v", inv.Bundles)
	}
	if inv.Host("mon-1").SSH != inv.SSH || !inv.Host("mon-1").NodeExporter || inv.Host("mon-1").Labels == nil {
		t.Errorf("host %+v", inv.Host("mon-1"))
	}
	want := Prometheus{Port: 9090, Retention: "15d", ScrapeInterval: "15s", EvaluationInterval: "15s"}
	if fmt.Sprint(inv.Prometheus) != fmt.Sprint(want) {
		t.Errorf("prometheus %+v", inv.Prometheus)
	}
	if a := inv.Alertmanager; a.Port != 9093 || a.ClusterPort != 9094 || a.DefaultReceiver != "null" || len(a.Receivers) != 0 {
		t.Errorf("alertmanager %+v", a)
	}
	if g := inv.Grafana; g.Port != 3000 || g.AdminUser != "admin" || g.AdminPassword.IsSet() {
		t.Errorf("grafana %+v", g)
	}
	if inv.NodeExporter.Port != 9100 {
		t.Errorf("node_exporter %+v", inv.NodeExporter)
	}
	if r := inv.Rules; r.RunbookBaseURL != DefaultRunbookBaseURL || r.Overrides == nil || len(r.Disable) != 0 {
		t.Errorf("rules %+v", r)
	}
	if inv.Path != path {
		t.Errorf("Path %q, want %q", inv.Path, path)
	}

	unsetenv(t, "XDG_CACHE_HOME")
	inv, _, _ = loadIn(t, monHost)
	if want := filepath.Join(home, ".cache/obsbox/bundles"); inv.Bundles.Dir != want {
		t.Errorf("bundles dir without XDG_CACHE_HOME: %q, want %q", inv.Bundles.Dir, want)
	}
}

func TestOptionalDefaults(t *testing.T) {
	fakeHome(t)
	inv, diags, _ := loadIn(t, monHost+`
prometheus {
  scrape_interval = "30s"
  scrape "app" {
    targets         = ["10.0.0.3:8080"]
    scheme          = "https"
    metrics_path    = "/m"
    scrape_interval = "1m"
    labels          = { service = "shop" }
  }
}
alertmanager {
  receiver "mail" {
    email {
      to        = "ops@example.com"
      from      = "am@example.com"
      smarthost = "smtp.example.com:587"
    }
  }
  receiver "pd" {
    pagerduty {
      routing_key   = "k"
      send_resolved = false
    }
  }
  route {
    severity = "page"
    receiver = "pd"
    continue = true
  }
}
rules {
  rule "FilesystemAlmostFull" {
    threshold = 0.9
    severity  = "ticket"
  }
}
`)
	if inv == nil {
		t.Fatalf("\n%s", dumpDiags(diags))
	}
	if p := inv.Prometheus; p.EvaluationInterval != "30s" || p.Scrape[0].Scheme != "https" || p.Scrape[0].ScrapeInterval != "1m" || p.Scrape[0].Labels["service"] != "shop" {
		t.Errorf("prometheus %+v", p)
	}
	a := inv.Alertmanager
	if e := a.Receivers[0].Email; e == nil || !e.RequireTLS || e.SendResolved || e.Smarthost != "smtp.example.com:587" {
		t.Errorf("email %+v", e)
	}
	if pd := a.Receivers[1].PagerDuty; pd.SendResolved {
		t.Errorf("pagerduty send_resolved not taken: %+v", pd)
	}
	if a.DefaultReceiver != "mail" || !a.Routes[0].Continue {
		t.Errorf("default receiver %q, routes %+v", a.DefaultReceiver, a.Routes)
	}
	o := inv.Rules.Overrides["FilesystemAlmostFull"]
	if o.Threshold == nil || *o.Threshold != 0.9 || o.Severity != "ticket" || o.For != "" {
		t.Errorf("override %+v", o)
	}
}

func TestSSHMerge(t *testing.T) {
	home := fakeHome(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "deploy_key"), []byte("k"), 0o600)
	src := `ssh {
  user          = "deploy"
  port          = 2222
  private_key   = "~/.ssh/id_ed25519"
  sudo_password = "global"
  connect_timeout = "4s"
}
host "mon-1" {
  address = "10.0.0.1"
  roles   = ["prometheus"]
}
host "web-1" {
  address       = "10.0.0.2"
  node_exporter = false
  ssh {
    port                 = 22
    private_key          = "deploy_key"
    known_hosts          = "hosts"
    accept_new_host_keys = true
    bastion              = "jump"
    sudo_password        = "mine"
    connect_timeout      = "1m30s"
  }
}
`
	path := filepath.Join(dir, "obsbox.hcl")
	inv, diags := LoadSource(path, []byte(src))
	if inv == nil {
		t.Fatalf("\n%s", dumpDiags(diags))
	}
	if got, want := inv.Host("mon-1").SSH, (SSH{User: "deploy", Port: 2222, PrivateKey: filepath.Join(home, ".ssh/id_ed25519"),
		KnownHosts: filepath.Join(home, ".ssh/known_hosts"), SudoPassword: NewSecret("global"), ConnectTimeout: 4 * time.Second}); got != want {
		t.Errorf("mon-1 ssh %+v, want %+v", got, want)
	}
	if got, want := inv.Host("web-1").SSH, (SSH{User: "deploy", Port: 22, PrivateKey: filepath.Join(dir, "deploy_key"),
		KnownHosts: filepath.Join(dir, "hosts"), AcceptNewHostKeys: true, Bastion: "jump:22", SudoPassword: NewSecret("mine"), ConnectTimeout: 90 * time.Second}); got != want {
		t.Errorf("web-1 ssh %+v, want %+v", got, want)
	}
	if inv.Host("web-1").NodeExporter {
		t.Error("node_exporter = false not taken")
	}
}

func TestFunctions(t *testing.T) {
	fakeHome(t)
	t.Setenv("OBSBOX_TEST_PW", "from-env")
	unsetenv(t, "OBSBOX_TEST_UNSET")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "token"), []byte("from-file\n"), 0o600)
	tests := []struct{ expr, want string }{
		{`env("OBSBOX_TEST_PW")`, "from-env"},
		{`env("OBSBOX_TEST_PW", "fallback")`, "from-env"},
		{`env("OBSBOX_TEST_UNSET", "fallback")`, "fallback"},
		{`file("secrets/token")`, "from-file\n"},
		{`file("./secrets/../secrets/token")`, "from-file\n"},
		{`trimspace(file("secrets/token"))`, "from-file"},
		{`"${env("OBSBOX_TEST_PW")}-x"`, "from-env-x"},
	}
	for _, tc := range tests {
		src := monHost + "grafana {\n  admin_password = " + tc.expr + "\n}\n"
		inv, diags := LoadSource(filepath.Join(dir, "obsbox.hcl"), []byte(src))
		if inv == nil {
			t.Errorf("%s:\n%s", tc.expr, dumpDiags(diags))
			continue
		}
		if got := inv.Grafana.AdminPassword.Value(); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestExampleInventoryValidates(t *testing.T) {
	fakeHome(t)
	for _, v := range []string{"OBSBOX_SUDO_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "PD_KEY", "SLACK_URL", "SMTP_PASSWORD", "REMOTE_WRITE_URL", "REMOTE_WRITE_PASSWORD"} {
		unsetenv(t, v)
	}
	ex := ExampleInventory()
	inv, diags, _ := loadIn(t, string(ex))
	if inv == nil || len(diags) != 0 {
		t.Fatalf("the example must validate without warnings and with no environment set:\n%s", dumpDiags(diags))
	}
	if len(inv.HostsWithRole(catalog.Prometheus)) == 0 || len(inv.Hosts) < 2 {
		t.Errorf("the example should show a Prometheus host and a plain one, has %d hosts", len(inv.Hosts))
	}
	if got := hclwrite.Format(ex); !bytes.Equal(got, ex) {
		t.Errorf("example.hcl is not formatted as hclwrite formats it:\n%s", got)
	}
	// Its commented probe, slo and security blocks validate once uncommented.
	uncommented := string(ex)
	for _, start := range []string{`# probe "shop" {`, `# slo "shop-availability" {`, `# security {`} {
		i := strings.Index(uncommented, start)
		j := strings.Index(uncommented[i:], "\n# }\n")
		if i < 0 || j < 0 {
			t.Fatalf("no commented block %q in the example", start)
		}
		block := uncommented[i : i+j+len("\n# }\n")]
		uncommented = strings.Replace(uncommented, block, regexp.MustCompile(`(?m)^# ?`).ReplaceAllString(block, ""), 1)
	}
	uncommented = strings.Replace(uncommented, `ca_cert       = "./my-ca.crt" # your own CA instead, with ca_key`, "", 1)
	uncommented = strings.Replace(uncommented, `ca_key        = "./my-ca.key"`, "", 1)
	if inv, diags, _ := loadIn(t, uncommented); inv == nil || len(inv.Probes) != 1 || inv.Probes[0].Module != ProbeHTTP2xx || len(inv.SLOs) != 1 || len(diags) != 0 {
		t.Errorf("the example's probe, slo and security blocks, uncommented, do not validate:\n%s\n%s", uncommented, dumpDiags(diags))
	}
	ex[0] = 'X'
	if ExampleInventory()[0] == 'X' {
		t.Error("ExampleInventory hands out its own buffer")
	}
}

// TestSecretsNeverInDiagnostics puts a secret in every Secret field, makes
// each of those places produce an error, and looks for the secrets in the
// human and JSON output.
func TestSecretsNeverInDiagnostics(t *testing.T) {
	fakeHome(t)
	t.Setenv("OBSBOX_TEST_ROUTING", "SECRET-routing-06")
	unsetenv(t, "OBSBOX_TEST_UNSET")
	secrets := []string{"SECRET-sudo-01", "SECRET-webhook-02", "SECRET-slack-03", "SECRET-rw-url-04", "SECRET-rw-pw-05",
		"SECRET-routing-06", "SECRET-bearer-07", "SECRET-grafana-08", "SECRET-smtp-09", "SECRET-default-10", "SECRET-hostsudo-11"}
	src := `ssh {
  sudo_password = ["SECRET-sudo-01"]
  port          = 0
}
host "mon-1" {
  address = "10.0.0.1"
  roles   = ["prometheus", "alertmanager"]
  ssh {
    sudo_password = env("OBSBOX_TEST_UNSET", ["SECRET-hostsudo-11"])
    bastion       = "a@b"
  }
}
prometheus {
  remote_write "lt" {
    url          = "SECRET-rw-url-04"
    password     = "SECRET-rw-pw-05"
    bearer_token = "SECRET-bearer-07"
  }
}
alertmanager {
  receiver "hook" {
    webhook {
      url           = "ftp://SECRET-webhook-02"
      send_resolved = "maybe"
    }
  }
  receiver "chat" {
    slack {
      api_url = "SECRET-slack-03"
      channel = 5
    }
  }
  receiver "pd" {
    pagerduty { routing_key = env("OBSBOX_TEST_ROUTING") }
    email { auth_password = "SECRET-smtp-09" }
  }
  default_receiver = "SECRET-default-10x"
}
grafana {
  admin_password = ["SECRET-grafana-08"]
  port           = 0
}
rules {
  disable = [env("OBSBOX_TEST_ROUTING")]
}
`
	inv, diags, path := loadIn(t, src)
	if inv != nil || len(diags) < 10 {
		t.Fatalf("want many errors, got:\n%s", dumpDiags(diags))
	}
	var human bytes.Buffer
	WriteDiagnostics(&human, diags, map[string][]byte{path: []byte(src)})
	js, err := DiagnosticsJSON(diags)
	if err != nil {
		t.Fatal(err)
	}
	// Every line holding a secret has a diagnostic, so its source line is printed.
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, "SECRET") && !strings.Contains(human.String(), fmt.Sprintf("%s:%d:", path, i+1)) {
			t.Errorf("line %d holds a secret but has no diagnostic, so the test proves nothing there", i+1)
		}
	}
	for _, s := range secrets {
		if s == "SECRET-default-10" {
			continue // default_receiver is not secret; it only holds a near-copy
		}
		if strings.Contains(human.String(), s) || strings.Contains(string(js), s) {
			t.Errorf("secret %q appears in the diagnostics:\n%s\n%s", s, human.String(), js)
		}
	}
	if !strings.Contains(human.String(), "(sensitive)") {
		t.Errorf("want masked source lines:\n%s", human.String())
	}
}

func TestSecretOnBrokenLineIsMasked(t *testing.T) {
	src := "grafana {\n  admin_password = \"SECRET-broken\n}\n"
	inv, diags := LoadSource("obsbox.hcl", []byte(src))
	if inv != nil || !diags.HasErrors() {
		t.Fatal("want a syntax error")
	}
	var out bytes.Buffer
	WriteDiagnostics(&out, diags, map[string][]byte{"obsbox.hcl": []byte(src)})
	if strings.Contains(out.String(), "SECRET") || !strings.Contains(out.String(), "admin_password = (sensitive)") {
		t.Errorf("secret on a line the parser lost:\n%s", out.String())
	}
}

func TestWriteDiagnosticsFormat(t *testing.T) {
	src := []byte("a {\n\tb = \"é\" c\n}\n")
	rng := func(l1, c1, b1, l2, c2, b2 int) *hcl.Range {
		return &hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: l1, Column: c1, Byte: b1}, End: hcl.Pos{Line: l2, Column: c2, Byte: b2}}
	}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Bad c", Detail: "c is bad.", Subject: rng(2, 11, 14, 2, 12, 15)},
		{Severity: hcl.DiagWarning, Summary: "Multi-line", Subject: rng(1, 1, 0, 3, 2, 20)},
		{Severity: hcl.DiagError, Summary: "No place", Detail: "Nowhere."},
		{Severity: hcl.DiagError, Summary: "Other file", Subject: &hcl.Range{Filename: "g.hcl", Start: hcl.Pos{Line: 1, Column: 1}}},
	}
	var out bytes.Buffer
	WriteDiagnostics(&out, diags, map[string][]byte{"f.hcl": src})
	want := "f.hcl:2:11: error: Bad c; c is bad.\n" +
		"  \tb = \"é\" c\n" +
		"  \t        ^\n" +
		"f.hcl:1:1: warning: Multi-line\n" +
		"  a {\n" +
		"  ^^^\n" +
		"error: No place; Nowhere.\n" +
		"g.hcl:1:1: error: Other file\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestDiagnosticsJSON(t *testing.T) {
	b, err := DiagnosticsJSON(nil)
	if err != nil || string(b) != "[]" {
		t.Errorf("no diagnostics: %s, %v", b, err)
	}
	_, diags, path := loadIn(t, monHost+"grafana {\n  port = 0\n}\n")
	b, err = DiagnosticsJSON(diags)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"severity": "error", "summary": "Port out of range", "detail": "grafana port is 0; a port is a number from 1 to 65535.",
		"file": path, "line": 6.0, "column": 10.0, "end_line": 6.0, "end_column": 11.0}
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestGrafanaAdminPassword(t *testing.T) {
	fakeHome(t)
	inv, diags, _ := loadIn(t, monHost)
	if inv == nil {
		t.Fatal(dumpDiags(diags))
	}
	pw, err := inv.GrafanaAdminPassword()
	if err != nil || len(pw.Value()) != 24 {
		t.Fatalf("generated %q, %v", pw.Value(), err)
	}
	path := filepath.Join(inv.Dir, GrafanaPasswordFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, %v", fi, err)
	}
	again, err := inv.GrafanaAdminPassword()
	if err != nil || again != pw {
		t.Errorf("second call gave another password (%v)", err)
	}
	os.Chmod(path, 0o644)
	if _, err := inv.GrafanaAdminPassword(); err == nil || !strings.Contains(err.Error(), "mode 0644") || strings.Contains(err.Error(), pw.Value()) {
		t.Errorf("a password file others may read must be refused, naming it and its mode, not the password: %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("\n"), 0o600)
	if _, err := inv.GrafanaAdminPassword(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}

	inv.Grafana.AdminPassword = NewSecret("configured")
	if pw, err := inv.GrafanaAdminPassword(); err != nil || pw.Value() != "configured" {
		t.Errorf("configured password not returned: %v", err)
	}
}

// Finding 4 of issue 11: Grafana's secret_key was Grafana's public default.
// It is generated once (256 bits, URL-safe), kept 0600 beside the inventory,
// the same across loads, refused when others may read it, never printed.
func TestFinding4_GrafanaSecretKeyKept(t *testing.T) {
	fakeHome(t)
	inv, diags, _ := loadIn(t, monHost)
	if inv == nil {
		t.Fatal(dumpDiags(diags))
	}
	path := filepath.Join(inv.Dir, ".obsbox-grafana-secret-key")
	if inv.GrafanaSecretKeyPath() != path {
		t.Fatalf("kept in %s", inv.GrafanaSecretKeyPath())
	}
	key, err := inv.GrafanaSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(key.Value()) {
		t.Errorf("key %d characters, not 43 URL-safe base64 ones", len(key.Value()))
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	for _, s := range []string{fmt.Sprint(key), fmt.Sprintf("%v %+v %#v %s", key, key, key, key)} {
		if strings.Contains(s, key.Value()) {
			t.Errorf("the key prints: %s", s)
		}
	}
	if pw, _ := inv.GrafanaAdminPassword(); pw.Value() == key.Value() {
		t.Error("the key is the admin password")
	}

	// Another load of the same inventory (a later run) gets the same key.
	again, diags := Load(inv.Path)
	if again == nil {
		t.Fatal(dumpDiags(diags))
	}
	if k, err := again.GrafanaSecretKey(); err != nil || k != key {
		t.Errorf("a later run got another key (%v)", err)
	}
	if b, _ := os.ReadFile(path); string(b) != key.Value()+"\n" {
		t.Error("the key file changed")
	}

	// Another inventory folder gets its own key.
	other, _, _ := loadIn(t, monHost)
	if k, _ := other.GrafanaSecretKey(); k == key || !k.IsSet() {
		t.Error("two inventories share a key")
	}

	os.Chmod(path, 0o640)
	_, err = inv.GrafanaSecretKey()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "mode 0640") || strings.Contains(err.Error(), key.Value()) {
		t.Errorf("a key file the group may read must be refused, naming it and its mode, not the key: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != key.Value()+"\n" {
		t.Error("a refused key file was replaced")
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte(" \n"), 0o600)
	if _, err := inv.GrafanaSecretKey(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty key file: %v", err)
	}
}
