package installer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/inventory"
)

func TestBuildVersion(t *testing.T) {
	for _, tc := range []struct{ name, body, metric, label, want string }{
		{"goversion comes first", `node_exporter_build_info{branch="",goarch="amd64",goos="linux",goversion="go1.26.8",revision="unknown",tags="unknown",version="1.8.2"} 1`, "node_exporter_build_info", "", "1.8.2"},
		{"debian build", `prometheus_build_info{branch="debian/sid",goversion="go1.19.8",revision="2.42.0+ds-5",version="2.42.0+ds"} 1`, "prometheus_build_info", "", "2.42.0+ds"},
		{"version first", `grafana_build_info{version="11.2.2",edition="oss"} 1`, "grafana_build_info", "", "11.2.2"},
		// VictoriaMetrics' own form (a 1.151.0 build's /metrics), label after ", ".
		{"victoriametrics short_version", `vm_app_version{version="victoria-metrics-20260101-000000-tags-v1.151.0-0-g0000000000", short_version="v1.151.0"} 1`, "vm_app_version", "short_version", "v1.151.0"},
		{"victoriametrics long version", `vm_app_version{version="victoria-metrics-20260101-000000-tags-v1.151.0-0-g0000000000", short_version="v1.151.0"} 1`, "vm_app_version", "", "victoria-metrics-20260101-000000-tags-v1.151.0-0-g0000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("# HELP x\nother_metric 1\n" + tc.body + "\n"))
			}))
			defer srv.Close()
			page, err := fetchPage(context.Background(), srv.Client(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, err := page.buildVersion(tc.metric, tc.label)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestIssue17_GatePassReadsMetricsOnce: the reload state, the version and
// the cluster size come from one read of /metrics (at 100 ms each read is
// a round trip or more), and a failed check is named as before.
func TestIssue17_GatePassReadsMetricsOnce(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	reloaded := "1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		ok := reloaded
		mu.Unlock()
		if r.URL.Path == "/-/ready" {
			w.Write([]byte("ready\n"))
			return
		}
		w.Write([]byte("alertmanager_config_last_reload_successful " + ok + "\n" +
			`alertmanager_build_info{version="0.27.0"} 1` + "\nalertmanager_cluster_members 3\n"))
	}))
	defer srv.Close()
	r := &Run{cluster: amCluster{size: 3}}
	spec := &component.Spec{Component: catalog.Alertmanager, Health: component.Health{Port: 9093,
		Path: "/-/ready", ReloadMetric: "alertmanager_config_last_reload_successful", BuildInfo: "alertmanager_build_info"}}
	if check, msg := r.endpointProblem(context.Background(), srv.Client(), srv.URL, spec, "0.27.0", 0); msg != "" {
		t.Fatalf("%s: %s", check, msg)
	}
	if hits["/metrics"] != 1 || hits["/-/ready"] != 1 {
		t.Errorf("one pass read %v, want /-/ready and /metrics once each", hits)
	}
	if check, _ := r.endpointProblem(context.Background(), srv.Client(), srv.URL, spec, "0.35.0", 0); check != "version" {
		t.Errorf("another version running failed the %q check, want version", check)
	}
	mu.Lock()
	reloaded = "0"
	mu.Unlock()
	if check, msg := r.endpointProblem(context.Background(), srv.Client(), srv.URL, spec, "0.27.0", 0); check != "reload" || !strings.Contains(msg, "is 0") {
		t.Errorf("a failed reload gave %q: %s", check, msg)
	}
}

func TestNormalizeVersion(t *testing.T) {
	for in, want := range map[string]string{"2.42.0+ds": "2.42.0", "v1.8.2": "1.8.2", "2.53.3+ds1": "2.53.3", "0.27.0": "0.27.0"} {
		if got := normalizeVersion(in); got != want {
			t.Errorf("normalizeVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIssue15_ClusterMembers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("# HELP alertmanager_cluster_members Number indicating current number of members in cluster.\n" +
			"alertmanager_cluster_members_x 9\nalertmanager_cluster_members 3\n"))
	}))
	defer srv.Close()
	if n, err := clusterMembers(context.Background(), srv.Client(), srv.URL); n != 3 || err != nil {
		t.Errorf("got %d, %v; want 3", n, err)
	}
	none := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up 1\n")) }))
	defer none.Close()
	if _, err := clusterMembers(context.Background(), none.Client(), none.URL); err == nil {
		t.Error("a page without the metric gave no error")
	}
}

// TestIssue15_ClusterSize: a restarted member must see every Alertmanager
// host, those outside the run (--hosts) too, but not one the run could not reach.
func TestIssue15_ClusterSize(t *testing.T) {
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(`
host "a1" {
  address = "10.0.0.1"
  roles   = ["prometheus", "alertmanager"]
}
host "a2" {
  address = "10.0.0.2"
  roles   = ["alertmanager"]
}
host "a3" {
  address = "10.0.0.3"
  roles   = ["alertmanager"]
}
host "p" { address = "10.0.0.4" }
`))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := testRun("a1", "a2", "p")
	r.Opts.Inventory = inv
	r.settleCluster()
	if r.cluster.size != 3 || !r.clusterGated(catalog.Alertmanager) || r.clusterGated(catalog.Prometheus) {
		t.Errorf("size %d, want 3 (a3 is outside the run, still a member)", r.cluster.size)
	}
	r.Hosts[1].fail("connect", errors.New("no route to host"))
	r.settleCluster()
	if r.cluster.size != 2 {
		t.Errorf("size %d, want 2: a2 could not be reached", r.cluster.size)
	}
	r.Hosts[0].fail("connect", errors.New("no route to host"))
	r.settleCluster()
	if r.clusterGated(catalog.Alertmanager) {
		t.Errorf("size %d: a lone reachable member waits for no cluster", r.cluster.size)
	}
}
