package component

import (
	"maps"
	"path"
	"slices"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
	"github.com/obsbox/obsbox/templates"
)

// BlackboxExporter probes the inventory's probe targets from every
// Prometheus host; that host's Prometheus asks it on 127.0.0.1.
type BlackboxExporter struct{}

func init() { register(BlackboxExporter{}) }

func (BlackboxExporter) Name() string { return catalog.BlackboxExporter }

// Port is fixed: the inventory has no setting for a loopback-only listener.
func (BlackboxExporter) Port(*inventory.Inventory) int {
	return catalog.DefaultPort(catalog.BlackboxExporter, "web")
}

func (BlackboxExporter) Runs(inv *inventory.Inventory, h *inventory.Host) bool {
	return inv.Places(catalog.Get(catalog.BlackboxExporter), h)
}

func (b BlackboxExporter) listen(inv *inventory.Inventory) string {
	return hostPort("127.0.0.1", b.Port(inv))
}

// flags is the unit's command line, and the one place the version would
// decide blackbox_exporter's rendering: 0.24 to 0.27 take the same flags and
// blackbox.yml (0.27's --help and --config.check in lines_test.go; 0.24's
// from its documentation: the http, tcp, icmp and dns probers and
// query_name/query_type predate it).
func (b BlackboxExporter) flags(_ string, inv *inventory.Inventory) []string {
	return []string{
		path.Join(binDir(catalog.BlackboxExporter), "blackbox_exporter"),
		"--config.file=" + path.Join(catalog.ConfigDir(catalog.BlackboxExporter), templates.BlackboxConfigFile),
		"--web.listen-address=" + b.listen(inv),
	}
}

func (b BlackboxExporter) Spec(c *Context) (*Spec, error) {
	name := b.Name()
	user := catalog.UserName(name)
	cfgDir := catalog.ConfigDir(name)
	cfg, err := templates.RenderBlackboxConfig()
	if err != nil {
		return nil, err
	}
	files, dirs, kp, webFlags, checks, err := c.webEndpoint(name)
	if err != nil {
		return nil, err
	}
	unit, err := systemd.Render(name, systemd.Unit{
		Description: "obsbox blackbox_exporter: probes",
		User:        user,
		Group:       user,
		ExecStart:   append(b.flags(c.Version, c.Inv), webFlags...),
	})
	if err != nil {
		return nil, err
	}
	return &Spec{
		Component: name,
		Version:   c.Version,
		Bundle:    c.Bundle,
		Binaries:  slices.Clone(catalog.Get(name).Binaries),
		Files: append([]File{{Path: path.Join(cfgDir, templates.BlackboxConfigFile), Content: cfg, Mode: 0o640,
			Owner: "root", Group: user, Effect: EffectReload}}, files...),
		Dirs:    dirs,
		KeyPair: kp,
		Checks:  checks,
		Unit:    unit,
		Reload:  catalog.Get(name).Reload,
		Check:   &Check{Tool: "blackbox_exporter", Args: []string{"--config.check", "--config.file=" + templates.BlackboxConfigFile}},
		Health:  health(name, b.Port(c.Inv)),
	}, nil
}

// ScrapeJobs is one job per probe block, asking the local blackbox_exporter
// to probe each target: the target becomes the probe's parameter and the
// series' instance.
func (b BlackboxExporter) ScrapeJobs(inv *inventory.Inventory, prom *inventory.Host) []templates.PrometheusScrapeJob {
	var out []templates.PrometheusScrapeJob
	for _, p := range inv.Probes {
		labels := maps.Clone(p.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[inventory.ProbeLabel] = p.Name
		out = append(out, templates.PrometheusScrapeJob{
			Name:           "probe-" + p.Name,
			Targets:        slices.Clone(p.Targets),
			MetricsPath:    "/probe",
			ScrapeInterval: p.Interval,
			Labels:         labels,
			Params:         map[string][]string{"module": {p.Module}},
			// The exporter is the local one: its certificate names the host, not 127.0.0.1.
			Internal:   true,
			ServerName: prom.Name,
			RelabelConfigs: []templates.PrometheusRelabel{
				{SourceLabels: []string{"__address__"}, TargetLabel: "__param_target"},
				{SourceLabels: []string{"__param_target"}, TargetLabel: "instance"},
				{TargetLabel: "__address__", Replacement: b.listen(inv)},
			},
		})
	}
	return out
}

func (BlackboxExporter) AlertRules(*inventory.Inventory) templates.RuleGroup {
	return templates.BlackboxAlertRules()
}

func (BlackboxExporter) Dashboards(*inventory.Inventory) map[string][]byte {
	return templates.BlackboxDashboards()
}
