package installer

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
)

func topoInv(t *testing.T, src string) *inventory.Inventory {
	t.Helper()
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return inv
}

// TestIssue15_Topology: plan and status name the replicas, the cluster
// members and where samples go, never a remote_write URL; one Prometheus
// and one Alertmanager without remote_write show nothing extra.
func TestIssue15_Topology(t *testing.T) {
	inv := topoInv(t, `
host "h1" {
  address = "10.0.0.1"
  roles   = ["prometheus", "alertmanager"]
}
host "h2" {
  address = "10.0.0.2"
  roles   = ["prometheus", "alertmanager"]
}
host "h3" {
  address = "10.0.0.3"
  roles   = ["alertmanager"]
}
prometheus {
  remote_write "longterm" { url = "https://secret-token@lts.example.com/write" }
  remote_write "spare" { url = "https://other.example.com/write" }
}
`)
	topo := topologyOf(inv)
	three := 3
	topo.Alertmanager[2].Members = &three
	var b bytes.Buffer
	(&Report{Hosts: []*HostResult{}, Topology: topo}).WritePlan(&b)
	out := b.String()
	for _, want := range []string{
		"Prometheus replicas (2, alike: each scrapes every target and alerts every Alertmanager): h1 (10.0.0.1), h2 (10.0.0.2)\n",
		"Alertmanager cluster (3 members, gossip on port 9094): h1 (10.0.0.1), h2 (10.0.0.2), h3 (10.0.0.3, sees 3/3)\n",
		`Samples go to: "longterm" (URL sensitive), "spare" (URL sensitive)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	js, err := json.Marshal(&StatusReport{Rows: []StatusRow{}, Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{out, string(js)} {
		if strings.Contains(s, "example.com") || strings.Contains(s, "secret") {
			t.Errorf("a remote_write URL is shown:\n%s", s)
		}
	}
	if !strings.Contains(string(js), `"alertmanager_cluster":[{"host":"h1","address":"10.0.0.1"},{"host":"h2","address":"10.0.0.2"},{"host":"h3","address":"10.0.0.3","cluster_members":3}]`) {
		t.Errorf("status JSON: %s", js)
	}

	single := topoInv(t, "host \"h1\" {\n  address = \"10.0.0.1\"\n  roles = [\"prometheus\", \"alertmanager\"]\n}\n")
	if topo := topologyOf(single); topo != nil {
		t.Errorf("one of each: topology %+v, want none", topo)
	}
}
