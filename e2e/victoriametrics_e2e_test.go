//go:build e2e

package e2e_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestVictoriaMetrics is issue 15's long-term store on two real hosts: h1
// runs Prometheus, Alertmanager and Grafana, h2 VictoriaMetrics from the
// real 1.150.0 and 1.151.0 builds (e2e/build-bundles.sh).
func TestVictoriaMetrics(t *testing.T) {
	s := newStack(t, 2)
	hook := startWebhook(t)
	s.webhook = hook.url
	h1, h2 := s.c.Hosts[0], s.c.Hosts[1]
	t.Cleanup(func() { // before the hosts go down: what VictoriaMetrics said
		if t.Failed() {
			out, _ := s.c.SSH("h2", "systemctl status --no-pager obsbox-victoriametrics.service; journalctl --no-pager -n 60 -u obsbox-victoriametrics.service")
			t.Logf("h2's VictoriaMetrics:\n%s", out)
		}
	})
	// h2 is written here, with its role; the template's own hosts are h1 only.
	extra := fmt.Sprintf(`
host %q {
  address = %q
  roles   = ["victoriametrics"]
  ssh { user = "deploy" }
}

victoriametrics {
  retention = "1y"
}
`, h2.Name, h2.Address)
	s.writeInventory(invData{Hosts: s.c.Hosts[:1], Extra: extra,
		Rules: `  rule "RemoteWriteFailing" {
    for       = "10s"
    threshold = 10
  }`})
	src, err := os.ReadFile(s.inv)
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), "versions {\n", "versions {\n  victoriametrics = \"1.150.0\"\n", 1))
	if err := os.WriteFile(s.inv, src, 0o644); err != nil {
		t.Fatal(err)
	}
	prom, vm := "http://"+h1.Address+":9090", vmURL(h2.Address)
	before, _ := s.snapshot()

	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	vmVersion := func(t *testing.T, want string) {
		t.Helper()
		eventually(t, 60*time.Second, "vm_app_version of "+want, func() error {
			got, err := querySeries(prom, `vm_app_version{instance="h2"}`, time.Now())
			if err != nil || len(got) != 1 || got[0].Metric["short_version"] != "v"+want {
				return fmt.Errorf("%v %v", got, err)
			}
			return nil
		})
	}
	// t0 is a moment whose node series VictoriaMetrics holds; later steps ask for it again.
	var t0 time.Time
	heldAtT0 := func(t *testing.T, what string) {
		t.Helper()
		eventually(t, 60*time.Second, "VictoriaMetrics answers up at t0 "+what, func() error {
			got, err := querySeries(vm, `up{job="node"}`, t0)
			if err != nil || len(got) != 2 {
				return fmt.Errorf("%d series at %s: %v %v", len(got), t0.Format(time.RFC3339), got, err)
			}
			return nil
		})
	}

	if !t.Run("install: VictoriaMetrics holds one series per target, written by Prometheus", func(t *testing.T) {
		vmVersion(t, "1.150.0")
		eventually(t, 60*time.Second, "the victoriametrics target up in Prometheus", func() error {
			got, err := jobTargets(prom, "victoriametrics")
			if err != nil || len(got) != 1 || got["h2"] != "up" {
				return fmt.Errorf("%v %v", got, err)
			}
			return nil
		})
		eventually(t, 90*time.Second, "up in VictoriaMetrics", func() error {
			got, err := querySeries(vm, `up`, time.Now())
			if err != nil {
				return err
			}
			perTarget := map[string]int{}
			for _, sr := range got {
				perTarget[sr.Metric["job"]+"/"+sr.Metric["instance"]]++
			}
			for _, want := range []string{"node/h1", "node/h2", "prometheus/h1", "victoriametrics/h2"} {
				if perTarget[want] != 1 {
					return fmt.Errorf("%s: %d series, want 1; all: %v", want, perTarget[want], perTarget)
				}
			}
			return nil
		})
		t0 = time.Now().Add(-5 * time.Second)
		heldAtT0(t, "")
		out, err := s.c.SSH("h2", "systemctl show -p ExecStart obsbox-victoriametrics.service; stat -c '%U %a' /var/lib/obsbox/victoriametrics; systemd-analyze security obsbox-victoriametrics.service --no-pager | tail -n 1")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("h2: %s", out)
		for _, want := range []string{"-retentionPeriod=1y", "-dedup.minScrapeInterval=5s", "-storageDataPath=/var/lib/obsbox/victoriametrics", "obsbox-victoriametrics 750"} {
			if !strings.Contains(out, want) {
				t.Errorf("h2 lacks %s:\n%s", want, out)
			}
		}
		m := regexpMust(`exposure level .*?: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("h2: no exposure level in systemd-analyze's answer")
		} else if score, _ := strconv.ParseFloat(m[1], 64); score > 2.0 {
			t.Errorf("h2: obsbox-victoriametrics.service exposure %.1f, above 2.0", score)
		}
		ds, err := s.c.SSH("h1", "cat /etc/obsbox/grafana/provisioning/datasources/obsbox.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Datasources []struct {
				Type      string `yaml:"type"`
				URL       string `yaml:"url"`
				IsDefault bool   `yaml:"isDefault"`
				BasicAuth bool   `yaml:"basicAuth"`
				Secure    struct {
					TLSCACert string `yaml:"tlsCACert"`
				} `yaml:"secureJsonData"`
			} `yaml:"datasources"`
		}
		if err := yaml.Unmarshal([]byte(ds), &file); err != nil {
			t.Fatalf("Grafana's datasource file: %v\n%s", err, ds)
		}
		var defaults []string
		seen := map[string]bool{}
		for _, d := range file.Datasources {
			if d.IsDefault {
				defaults = append(defaults, d.URL)
			}
			if !d.BasicAuth || !strings.Contains(d.Secure.TLSCACert, "BEGIN CERTIFICATE") {
				t.Errorf("datasource %s lacks the CA or credentials", d.URL)
			}
			seen[d.URL] = true
		}
		if want := "https://" + h2.Address + ":8428"; len(defaults) != 1 || defaults[0] != want || !seen["https://"+h1.Address+":9090"] {
			t.Errorf("Grafana's default datasource is not %s alone (defaults: %v), or Prometheus is missing:\n%s", want, defaults, ds)
		}
	}) {
		return
	}

	t.Run("a second apply changes nothing", func(t *testing.T) {
		pids := s.mainPIDs()
		if r := s.obsbox("plan", "--detailed-exitcode"); r.code != 0 {
			t.Errorf("plan after install: %s", r)
		}
		if r := s.obsbox("apply"); r.code != 0 {
			t.Fatalf("second apply: %s", r)
		}
		if after := s.mainPIDs(); fmt.Sprint(after) != fmt.Sprint(pids) {
			t.Errorf("a no-op apply restarted units: %v -> %v", pids, after)
		}
	})

	t.Run("series from before a restart of Prometheus and of VictoriaMetrics remain", func(t *testing.T) {
		restarted := time.Now()
		if _, err := s.c.SSH("h1", "systemctl restart obsbox-prometheus.service"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.c.SSH("h2", "systemctl restart obsbox-victoriametrics.service"); err != nil {
			t.Fatal(err)
		}
		heldAtT0(t, "after the restarts")
		// And the restarted Prometheus writes again.
		eventually(t, 120*time.Second, "samples written after the restart", func() error {
			got, err := querySeries(vm, `timestamp(up{job="node",instance="h1"})`, time.Now())
			if err != nil || len(got) != 1 {
				return fmt.Errorf("%v %v", got, err)
			}
			v, _ := got[0].Value[1].(string)
			if ts, _ := strconv.ParseFloat(v, 64); ts <= float64(restarted.Unix()) {
				return fmt.Errorf("newest sample at %s, restart at %d", v, restarted.Unix())
			}
			return nil
		})
	})

	t.Run("VictoriaMetrics down: RemoteWriteFailing reaches the webhook as a ticket", func(t *testing.T) {
		if _, err := s.c.SSH("h2", "systemctl stop obsbox-victoriametrics.service"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 180*time.Second, "RemoteWriteFailing at the webhook", func() error {
			if !hook.firing(map[string]string{"alertname": "RemoteWriteFailing", "severity": "ticket", "instance": "h1", "remote_name": "victoriametrics-h2"}) {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		// apply brings it back (the unit was stopped by hand).
		if r := s.obsbox("apply"); r.code != 0 {
			t.Fatalf("apply after the stop: %s", r)
		}
		heldAtT0(t, "after the outage")
	})

	t.Run("upgrade and rollback keep the data", func(t *testing.T) {
		if r := s.obsbox("upgrade", "victoriametrics=1.151.0"); r.code != 0 {
			t.Fatalf("upgrade: %s", r)
		}
		vmVersion(t, "1.151.0")
		heldAtT0(t, "after the upgrade")
		if out, err := s.c.SSH("h2", "ls /opt/obsbox/victoriametrics; readlink /opt/obsbox/victoriametrics/current"); err != nil ||
			!strings.Contains(out, "1.150.0") || !strings.HasSuffix(strings.TrimSpace(out), "1.151.0") {
			t.Errorf("h2 after the upgrade: %v\n%s", err, out)
		}
		if r := s.obsbox("rollback", "victoriametrics"); r.code != 0 {
			t.Fatalf("rollback: %s", r)
		}
		vmVersion(t, "1.150.0")
		heldAtT0(t, "after the rollback")
		if src, _ := os.ReadFile(s.inv); !strings.Contains(string(src), `victoriametrics = "1.150.0"`) {
			t.Errorf("the inventory does not record the version rolled back to:\n%s", src)
		}
		if r := s.obsbox("plan", "--detailed-exitcode"); r.code != 0 {
			t.Errorf("plan after the rollback: %s", r)
		}
	})

	if !t.Run("uninstall --keep-data keeps its data folder; apply continues it", func(t *testing.T) {
		r := s.obsbox("uninstall", "--hosts", "h2", "--keep-data", "--yes")
		if r.code != 0 {
			t.Fatalf("uninstall --keep-data: %s", r)
		}
		out, err := s.c.SSH("h2", "cat /var/lib/obsbox/victoriametrics/OBSBOX-KEPT-DATA.txt; ls /var/lib/obsbox/victoriametrics; ls /opt/obsbox 2>&1; getent passwd obsbox-victoriametrics || echo no-user")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"VictoriaMetrics' long-term metrics storage", "data", "No such file", "no-user"} {
			if !strings.Contains(out, want) {
				t.Errorf("h2 after uninstall --keep-data: want %q in\n%s", want, out)
			}
		}
		if r := s.obsbox("apply"); r.code != 0 {
			t.Fatalf("apply after uninstall --keep-data: %s", r)
		}
		heldAtT0(t, "on the kept data")
	}) {
		return
	}

	t.Run("uninstall leaves both hosts as they were", func(t *testing.T) {
		if r := s.obsbox("uninstall", "--yes"); r.code != 0 {
			t.Fatalf("uninstall: %s", r)
		}
		after, _ := s.snapshot()
		sameHosts(t, "after uninstall --yes", before, after)
	})
}
