package component

import (
	"fmt"
	"path"
	"regexp"
	"slices"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
	"github.com/obsbox/obsbox/templates"
)

// VictoriaMetrics runs on hosts with the victoriametrics role: the long-term
// store every Prometheus remote-writes to and Grafana reads by default.
type VictoriaMetrics struct{}

func init() { register(VictoriaMetrics{}) }

func (VictoriaMetrics) Name() string { return catalog.VictoriaMetrics }

// Port is the catalog's: the inventory has no port setting for it.
func (VictoriaMetrics) Port(*inventory.Inventory) int {
	return catalog.DefaultPort(catalog.VictoriaMetrics, "web")
}

func (VictoriaMetrics) Runs(inv *inventory.Inventory, h *inventory.Host) bool {
	return inv.Places(catalog.Get(catalog.VictoriaMetrics), h)
}

// victoriaMetricsURLs are the base URLs of every VictoriaMetrics host, by host.
func victoriaMetricsURLs(inv *inventory.Inventory, sec Security) ([]*inventory.Host, []string) {
	hosts := inv.HostsWithRole(catalog.VictoriaMetrics)
	port := VictoriaMetrics{}.Port(inv)
	urls := make([]string, len(hosts))
	for i, h := range hosts {
		urls[i] = sec.Origin(h.Address, port)
	}
	return hosts, urls
}

// victoriaMetricsFlags is the unit's command line, and the one place the
// version would decide VictoriaMetrics' rendering: 1.9x to 1.151 take the
// same flags (1.150's and 1.151's -help in lines_test.go; for 1.9x these four
// are upstream's long-standing flags, not checked against a 1.9x binary). -retentionPeriod gets months as a bare number, which
// every line reads (the M suffix is newer); -dedup.minScrapeInterval is the
// scrape interval, so the samples of Prometheus replicas become one.
func victoriaMetricsFlags(_ string, inv *inventory.Inventory) ([]string, error) {
	name := catalog.VictoriaMetrics
	retention, err := inventory.VictoriaMetricsRetentionFlag(inv.VictoriaMetrics.Retention)
	if err != nil {
		return nil, fmt.Errorf("victoriametrics retention %q: %w", inv.VictoriaMetrics.Retention, err)
	}
	return []string{
		path.Join(binDir(name), catalog.Get(name).Binaries[0]),
		"-storageDataPath=" + catalog.DataDir(name),
		"-retentionPeriod=" + retention,
		"-dedup.minScrapeInterval=" + inv.Prometheus.ScrapeInterval,
		fmt.Sprintf("-httpListenAddr=:%d", VictoriaMetrics{}.Port(inv)),
	}, nil
}

func (v VictoriaMetrics) Spec(c *Context) (*Spec, error) {
	name := v.Name()
	user := catalog.UserName(name)
	args, err := victoriaMetricsFlags(c.Version, c.Inv)
	if err != nil {
		return nil, err
	}
	// VictoriaMetrics is no exporter-toolkit server: TLS and basic auth are
	// its own flags. It re-reads the key pair every second (no restart on
	// renewal); the password is read from a file (never on argv) at start.
	var files []File
	var dirs []Dir
	var kp *KeyPair
	sec := c.Security
	if sec.TLS {
		kp = &KeyPair{Path: catalog.KeyPairPath(name), Group: user, Cert: c.HostCert, Effect: EffectNone}
		dirs = append(dirs, Dir{Path: path.Dir(kp.Path), Mode: 0o750, Owner: "root", Group: user})
		args = append(args, "-tls", "-tlsCertFile="+kp.Path, "-tlsKeyFile="+kp.Path, "-tlsMinVersion=TLS12")
	}
	if sec.BasicAuth {
		pwFile := path.Join(catalog.ConfigDir(name), "web-password")
		files = append(files, File{Path: pwFile, Content: []byte(sec.Password.Value()), Mode: 0o640, Owner: "root", Group: user,
			Sensitive: true, Effect: EffectRestart})
		args = append(args, "-httpAuth.username="+catalog.WebUser, "-httpAuth.password=file://"+pwFile)
	}
	unit, err := systemd.Render(name, systemd.Unit{
		Description:      "obsbox VictoriaMetrics: long-term metrics storage",
		User:             user,
		Group:            user,
		ExecStart:        args,
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
		Dirs:      dirs,
		KeyPair:   kp,
		Unit:      unit,
		Reload:    catalog.Get(name).Reload,
		Health:    health(name, v.Port(c.Inv)),
	}, nil
}

// ScrapeJobs watches every VictoriaMetrics from every Prometheus, its
// instance named after its host as the other components' are.
func (v VictoriaMetrics) ScrapeJobs(inv *inventory.Inventory, _ *inventory.Host) []templates.PrometheusScrapeJob {
	hosts := inv.HostsWithRole(catalog.VictoriaMetrics)
	job := templates.PrometheusScrapeJob{Name: catalog.VictoriaMetrics, Internal: true}
	for _, h := range hosts {
		addr := hostPort(h.Address, v.Port(inv))
		job.Targets = append(job.Targets, addr)
		job.RelabelConfigs = append(job.RelabelConfigs, templates.PrometheusRelabel{
			SourceLabels: []string{"__address__"}, Regex: regexp.QuoteMeta(addr), TargetLabel: "instance", Replacement: h.Name,
		})
	}
	return []templates.PrometheusScrapeJob{job}
}

func (VictoriaMetrics) AlertRules(*inventory.Inventory) templates.RuleGroup {
	return templates.VictoriaMetricsAlertRules()
}
