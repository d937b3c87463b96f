package catalog

// VictoriaMetrics is the long-term store every Prometheus remote-writes to.
const VictoriaMetrics = "victoriametrics"

func init() {
	Register(Component{
		Name:  VictoriaMetrics,
		Role:  VictoriaMetrics,
		Ports: []Port{{Name: "web", Default: 8428, Scope: ScopeAll}},
		// vm_app_version's version label is the long build string
		// (victoria-metrics-<date>-tags-v1.151.0-0-g<rev>); short_version is v1.151.0.
		Health:   Health{Path: "/health", BuildInfo: "vm_app_version", VersionLabel: "short_version"},
		Binaries: []string{"victoria-metrics-prod"},
		Release: Release{
			Host:     "https://github.com",
			Dir:      "/VictoriaMetrics/VictoriaMetrics/releases/download/v{version}/",
			Tarball:  "victoria-metrics-linux-{arch}-v{version}.tar.gz",
			Checksum: "victoria-metrics-linux-{arch}-v{version}_checksums.txt",
			Kind:     SumsFile,
			// The tarball holds victoria-metrics-prod at its top, in no folder.
			Flat: true,
		},
		// Single-node releases of the 1.9x+ lines obsbox renders for
		// (installer/component/victoriametrics.go); the LTS lines' first
		// releases and the newest two, tested here end to end.
		Versions:        []string{"1.93.0", "1.97.0", "1.102.0", "1.110.0", "1.122.0", "1.150.0", "1.151.0"},
		Default:         "1.151.0",
		DataKind:        "long-term metrics history",
		DataDescription: "VictoriaMetrics' long-term metrics storage",
		AlertRules:      []string{"RemoteWriteFailing"},
	})
}
