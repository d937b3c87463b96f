package catalog

// BlackboxExporter runs the inventory's probe blocks; it sits beside every Prometheus.
const BlackboxExporter = "blackbox_exporter"

func init() {
	Register(Component{
		Name:    BlackboxExporter,
		Role:    Prometheus,
		Feature: "probe",
		// A probe endpoint fetches whatever it is told to: keep it off the network.
		Ports:           []Port{{Name: "web", Default: 9115, Scope: ScopeLoopback}},
		Health:          Health{Path: "/-/healthy", BuildInfo: "blackbox_exporter_build_info"},
		Reload:          true,
		Binaries:        []string{"blackbox_exporter"},
		Release:         GitHubPrometheus(),
		Versions:        []string{"0.24.0", "0.25.0", "0.26.0", "0.27.0"},
		Default:         "0.27.0",
		DataDescription: "nothing: blackbox_exporter keeps no state",
		AlertRules:      []string{"ProbeFailed", "ProbeSlow"},
	})
}
