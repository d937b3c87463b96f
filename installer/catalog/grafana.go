package catalog

// Grafana serves the dashboards.
const Grafana = "grafana"

func init() {
	Register(Component{
		Name:     Grafana,
		Role:     Grafana,
		Ports:    []Port{{Name: "web", Default: 3000, Scope: ScopeAll}},
		Health:   Health{Path: "/api/health", BuildInfo: "grafana_build_info"},
		Binaries: []string{"bin/grafana"},
		Release: Release{
			Host:     "https://dl.grafana.com",
			Dir:      "/oss/release/",
			Tarball:  "{name}-{version}.linux-{arch}.tar.gz",
			Checksum: "{name}-{version}.linux-{arch}.tar.gz.sha256",
			Kind:     SingleSum,
			// Grafana 10+ uses grafana-v<V>; older releases used grafana-<V>.
			TopFolders: []string{"grafana-v{version}", "grafana-{version}"},
		},
		// 12.x and 13.x: releases whose documentation was found (grafana.com
		// docs v12.0-v12.4, v13.0-v13.2); their configuration is checked
		// against those documents only (installer/component grafanaRelease).
		Versions: []string{
			"11.0.0", "11.1.0", "11.2.0", "11.2.2", "11.3.0", "11.4.0", "11.5.0", "11.6.0",
			"12.0.0", "12.2.0", "12.3.0", "12.4.0",
			"13.0.0", "13.1.0", "13.2.0",
		},
		Default:         "11.2.2",
		DataKind:        "database: users, and dashboards and settings made in Grafana",
		DataDescription: "Grafana's database (users, dashboards saved in the UI, preferences)",
		Secrets:         map[string][]string{"grafana": {"admin_password"}},
	})
}
