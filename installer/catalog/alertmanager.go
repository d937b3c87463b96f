package catalog

// Alertmanager routes alerts to receivers; several form a cluster.
const Alertmanager = "alertmanager"

func init() {
	Register(Component{
		Name: Alertmanager,
		Role: Alertmanager,
		Ports: []Port{
			{Name: "web", Default: 9093, Scope: ScopeAll},
			// Gossip between peers, on the host's own address; closed on a lone Alertmanager.
			{Name: "cluster", Default: 9094, Scope: ScopeHost},
		},
		Health:   Health{Path: "/-/ready", ReloadMetric: "alertmanager_config_last_reload_successful", BuildInfo: "alertmanager_build_info"},
		Reload:   true,
		Binaries: []string{"alertmanager", "amtool"},
		Release:  GitHubPrometheus(),
		// 0.25+ is what obsbox renders for; 0.24 stays so inventories naming it still plan.
		Versions: []string{"0.24.0", "0.25.0", "0.26.0", "0.27.0", "0.28.0", "0.28.1", "0.29.0", "0.30.0",
			"0.31.0", "0.32.0", "0.32.1", "0.32.2", "0.33.0", "0.33.1", "0.34.0", "0.35.0"},
		// The newest release tested here end to end (e2e bundles).
		Default:         "0.35.0",
		DataKind:        "silences and notification log",
		DataDescription: "Alertmanager's silences and notification log",
		// Rendered only with two or more Alertmanager hosts.
		AlertRules: []string{"AlertmanagerClusterDegraded"},
		Secrets: map[string][]string{
			"alertmanager/receiver/pagerduty": {"routing_key"},
			"alertmanager/receiver/slack":     {"api_url"},
			"alertmanager/receiver/webhook":   {"url"},
			"alertmanager/receiver/email":     {"auth_password"},
		},
	})
}
