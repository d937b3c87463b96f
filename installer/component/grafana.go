package component

import (
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/shell"
	"github.com/obsbox/obsbox/systemd"
	"github.com/obsbox/obsbox/templates"
)

// Grafana runs on hosts with the grafana role, with a provisioned Prometheus
// datasource and obsbox's own dashboards.
type Grafana struct{}

func init() { register(Grafana{}) }

func (Grafana) Port(inv *inventory.Inventory) int { return inv.Grafana.Port }

func (Grafana) Name() string { return catalog.Grafana }

func (Grafana) Runs(_ *inventory.Inventory, h *inventory.Host) bool {
	return h.HasRole(catalog.Grafana)
}

// adminPasswordFile holds the admin password for `grafana cli`, which reads it on stdin.
var adminPasswordFile = path.Join(catalog.ConfigDir(catalog.Grafana), "admin-password")

// grafanaLine is what obsbox renders differently per Grafana release line;
// grafanaRelease is the one place the version decides it. Every key obsbox
// writes (templates/grafana/grafana.ini.tmpl and the two provisioning files)
// was looked up in Grafana's documents only (no Grafana runs here; README
// "Grafana 11 to 13"): no 12 or 13 note found names one as removed or renamed
// (Angular's [security] angular_support_enabled, which obsbox never writes,
// went away). [plugins] preinstall_disabled only exists from 11.5 on;
// older releases ignore an unknown key, so every line gets the same file.
type grafanaLine struct{}

func grafanaRelease(version string) grafanaLine {
	_ = version // every line renders alike today (see above)
	return grafanaLine{}
}

// grafanaDatasources: every Prometheus and every VictoriaMetrics host is a
// datasource. The first of each keeps the plain name and uid (the
// dashboards use the first Prometheus's; a provisioned datasource must keep
// its name); the default is the first VictoriaMetrics when there is one,
// since it holds every replica's history, deduplicated.
func grafanaDatasources(inv *inventory.Inventory, proms []*inventory.Host, sec Security) []templates.GrafanaDatasource {
	vmHosts, vmURLs := victoriaMetricsURLs(inv, sec)
	var out []templates.GrafanaDatasource
	for i, h := range proms {
		d := templates.GrafanaDatasource{URL: sec.Origin(h.Address, inv.Prometheus.Port), IsDefault: i == 0 && len(vmHosts) == 0,
			PrometheusVersion: inv.Versions[catalog.Prometheus]}
		if i > 0 {
			d.Name, d.UID = templates.GrafanaDatasourceName+" "+h.Name, fmt.Sprintf("%s-%d", templates.GrafanaDatasourceUID, i+1)
		}
		out = append(out, d)
	}
	for i, h := range vmHosts {
		d := templates.GrafanaDatasource{Name: templates.GrafanaVictoriaMetricsName, UID: templates.GrafanaVictoriaMetricsUID,
			URL: vmURLs[i], IsDefault: i == 0, VictoriaMetrics: true}
		if i > 0 {
			d.Name, d.UID = templates.GrafanaVictoriaMetricsName+" "+h.Name, fmt.Sprintf("%s-%d", templates.GrafanaVictoriaMetricsUID, i+1)
		}
		out = append(out, d)
	}
	for i := range out {
		if sec.TLS {
			out[i].CACert = string(sec.CABundle)
		}
		if sec.BasicAuth {
			out[i].BasicAuthUser, out[i].BasicAuthPassword = catalog.WebUser, sec.Password.Value()
		}
	}
	return out
}

func (g Grafana) Spec(c *Context) (*Spec, error) {
	name := g.Name()
	user := catalog.UserName(name)
	inv := c.Inv
	gc := inv.Grafana
	_ = grafanaRelease(c.Version)
	password := c.GrafanaAdminPassword.Value()
	if !c.GrafanaSecretKey.IsSet() {
		// Grafana's built-in secret_key is public: never fall back to it.
		return nil, fmt.Errorf("no secret_key for Grafana (kept in %s beside the inventory)", inventory.GrafanaSecretKeyFile)
	}

	iniConf := templates.GrafanaINI{
		HTTPPort:      gc.Port,
		AdminUser:     gc.AdminUser,
		AdminPassword: password,
		SecretKey:     c.GrafanaSecretKey.Value(),
	}
	sec := c.Security
	var dirs []Dir
	var kp *KeyPair
	if sec.TLS {
		// Grafana reads its certificate at start only: a new one restarts it.
		iniConf.KeyPairFile = catalog.KeyPairPath(name)
		kp = &KeyPair{Path: catalog.KeyPairPath(name), Group: user, Cert: c.HostCert, Effect: EffectRestart}
		dirs = append(dirs, Dir{Path: path.Dir(catalog.KeyPairPath(name)), Mode: 0o750, Owner: "root", Group: user})
	}
	if sec.BasicAuth {
		iniConf.MetricsUser, iniConf.MetricsPassword = catalog.WebUser, sec.Password.Value()
	}
	ini, err := templates.RenderGrafanaINI(iniConf)
	if err != nil {
		return nil, fmt.Errorf("grafana.ini: %w", err)
	}
	proms := inv.HostsWithRole(catalog.Prometheus)
	if len(proms) == 0 {
		return nil, fmt.Errorf("no host has the prometheus role for Grafana's datasource")
	}
	// The scrape interval stays out of the datasource: a change to it would
	// restart Grafana, where Prometheus only reloads.
	ds, err := templates.RenderGrafanaDatasources(grafanaDatasources(inv, proms, sec))
	if err != nil {
		return nil, err
	}
	provider, err := templates.RenderGrafanaDashboardProvider(templates.GrafanaDashboardsDir)
	if err != nil {
		return nil, err
	}
	const mode = 0o640
	files := []File{
		{Path: templates.GrafanaINIPath, Content: ini, Mode: mode, Owner: "root", Group: user, Effect: EffectRestart,
			Secrets: &Secrets{Format: "ini", Keys: templates.GrafanaINISecretKeys, Values: iniConf.SecretValues()}},
		{Path: adminPasswordFile, Content: []byte(password + "\n"), Mode: 0o600, Owner: "root", Group: "root", Sensitive: true, Effect: EffectRestart, Hook: true},
		{Path: templates.GrafanaDatasourcePath, Content: ds, Mode: mode, Owner: "root", Group: user, Effect: EffectRestart,
			Secrets: &Secrets{Format: "yaml", Keys: templates.GrafanaDatasourceSecretKeys, Values: secretValues(sec.Password.Value())}},
		{Path: templates.GrafanaDashboardProviderPath, Content: provider, Mode: mode, Owner: "root", Group: user, Effect: EffectRestart},
	}
	dashboards := templates.GrafanaDashboards()
	if err := contributedDashboards(inv, dashboards); err != nil {
		return nil, err
	}
	for _, fname := range slices.Sorted(maps.Keys(dashboards)) {
		// Grafana rereads provisioned dashboards by itself.
		files = append(files, File{Path: path.Join(templates.GrafanaDashboardsDir, fname), Content: dashboards[fname], Mode: mode, Owner: "root", Group: user, Effect: EffectNone})
	}
	dirs = append(dirs, Dir{Path: templates.GrafanaDashboardsDir, Mode: 0o750, Owner: "root", Group: user},
		Dir{Path: templates.GrafanaProvisioningDir, Mode: 0o750, Owner: "root", Group: user})
	for _, sub := range templates.GrafanaProvisioningSubdirs {
		dirs = append(dirs, Dir{Path: path.Join(templates.GrafanaProvisioningDir, sub), Mode: 0o750, Owner: "root", Group: user})
	}

	unit, err := systemd.Render(name, systemd.Unit{
		Description:      "obsbox Grafana: dashboards",
		User:             user,
		Group:            user,
		ExecStart:        templates.GrafanaServerArgv(templates.GrafanaHomeDir),
		WorkingDirectory: catalog.DataDir(name),
		ReadWritePaths:   []string{catalog.DataDir(name)},
	})
	if err != nil {
		return nil, err
	}
	// grafana.ini's admin_password only counts when Grafana creates its
	// database; afterwards a changed password is set with grafana cli.
	reset, err := templates.GrafanaResetAdminPassword(templates.GrafanaHomeDir, password)
	if err != nil {
		return nil, fmt.Errorf("admin password: %w", err)
	}
	hook := fmt.Sprintf("if [ -f %s ]; then runuser -u %s -- %s < %s >/dev/null; fi",
		shell.Quote(templates.GrafanaDatabasePath), shell.Quote(reset.User), shell.Join(reset.Argv...), shell.Quote(adminPasswordFile))
	return &Spec{
		Component:     name,
		Version:       c.Version,
		Bundle:        c.Bundle,
		Binaries:      slices.Clone(catalog.Get(name).Binaries),
		Files:         files,
		Dirs:          dirs,
		KeyPair:       kp,
		Unit:          unit,
		Reload:        catalog.Get(name).Reload,
		BeforeRestart: hook,
		Health:        health(name, gc.Port),
	}, nil
}
