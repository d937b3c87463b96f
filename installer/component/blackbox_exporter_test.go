package component

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/internal/golden"
	"github.com/obsbox/obsbox/templates"
)

const probeHosts = `host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "grafana"]
}
host "web-1" {
  address = "10.0.0.6"
}
`

const probeBlocks = `probe "shop" {
  module   = "http_2xx"
  targets  = ["https://shop.example.com/health", "10.0.1.10:8080"]
  interval = "5s"
  labels   = { team = "web" }
}
probe "db" {
  module  = "tcp_connect"
  targets = ["10.0.1.10:5432"]
}
probe "ping" {
  module  = "icmp"
  targets = ["10.0.1.10"]
}
rules {
  disable = ["CertificateExpiringSoon"]
  rule "ProbeSlow" { threshold = 0.75 }
}
`

func loadProbeInv(t *testing.T, src string) *inventory.Inventory {
	t.Helper()
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return inv
}

func promFiles(t *testing.T, inv *inventory.Inventory) (yml, rules []byte) {
	t.Helper()
	spec, err := Prometheus{}.Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: "2.53.3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range spec.Files {
		switch path.Base(f.Path) {
		case "prometheus.yml":
			yml = f.Content
		case path.Base(templates.PromBuiltinRulesFile):
			rules = f.Content
		}
	}
	return yml, rules
}

// TestProbeJobsAndRulesGolden: a probe job per block, relabeled through the
// local blackbox_exporter, and the probe rules with the inventory's tuning.
func TestProbeJobsAndRulesGolden(t *testing.T) {
	yml, rules := promFiles(t, loadProbeInv(t, probeHosts+probeBlocks))
	golden.Check(t, "testdata/blackbox/prometheus.yml", yml)
	golden.Check(t, "testdata/blackbox/obsbox-alerts.yml", rules)
	for _, want := range []string{"job_name: 'probe-shop'", "replacement: '127.0.0.1:9115'", "probe: 'shop'", "module:\n        - 'icmp'"} {
		if !bytes.Contains(yml, []byte(want)) {
			t.Errorf("prometheus.yml lacks %q", want)
		}
	}
	if !bytes.Contains(rules, []byte("alert: 'ProbeFailed'")) || bytes.Contains(rules, []byte("CertificateExpiringSoon")) ||
		!bytes.Contains(rules, []byte("[10m]) > 0.75\n")) {
		t.Errorf("probe rules do not follow the inventory:\n%s", rules)
	}

	// The real promtool reads both, as on a host.
	tool := os.Getenv("OBSBOX_PROMTOOL")
	if tool == "" {
		t.Skip("OBSBOX_PROMTOOL not set")
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"prometheus.yml": yml, templates.PromBuiltinRulesFile: rules, templates.PromNodeTargetsFile: []byte("[]\n")} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	out, err := exec.Command(tool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 14 rules found") {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestBlackboxOnlyWithProbes: without a probe block nothing changes: no
// blackbox_exporter, no probe jobs, rules or dashboard.
func TestBlackboxOnlyWithProbes(t *testing.T) {
	bare := loadProbeInv(t, probeHosts)
	with := loadProbeInv(t, probeHosts+probeBlocks)
	bb := BlackboxExporter{}
	if bb.Runs(bare, bare.Host("mon-1")) || !bb.Runs(with, with.Host("mon-1")) || bb.Runs(with, with.Host("web-1")) {
		t.Error("blackbox_exporter must run on Prometheus hosts, and only with probes")
	}
	yml, rules := promFiles(t, bare)
	if bytes.Contains(yml, []byte("probe")) || bytes.Contains(rules, []byte("Probe")) {
		t.Errorf("probe jobs or rules without probes:\n%s\n%s", yml, rules)
	}
	dashboards := func(inv *inventory.Inventory) string {
		spec, err := Grafana{}.Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: "11.2.2",
			GrafanaAdminPassword: inventory.NewSecret("admin-pw-123"), GrafanaSecretKey: inventory.NewSecret("k3y-0123456789abcdef")})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range spec.Files {
			if path.Dir(f.Path) == templates.GrafanaDashboardsDir {
				names = append(names, path.Base(f.Path))
			}
		}
		return strings.Join(names, " ")
	}
	if got := dashboards(bare); strings.Contains(got, "obsbox-probes.json") {
		t.Errorf("dashboards without probes: %s", got)
	}
	if got := dashboards(with); !strings.Contains(got, "obsbox-probes.json") {
		t.Errorf("dashboards with probes: %s", got)
	}

	spec, err := bb.Spec(&Context{Inv: with, Host: with.Host("mon-1"), Version: "0.27.0"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(spec.Unit, []byte("--web.listen-address=127.0.0.1:9115")) || spec.Health.Port != 9115 ||
		spec.Check == nil || spec.Check.Tool != "blackbox_exporter" || !spec.Reload {
		t.Errorf("spec: health %+v check %+v reload %v\n%s", spec.Health, spec.Check, spec.Reload, spec.Unit)
	}
}

// TestBlackboxPortConflict: its loopback port clashes with a listener on
// every address, only where it runs.
func TestBlackboxPortConflict(t *testing.T) {
	src := probeHosts + "prometheus {\n  port = 9115\n}\n"
	if _, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src)); diags.HasErrors() {
		t.Fatalf("no probes, no blackbox_exporter, no conflict: %s", diags.Error())
	}
	_, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src+probeBlocks))
	found := false
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Summary == "Port conflict" && strings.Contains(d.Detail, catalog.BlackboxExporter) {
			found = true
		}
	}
	if !found {
		t.Errorf("no port conflict with blackbox_exporter: %s", diags.Error())
	}
}
