package catalog

// NodeExporter is the host metrics exporter; it runs on every host.
const NodeExporter = "node_exporter"

func init() {
	Register(Component{
		Name:       NodeExporter,
		AlertRules: []string{"CertificateExpiringSoon"},
		Ports:      []Port{{Name: "web", Default: 9100, Scope: ScopeAll}},
		Health:     Health{Path: "/metrics", BuildInfo: "node_exporter_build_info"},
		Binaries:   []string{"node_exporter"},
		Release:    GitHubPrometheus(),
		Versions: []string{"1.5.0", "1.6.0", "1.6.1", "1.7.0", "1.8.0", "1.8.1", "1.8.2", "1.9.0", "1.9.1",
			"1.10.0", "1.11.0", "1.12.0", "1.12.1"},
		// The newest release tested here end to end (e2e bundles).
		Default: "1.12.1",
		// Every host runs it: switch a quarter of them at a time.
		BatchDivisor:    4,
		DataDescription: "the input of node_exporter's textfile collector (*.prom files written on this host)",
	})
}
