package component

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/internal/golden"
	"github.com/obsbox/obsbox/templates"
)

// vmInv: two Prometheus replicas, two VictoriaMetrics hosts, a remote_write
// of the user's own, a 30s scrape interval and a retention in months.
const vmInv = `host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
}
host "mon-2" {
  address = "10.0.0.6"
  roles   = ["prometheus"]
}
host "vm-1" {
  address = "10.0.0.7"
  roles   = ["victoriametrics"]
}
host "vm-2" {
  address = "10.0.0.8"
  roles   = ["victoriametrics"]
}
prometheus {
  scrape_interval = "30s"
  remote_write "mine" { url = "https://lts.example.com/write" }
}
victoriametrics {
  retention = "6M"
}
`

func vmFile(t *testing.T, s *Spec, base string) []byte {
	t.Helper()
	for _, f := range s.Files {
		if path.Base(f.Path) == base {
			return f.Content
		}
	}
	t.Fatalf("%s has no %s", s.Component, base)
	return nil
}

// TestIssue15_VictoriaMetricsSpec: on the victoriametrics hosts only, the
// inventory's retention (months without the suffix), the scrape interval as
// the deduplication interval, the data folder and port 8428.
func TestIssue15_VictoriaMetricsSpec(t *testing.T) {
	inv := loadProbeInv(t, vmInv)
	vm := VictoriaMetrics{}
	for h, want := range map[string]bool{"mon-1": false, "mon-2": false, "vm-1": true, "vm-2": true} {
		if vm.Runs(inv, inv.Host(h)) != want {
			t.Errorf("victoriametrics on %s: %v, want %v", h, !want, want)
		}
	}
	s, err := vm.Spec(&Context{Inv: inv, Host: inv.Host("vm-1"), Version: "1.151.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/opt/obsbox/victoriametrics/current/victoria-metrics-prod", "-storageDataPath=/var/lib/obsbox/victoriametrics",
		"-retentionPeriod=6", "-dedup.minScrapeInterval=30s", "-httpListenAddr=:8428"}
	if got := execStart(t, s); !slices.Equal(got, want) {
		t.Errorf("ExecStart %v\nwant      %v", got, want)
	}
	if !bytes.Contains(s.Unit, []byte("ReadWritePaths=/var/lib/obsbox/victoriametrics\n")) {
		t.Errorf("unit may not write its data folder:\n%s", s.Unit)
	}
	if s.Health.Port != 8428 || s.Health.Path != "/health" || s.Health.BuildInfo != "vm_app_version" || s.Health.VersionLabel != "short_version" {
		t.Errorf("health %+v", s.Health)
	}
}

// TestIssue15_PrometheusWritesToEveryVictoriaMetrics: each replica's
// prometheus.yml remote-writes to both VictoriaMetrics hosts, keeps the
// inventory's own endpoint, and scrapes the VictoriaMetrics hosts by name;
// the real promtool of the oldest and newest line reads it.
func TestIssue15_PrometheusWritesToEveryVictoriaMetrics(t *testing.T) {
	inv := loadProbeInv(t, vmInv)
	var first []byte
	for _, h := range []string{"mon-1", "mon-2"} {
		s, err := Prometheus{}.Spec(&Context{Inv: inv, Host: inv.Host(h), Version: "3.16.0"})
		if err != nil {
			t.Fatal(err)
		}
		yml := vmFile(t, s, "prometheus.yml")
		if first == nil {
			first = yml
			golden.Check(t, "testdata/victoriametrics/prometheus.yml", yml)
			dir := t.TempDir()
			writeConfig(t, s, dir)
			for _, l := range []struct{ line, version string }{{"2.42", "2.42.0"}, {"3.16", "3.16.0"}} {
				t.Run("promtool-"+l.line, func(t *testing.T) {
					bin := lineTool(t, "promtool", l.line, l.version)
					if out, err := runTool(t, dir, bin, "check", "config", "prometheus.yml"); err != nil {
						t.Errorf("promtool %s check config: %v\n%s", l.version, err, out)
					}
				})
			}
		} else if !bytes.Equal(yml, first) {
			t.Errorf("replica %s renders another prometheus.yml than mon-1", h)
		}
		for _, w := range []string{
			"url: 'http://10.0.0.7:8428/api/v1/write'", "name: 'victoriametrics-vm-1'",
			"url: 'http://10.0.0.8:8428/api/v1/write'", "name: 'victoriametrics-vm-2'",
			"url: 'https://lts.example.com/write'", "job_name: 'victoriametrics'", "replacement: 'vm-2'",
		} {
			if !bytes.Contains(yml, []byte(w)) {
				t.Errorf("%s: prometheus.yml lacks %s", h, w)
			}
		}
		rules := vmFile(t, s, path.Base(templates.PromBuiltinRulesFile))
		if !bytes.Contains(rules, []byte("alert: 'RemoteWriteFailing'")) {
			t.Errorf("%s: no RemoteWriteFailing rule", h)
		}
	}

	// Without a victoriametrics host: no queue of obsbox's, no job, no rule.
	bare := loadProbeInv(t, strings.ReplaceAll(vmInv, `roles   = ["victoriametrics"]`, `roles   = []`))
	s, err := Prometheus{}.Spec(&Context{Inv: bare, Host: bare.Host("mon-1"), Version: "3.16.0"})
	if err != nil {
		t.Fatal(err)
	}
	yml, rules := vmFile(t, s, "prometheus.yml"), vmFile(t, s, path.Base(templates.PromBuiltinRulesFile))
	if bytes.Contains(yml, []byte("8428")) || !bytes.Contains(yml, []byte("lts.example.com")) || bytes.Contains(rules, []byte("RemoteWriteFailing")) {
		t.Errorf("without VictoriaMetrics:\n%s\n%s", yml, rules)
	}
	if templates.VictoriaMetricsRemoteWriteName("x") != inventory.ReservedRemoteWritePrefix+"x" {
		t.Error("obsbox's queue names and the inventory's reserved prefix differ")
	}
}

// TestIssue15_GrafanaDefaultsToVictoriaMetrics: with VictoriaMetrics hosts
// the first is the default datasource, each Prometheus stays one (the
// first keeps the uid the dashboards use); without, Prometheus is the default.
func TestIssue15_GrafanaDefaultsToVictoriaMetrics(t *testing.T) {
	ds := func(inv *inventory.Inventory) []byte {
		s, err := Grafana{}.Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: "11.2.2",
			GrafanaAdminPassword: inventory.NewSecret("admin-pw-123"), GrafanaSecretKey: inventory.NewSecret("k3y-0123456789abcdef")})
		if err != nil {
			t.Fatal(err)
		}
		return vmFile(t, s, path.Base(templates.GrafanaDatasourcePath))
	}
	with := ds(loadProbeInv(t, vmInv))
	golden.Check(t, "testdata/victoriametrics/datasource.yaml", with)
	if bytes.Count(with, []byte("isDefault: true")) != 1 || !bytes.Contains(with, []byte("uid: \"obsbox-victoriametrics\"\n    orgId: 1\n    access: proxy\n    url: \"http://10.0.0.7:8428\"\n    isDefault: true")) {
		t.Errorf("VictoriaMetrics vm-1 is not the one default:\n%s", with)
	}
	for _, w := range []string{`url: "http://10.0.0.5:9090"`, `url: "http://10.0.0.6:9090"`, `uid: "obsbox-prometheus"`, `url: "http://10.0.0.8:8428"`} {
		if !bytes.Contains(with, []byte(w)) {
			t.Errorf("datasources lack %s:\n%s", w, with)
		}
	}
	bare := ds(loadProbeInv(t, strings.ReplaceAll(vmInv, `roles   = ["victoriametrics"]`, `roles   = []`)))
	if bytes.Contains(bare, []byte("8428")) || !bytes.Contains(bare, []byte("url: \"http://10.0.0.5:9090\"\n    isDefault: true")) {
		t.Errorf("without VictoriaMetrics the first Prometheus must be the default:\n%s", bare)
	}
}

// TestIssue15_VictoriaMetricsFlagsRunOnTheRealBinary: the 1.151 binary from
// the e2e bundle starts with the unit's flags (data folder moved to a
// temporary one) and answers /health: a flag value it refuses (such as a
// retention it cannot read) stops it at once.
func TestIssue15_VictoriaMetricsFlagsRunOnTheRealBinary(t *testing.T) {
	inv := loadProbeInv(t, vmInv)
	s, err := VictoriaMetrics{}.Spec(&Context{Inv: inv, Host: inv.Host("vm-1"), Version: "1.151.0"})
	if err != nil {
		t.Fatal(err)
	}
	bin := lineBinary(t, catalog.VictoriaMetrics, "1.151.0")
	data := t.TempDir()
	var args []string
	for _, a := range execStart(t, s)[1:] {
		switch {
		case strings.HasPrefix(a, "-storageDataPath="):
			a = "-storageDataPath=" + data
		case strings.HasPrefix(a, "-httpListenAddr="):
			a = "-httpListenAddr=127.0.0.1:0"
		}
		args = append(args, a)
	}
	// -version parses every flag before it prints.
	out, err := runTool(t, data, bin, append(args, "-version")...)
	if err != nil || !strings.Contains(out, "-v1.151.0-") {
		t.Fatalf("victoria-metrics-prod %s -version: %v\n%s", strings.Join(args, " "), err, out)
	}
	bad := append(slices.Clone(args[:1]), "-retentionPeriod=6x", "-version")
	if out, err := runTool(t, data, bin, bad...); err == nil {
		t.Errorf("the binary accepted -retentionPeriod=6x: the check above proves nothing\n%s", out)
	}
}
