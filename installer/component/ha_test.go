package component

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const haInv = `
host "h1" {
  address = "10.0.0.1"
  roles   = ["prometheus", "alertmanager"]
  labels  = { rack = "a" }
}
host "h2" {
  address = "10.0.0.2"
  roles   = ["prometheus", "alertmanager"]
  labels  = { rack = "b" }
}
host "h3" {
  address = "10.0.0.3"
  roles   = ["alertmanager", "grafana"]
}
host "h4" { address = "10.0.0.4" }
probe "web" { targets = ["http://10.0.0.4/"] }
`

// TestIssue15_ReplicasRenderAlike: every Prometheus host gets the same
// prometheus.yml, rules and targets, byte for byte (so the replicas' alerts
// carry the same labels and Alertmanager deduplicates them), listing every
// Alertmanager; the HA rules are in it, and not with one host of each.
func TestIssue15_ReplicasRenderAlike(t *testing.T) {
	inv := loadProbeInv(t, haInv)
	files := map[string]map[string][]byte{}
	for _, h := range []string{"h1", "h2"} {
		spec, err := Prometheus{}.Spec(&Context{Inv: inv, Host: inv.Host(h), Version: "3.16.0"})
		if err != nil {
			t.Fatal(err)
		}
		files[h] = map[string][]byte{}
		for _, f := range spec.Files {
			files[h][f.Path] = f.Content
		}
	}
	if len(files["h1"]) != len(files["h2"]) {
		t.Fatalf("h1 has %d files, h2 %d", len(files["h1"]), len(files["h2"]))
	}
	for p, b := range files["h1"] {
		if !bytes.Equal(b, files["h2"][p]) {
			t.Errorf("%s differs between the replicas:\n%s\n---\n%s", p, b, files["h2"][p])
		}
	}
	var conf struct {
		Global   map[string]any `yaml:"global"`
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	if err := yaml.Unmarshal(files["h1"]["/etc/obsbox/prometheus/prometheus.yml"], &conf); err != nil {
		t.Fatal(err)
	}
	if got := conf.Alerting.Alertmanagers[0].StaticConfigs[0].Targets; !slices.Equal(got, []string{"10.0.0.1:9093", "10.0.0.2:9093", "10.0.0.3:9093"}) {
		t.Errorf("alerting targets %v, want every Alertmanager", got)
	}
	if _, ok := conf.Global["external_labels"]; ok {
		t.Errorf("external labels %v: nothing host-specific may be in them", conf.Global["external_labels"])
	}
	rules := string(files["h1"][path.Join("/etc/obsbox/prometheus", "rules/obsbox-alerts.yml")])
	for _, r := range []string{"PrometheusReplicaDown", "AlertmanagerClusterDegraded"} {
		if !strings.Contains(rules, "alert: '"+r+"'") {
			t.Errorf("rules lack %s", r)
		}
	}

	single := loadProbeInv(t, "host \"h1\" {\n  address = \"10.0.0.1\"\n  roles = [\"prometheus\", \"alertmanager\"]\n}\n")
	spec, err := Prometheus{}.Spec(&Context{Inv: single, Host: single.Host("h1"), Version: "3.16.0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range spec.Files {
		if s := string(f.Content); strings.Contains(s, "PrometheusReplicaDown") || strings.Contains(s, "AlertmanagerClusterDegraded") {
			t.Errorf("%s has an HA rule with one host of each", f.Path)
		}
	}
}

// TestIssue15_AlertmanagerPeers: each member listens and advertises on its
// own address and names every other member as a peer; a lone one keeps the
// cluster port closed.
func TestIssue15_AlertmanagerPeers(t *testing.T) {
	inv := loadProbeInv(t, haInv)
	want := map[string][]string{
		"h1": {"--cluster.listen-address=10.0.0.1:9094", "--cluster.advertise-address=10.0.0.1:9094", "--cluster.peer=10.0.0.2:9094", "--cluster.peer=10.0.0.3:9094"},
		"h3": {"--cluster.listen-address=10.0.0.3:9094", "--cluster.advertise-address=10.0.0.3:9094", "--cluster.peer=10.0.0.1:9094", "--cluster.peer=10.0.0.2:9094"},
	}
	for h, w := range want {
		var cluster []string
		for _, a := range alertmanagerFlags("0.27.0", inv, inv.Host(h)) {
			if strings.HasPrefix(a, "--cluster.") {
				cluster = append(cluster, a)
			}
		}
		if !slices.Equal(cluster, w) {
			t.Errorf("%s: cluster flags %v, want %v", h, cluster, w)
		}
	}
	single := loadProbeInv(t, "host \"h1\" {\n  address = \"10.0.0.1\"\n  roles = [\"prometheus\", \"alertmanager\"]\n}\n")
	if got := alertmanagerFlags("0.27.0", single, single.Host("h1")); !slices.Contains(got, "--cluster.listen-address=") || slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "--cluster.peer") }) {
		t.Errorf("lone Alertmanager: %v", got)
	}
}
