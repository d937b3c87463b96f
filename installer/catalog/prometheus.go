package catalog

// Prometheus scrapes every host and evaluates the alert rules.
const Prometheus = "prometheus"

func init() {
	Register(Component{
		Name:     Prometheus,
		Role:     Prometheus,
		Ports:    []Port{{Name: "web", Default: 9090, Scope: ScopeAll}},
		Health:   Health{Path: "/-/ready", ReloadMetric: "prometheus_config_last_reload_successful", BuildInfo: "prometheus_build_info"},
		Reload:   true,
		Binaries: []string{"prometheus", "promtool"},
		Release:  GitHubPrometheus(),
		// Upstream releases obsbox renders configuration for (2.42+ and 3.x,
		// see installer/component/prometheus.go); 3.5 and 3.13 are LTS lines.
		// Only point releases confirmed upstream are listed; any other version
		// can still be named in the inventory.
		Versions: []string{
			"2.42.0", "2.43.0", "2.44.0", "2.45.0", "2.46.0", "2.47.0", "2.47.1", "2.47.2",
			"2.48.0", "2.48.1", "2.49.0", "2.49.1", "2.50.0", "2.50.1", "2.51.0", "2.51.1",
			"2.51.2", "2.52.0", "2.53.0", "2.53.1", "2.53.2", "2.53.3", "2.54.0", "2.54.1",
			"2.55.0", "2.55.1",
			"3.0.0", "3.0.1", "3.1.0", "3.2.0", "3.2.1", "3.3.0", "3.3.1", "3.4.0", "3.4.1", "3.4.2",
			"3.5.0", "3.5.3", "3.6.0", "3.7.0", "3.8.0", "3.9.0", "3.10.0", "3.11.0", "3.12.0",
			"3.13.0", "3.14.0", "3.15.0", "3.16.0",
		},
		// The newest release tested here end to end (e2e bundles).
		Default:         "3.16.0",
		DataKind:        "metrics history (the TSDB)",
		DataDescription: "Prometheus's time series database (TSDB)",
		DowngradeFloor: &Floor{Ran: "3.0.0", Min: "2.55.0",
			Reason: "Prometheus 2 before 2.55.0 cannot read a TSDB that Prometheus 3 has written"},
		Secrets: map[string][]string{"prometheus/remote_write": {"url", "password", "bearer_token"}},
		// Rendered only with two or more Prometheus hosts.
		AlertRules: []string{"PrometheusReplicaDown"},
		MajorChanges: map[int]string{
			3: "Prometheus 3 fails a scrape whose target sends no valid Content-Type, which 2.x read as text; the exporters obsbox installs send one, so check the targets of your own scrape jobs",
		},
	})
}
