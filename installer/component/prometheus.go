package component

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
	"github.com/obsbox/obsbox/templates"
)

// Prometheus runs on hosts with the prometheus role and scrapes every host.
type Prometheus struct{}

func init() { register(Prometheus{}) }

func (Prometheus) Port(inv *inventory.Inventory) int { return inv.Prometheus.Port }

func (Prometheus) Name() string { return catalog.Prometheus }

func (Prometheus) Runs(_ *inventory.Inventory, h *inventory.Host) bool {
	return h.HasRole(catalog.Prometheus)
}

// AlertRules: PrometheusReplicaDown, once there is a replica to lose.
func (Prometheus) AlertRules(inv *inventory.Inventory) templates.RuleGroup {
	if len(inv.HostsWithRole(catalog.Prometheus)) < 2 {
		return templates.RuleGroup{}
	}
	return templates.PrometheusReplicaRules()
}

// hostPort joins a host's address with a port, bracketing IPv6.
func hostPort(addr string, port int) string { return net.JoinHostPort(addr, strconv.Itoa(port)) }

// prometheusLine is everything obsbox renders differently per Prometheus
// release line; prometheusRelease is the one place the version decides it.
// Checked against each line's --help and promtool (installer/component
// lines_test.go) and the 3.0 migration guide:
//   - the flags obsbox passes exist unchanged in 2.42 to 3.16; the removed
//     ones (--storage.tsdb.retention, --alertmanager.timeout,
//     --storage.tsdb.allow-overlapping-blocks) and the console flags (3.x
//     tarballs ship no consoles/) are never passed;
//   - no --enable-feature is passed, so none that 3.0 made default or removed matters;
//   - 3.x fails a scrape whose Content-Type is missing or unknown where 2.x
//     read it as text 0.0.4. fallback_scrape_protocol would keep such targets
//     up, but 2.x refuses the key, and a rollout writes the configuration
//     before it switches the binary and keeps it when a failed gate switches
//     back: a 2.x started on a 3.x-only file would not start at all. So both
//     majors get the same file (every exporter obsbox installs sends a valid
//     Content-Type), and the major upgrade's plan note names the change
//     (catalog: MajorChanges) for the user's own scrape jobs.
//   - UTF-8 names (3.x's metric_name_validation_scheme utf8 default) are
//     left at each line's default: the inventory only admits legacy label
//     names, which both schemes accept, and 2.55+ reads what 3.x stores.
type prometheusLine struct {
	FallbackScrapeProtocol string
}

func prometheusRelease(version string) prometheusLine {
	// Every line renders alike today (see above); the version is the one
	// place where a line of its own would be chosen.
	_ = version
	return prometheusLine{}
}

// prometheusFlags is the unit's command line; the same for every line (see prometheusLine).
func prometheusFlags(_ prometheusLine, pc inventory.Prometheus) []string {
	name := catalog.Prometheus
	return []string{
		path.Join(binDir(name), "prometheus"),
		"--config.file=" + path.Join(catalog.ConfigDir(name), "prometheus.yml"),
		"--storage.tsdb.path=" + catalog.DataDir(name),
		"--storage.tsdb.retention.time=" + pc.Retention,
		fmt.Sprintf("--web.listen-address=:%d", pc.Port),
	}
}

func (p Prometheus) Spec(c *Context) (*Spec, error) {
	name := p.Name()
	user := catalog.UserName(name)
	inv := c.Inv
	cfgDir := catalog.ConfigDir(name)
	pc := inv.Prometheus
	line := prometheusRelease(c.Version)

	conf := templates.PrometheusConfig{
		FallbackScrapeProtocol: line.FallbackScrapeProtocol,
		ScrapeInterval:         pc.ScrapeInterval,
		EvaluationInterval:     pc.EvaluationInterval,
		RuleFiles:              []string{templates.PromBuiltinRulesFile, templates.PromUserRulesGlob},
		NodeTargetsFile:        templates.PromNodeTargetsFile,
		Client:                 c.prometheusClient(),
	}
	for _, h := range inv.HostsWithRole(catalog.Alertmanager) {
		conf.Alertmanagers = append(conf.Alertmanagers, hostPort(h.Address, inv.Alertmanager.Port))
		conf.Alertmanager = append(conf.Alertmanager, templates.PrometheusStaticTarget{Host: h.Name, Address: hostPort(h.Address, inv.Alertmanager.Port), Labels: h.Labels})
	}
	for _, h := range inv.HostsWithRole(catalog.Prometheus) {
		conf.Prometheus = append(conf.Prometheus, templates.PrometheusStaticTarget{Host: h.Name, Address: hostPort(h.Address, pc.Port), Labels: h.Labels})
	}
	for _, h := range inv.HostsWithRole(catalog.Grafana) {
		conf.Grafana = append(conf.Grafana, templates.PrometheusStaticTarget{Host: h.Name, Address: hostPort(h.Address, inv.Grafana.Port), Labels: h.Labels})
	}
	sloFile, err := sloRules(inv)
	if err != nil {
		return nil, err
	}
	if sloFile != nil {
		conf.RuleFiles = append(conf.RuleFiles, templates.PromSLORulesFile) // so promtool check config checks it too
	}
	conf.ComponentJobs = contributedScrapeJobs(inv, c.Host)
	for _, j := range pc.Scrape {
		conf.Jobs = append(conf.Jobs, templates.PrometheusScrapeJob{Name: j.Name, Targets: j.Targets, MetricsPath: j.MetricsPath, Scheme: j.Scheme, ScrapeInterval: j.ScrapeInterval, Labels: j.Labels})
	}
	// Every VictoriaMetrics host gets every sample; the inventory's own endpoints follow.
	vmHosts, vmURLs := victoriaMetricsURLs(inv, c.Security)
	for i, h := range vmHosts {
		conf.RemoteWrite = append(conf.RemoteWrite, templates.PrometheusRemoteWrite{Name: templates.VictoriaMetricsRemoteWriteName(h.Name), URL: vmURLs[i] + "/api/v1/write", Internal: true})
	}
	for _, rw := range pc.RemoteWrite {
		conf.RemoteWrite = append(conf.RemoteWrite, templates.PrometheusRemoteWrite{Name: rw.Name, URL: rw.URL.Value(), Username: rw.Username, Password: rw.Password.Value(), BearerToken: rw.BearerToken.Value()})
	}
	yml, err := templates.RenderPrometheusConfig(conf)
	if err != nil {
		return nil, err
	}

	var targets []templates.FileSDTarget
	for _, h := range inv.Hosts {
		if !h.NodeExporter {
			continue
		}
		labels := map[string]string{}
		for k, v := range h.Labels {
			labels[k] = v
		}
		labels["instance"] = h.Name
		targets = append(targets, templates.FileSDTarget{Target: hostPort(h.Address, inv.NodeExporter.Port), Labels: labels})
	}
	sd, err := templates.RenderFileSD(targets)
	if err != nil {
		return nil, err
	}

	r := inv.Rules
	overrides := map[string]templates.RuleOverride{}
	for n, o := range r.Overrides {
		overrides[n] = templates.RuleOverride{For: o.For, Severity: o.Severity, Threshold: o.Threshold}
	}
	rules, err := templates.RenderAlertRules(templates.RuleSettings{Disabled: r.Disable, Overrides: overrides, RunbookBaseURL: r.RunbookBaseURL,
		Groups: contributedRuleGroups(inv)})
	if err != nil {
		return nil, err
	}

	mode := uint32(0o640)
	files := []File{
		{Path: path.Join(cfgDir, "prometheus.yml"), Content: yml, Mode: mode, Owner: "root", Group: user, Effect: EffectReload,
			Secrets: &Secrets{Format: "yaml", Keys: templates.PrometheusSecretKeys, Values: conf.SecretValues()}, Targets: true},
		{Path: path.Join(cfgDir, templates.PromBuiltinRulesFile), Content: rules, Mode: mode, Owner: "root", Group: user, Effect: EffectReload},
		{Path: path.Join(cfgDir, templates.PromNodeTargetsFile), Content: sd, Mode: mode, Owner: "root", Group: user, Effect: EffectNone, Targets: true},
	}
	if sloFile != nil {
		files = append(files, File{Path: sloRulesPath, Content: sloFile, Mode: mode, Owner: "root", Group: user, Effect: EffectReload})
	}
	seen := map[string]string{}
	for _, src := range pc.RuleFilePaths {
		base := filepath.Base(src)
		if filepath.Ext(base) != ".yml" {
			base += ".yml" // the config's glob only matches *.yml
		}
		if other, dup := seen[base]; dup {
			return nil, fmt.Errorf("rule files %s and %s share the name %s; rename one", other, src, base)
		}
		seen[base] = src
		content, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("rule file: %w", err)
		}
		files = append(files, File{Path: path.Join(cfgDir, "rules", "user", base), Content: content, Mode: mode, Owner: "root", Group: user, Effect: EffectReload})
	}

	// Its own endpoint, and what it needs to reach the others: the CA
	// bundle and the web password, both read again on every scrape.
	webFiles, webDirs, kp, webFlags, checks, err := c.webEndpoint(name)
	if err != nil {
		return nil, err
	}
	files = append(files, webFiles...)
	files = append(files, c.caBundleFile(name, EffectNone)...)
	if c.Security.BasicAuth {
		files = append(files, File{Path: webPasswordFile(), Content: []byte(c.Security.Password.Value()), Mode: 0o640, Owner: "root", Group: user,
			Sensitive: true, Effect: EffectNone})
	}
	unit, err := systemd.Render(name, systemd.Unit{
		Description:      "obsbox Prometheus: metrics and alerting rules",
		User:             user,
		Group:            user,
		ExecStart:        append(prometheusFlags(line, pc), webFlags...),
		WorkingDirectory: catalog.DataDir(name),
		ReadWritePaths:   []string{catalog.DataDir(name)},
	})
	if err != nil {
		return nil, err
	}
	return &Spec{
		Component: name,
		Version:   c.Version,
		Bundle:    c.Bundle,
		Binaries:  slices.Clone(catalog.Get(name).Binaries),
		Files:     files,
		Dirs: append([]Dir{
			{Path: path.Join(cfgDir, "rules"), Mode: 0o750, Owner: "root", Group: user},
			{Path: path.Join(cfgDir, "rules", "user"), Mode: 0o750, Owner: "root", Group: user},
			{Path: path.Join(cfgDir, "targets"), Mode: 0o750, Owner: "root", Group: user},
		}, webDirs...),
		KeyPair: kp,
		Checks:  checks,
		Unit:    unit,
		Reload:  catalog.Get(name).Reload,
		Check:   &Check{Tool: "promtool", Args: []string{"check", "config", "prometheus.yml"}},
		Health:  health(name, pc.Port),
	}, nil
}
