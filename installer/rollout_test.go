package installer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
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
			got, err := buildVersion(context.Background(), srv.Client(), srv.URL, tc.metric, tc.label)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNormalizeVersion(t *testing.T) {
	for in, want := range map[string]string{"2.42.0+ds": "2.42.0", "v1.8.2": "1.8.2", "2.53.3+ds1": "2.53.3", "0.27.0": "0.27.0"} {
		if got := normalizeVersion(in); got != want {
			t.Errorf("normalizeVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
