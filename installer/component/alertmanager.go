package component

import (
	"fmt"
	"path"
	"slices"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
	"github.com/obsbox/obsbox/templates"
)

// Alertmanager runs on hosts with the alertmanager role; several form a cluster.
type Alertmanager struct{}

func init() { register(Alertmanager{}) }

func (Alertmanager) Port(inv *inventory.Inventory) int { return inv.Alertmanager.Port }

func (Alertmanager) Name() string { return catalog.Alertmanager }

func (Alertmanager) Runs(_ *inventory.Inventory, h *inventory.Host) bool {
	return h.HasRole(catalog.Alertmanager)
}

// AlertRules: AlertmanagerClusterDegraded, once there is a cluster.
func (Alertmanager) AlertRules(inv *inventory.Inventory) templates.RuleGroup {
	if len(inv.HostsWithRole(catalog.Alertmanager)) < 2 {
		return templates.RuleGroup{}
	}
	return templates.AlertmanagerClusterRules()
}

// alertmanagerFlags is the unit's command line, and the one place the
// version would decide Alertmanager's rendering: 0.25 to 0.35 take the same
// flags and alertmanager.yml (checked against each line's --help and
// amtool check-config, installer/component lines_test.go). Matchers are
// written double-quoted, which both the classic parser (0.25, 0.26) and
// the UTF-8 one (0.27+) read alike; obsbox uses no api_version, v1 API or
// match/match_re form that later lines removed or deprecated, and passes
// no --enable-feature (0.33 removed auto-gomaxprocs).
func alertmanagerFlags(_ string, inv *inventory.Inventory, h *inventory.Host) []string {
	name := catalog.Alertmanager
	ac := inv.Alertmanager
	args := []string{
		path.Join(binDir(name), "alertmanager"),
		"--config.file=" + path.Join(catalog.ConfigDir(name), "alertmanager.yml"),
		"--storage.path=" + catalog.DataDir(name),
		fmt.Sprintf("--web.listen-address=:%d", ac.Port),
	}
	// Alertmanagers on several hosts gossip silences and notifications;
	// a lone one keeps its cluster port closed.
	peers := inv.HostsWithRole(catalog.Alertmanager)
	if len(peers) > 1 {
		args = append(args, fmt.Sprintf("--cluster.listen-address=%s", hostPort(h.Address, ac.ClusterPort)),
			"--cluster.advertise-address="+hostPort(h.Address, ac.ClusterPort))
		for _, p := range peers {
			if p.Name != h.Name {
				args = append(args, "--cluster.peer="+hostPort(p.Address, ac.ClusterPort))
			}
		}
	} else {
		args = append(args, "--cluster.listen-address=")
	}
	return args
}

func (a Alertmanager) Spec(c *Context) (*Spec, error) {
	name := a.Name()
	user := catalog.UserName(name)
	ac := c.Inv.Alertmanager
	cfgDir := catalog.ConfigDir(name)

	conf := templates.AlertmanagerConfig{DefaultReceiver: ac.DefaultReceiver,
		WatchdogReceiver: ac.WatchdogReceiver, WatchdogInterval: ac.WatchdogInterval}
	for _, r := range ac.Receivers {
		tr := templates.AlertmanagerReceiver{Name: r.Name}
		switch {
		case r.Webhook != nil:
			tr.Webhook = &templates.AlertmanagerWebhook{URL: r.Webhook.URL.Value(), SendResolved: r.Webhook.SendResolved}
		case r.Slack != nil:
			tr.Slack = &templates.AlertmanagerSlack{APIURL: r.Slack.APIURL.Value(), Channel: r.Slack.Channel, SendResolved: r.Slack.SendResolved}
		case r.PagerDuty != nil:
			tr.PagerDuty = &templates.AlertmanagerPagerDuty{RoutingKey: r.PagerDuty.RoutingKey.Value(), SendResolved: r.PagerDuty.SendResolved}
		case r.Email != nil:
			e := r.Email
			tr.Email = &templates.AlertmanagerEmail{To: e.To, From: e.From, Smarthost: e.Smarthost, AuthUsername: e.AuthUsername, AuthPassword: e.AuthPassword.Value(), RequireTLS: e.RequireTLS, SendResolved: e.SendResolved}
		}
		conf.Receivers = append(conf.Receivers, tr)
	}
	for _, r := range ac.Routes {
		conf.Routes = append(conf.Routes, templates.AlertmanagerRoute{Severity: r.Severity, Receiver: r.Receiver, Continue: r.Continue})
	}
	yml, err := templates.RenderAlertmanagerConfig(conf)
	if err != nil {
		return nil, err
	}

	files, dirs, kp, webFlags, checks, err := c.webEndpoint(name)
	if err != nil {
		return nil, err
	}
	args := append(alertmanagerFlags(c.Version, c.Inv, c.Host), webFlags...)
	// Gossip between several Alertmanagers is mutual TLS with the obsbox CA.
	// It reads its CA at start: a new CA bundle restarts the member.
	if c.Security.TLS && len(c.Inv.HostsWithRole(catalog.Alertmanager)) > 1 {
		ctls, err := templates.RenderClusterTLSConfig(catalog.KeyPairPath(name), catalog.CABundlePath(name))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: path.Join(cfgDir, templates.ClusterTLSFile), Content: ctls, Mode: 0o640, Owner: "root", Group: user, Effect: EffectRestart})
		files = append(files, c.caBundleFile(name, EffectRestart)...)
		args = append(args, "--cluster.tls-config="+path.Join(cfgDir, templates.ClusterTLSFile))
	}
	unit, err := systemd.Render(name, systemd.Unit{
		Description:      "obsbox Alertmanager: alert routing and notifications",
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
		Files: append([]File{{Path: path.Join(cfgDir, "alertmanager.yml"), Content: yml, Mode: 0o640, Owner: "root", Group: user,
			Secrets: &Secrets{Format: "yaml", Keys: templates.AlertmanagerSecretKeys, Values: conf.SecretValues()}, Effect: EffectReload}}, files...),
		Dirs:    dirs,
		KeyPair: kp,
		Checks:  checks,
		Unit:    unit,
		Reload:  catalog.Get(name).Reload,
		Check:   &Check{Tool: "amtool", Args: []string{"check-config", "alertmanager.yml"}},
		Health:  health(name, ac.Port),
	}, nil
}
