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
		Health:          Health{Path: "/-/ready", ReloadMetric: "alertmanager_config_last_reload_successful", BuildInfo: "alertmanager_build_info"},
		Reload:          true,
		Binaries:        []string{"alertmanager", "amtool"},
		Release:         GitHubPrometheus(),
		Versions:        []string{"0.24.0", "0.25.0", "0.26.0", "0.27.0", "0.28.0", "0.28.1"},
		Default:         "0.27.0",
		DataKind:        "silences and notification log",
		DataDescription: "Alertmanager's silences and notification log",
		Secrets: map[string][]string{
			"alertmanager/receiver/pagerduty": {"routing_key"},
			"alertmanager/receiver/slack":     {"api_url"},
			"alertmanager/receiver/webhook":   {"url"},
			"alertmanager/receiver/email":     {"auth_password"},
		},
	})
}
