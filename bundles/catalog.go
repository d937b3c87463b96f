package bundles

// Component names, as used in the inventory's versions block and on hosts.
const (
	Prometheus   = "prometheus"
	Alertmanager = "alertmanager"
	Grafana      = "grafana"
	NodeExporter = "node_exporter"
)

// Components lists every component obsbox knows, in install order.
var Components = []string{NodeExporter, Prometheus, Alertmanager, Grafana}

// defaultVersions are the versions used when the inventory names none.
var defaultVersions = map[string]string{
	Prometheus:   "2.53.2",
	Alertmanager: "0.27.0",
	Grafana:      "11.2.2",
	NodeExporter: "1.8.2",
}

// DefaultVersion returns the catalog's default version of component, or "" if unknown.
func DefaultVersion(component string) string { return defaultVersions[component] }
