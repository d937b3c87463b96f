package inventory

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/duration"
)

// Default ports are the catalog's.
var (
	DefaultPrometheusPort     = catalog.DefaultPort(catalog.Prometheus, "web")
	DefaultAlertmanagerPort   = catalog.DefaultPort(catalog.Alertmanager, "web")
	DefaultAlertmanagerClPort = catalog.DefaultPort(catalog.Alertmanager, "cluster")
	DefaultGrafanaPort        = catalog.DefaultPort(catalog.Grafana, "web")
	DefaultNodeExporterPort   = catalog.DefaultPort(catalog.NodeExporter, "web")
)

// Every default of the inventory lives in this file.
const (
	DefaultSSHUser          = "root"
	DefaultSSHPort          = 22
	DefaultKnownHosts       = "~/.ssh/known_hosts"
	DefaultRetention        = "15d"
	DefaultScrapeInterval   = "15s"
	DefaultMetricsPath      = "/metrics"
	DefaultScheme           = "http"
	DefaultGrafanaAdminUser = "admin"
	// NullReceiver is the default receiver when the inventory defines none:
	// Alertmanager then accepts alerts and sends them nowhere.
	NullReceiver = "null"

	// DefaultVictoriaMetricsRetention: a year of history, the point of a long-term store.
	DefaultVictoriaMetricsRetention = "12M"
)

// DefaultBundlesDir is $XDG_CACHE_HOME/obsbox/bundles, or ~/.cache/obsbox/bundles.
func DefaultBundlesDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" || !filepath.IsAbs(base) { // the XDG spec says to ignore relative values
		base = expandHome("~/.cache")
	}
	return filepath.Join(base, "obsbox", "bundles")
}

// build turns decoded raw structs into the public types, every default applied.
// It tolerates a partially decoded file (validation reports what is missing).
func build(raw *rawFile, path, dir string, src []byte) *Inventory {
	inv := &Inventory{Path: path, Dir: dir, Source: src}
	inv.SSH = buildSSH(dir, raw.SSH)

	inv.Versions = map[string]string{}
	for _, c := range catalog.Names() {
		inv.Versions[c] = catalog.Get(c).Default
	}
	if raw.Versions != nil {
		for name, v := range raw.Versions.Values {
			if slices.Contains(catalog.Names(), name) {
				inv.Versions[name] = v
			}
		}
	}

	inv.Bundles = Bundles{Dir: DefaultBundlesDir()}
	if b := raw.Bundles; b != nil {
		if b.Dir != nil && *b.Dir != "" {
			inv.Bundles.Dir = resolvePath(dir, *b.Dir)
		}
		inv.Bundles.Mirror = deref(b.Mirror, "")
		inv.Bundles.Offline = deref(b.Offline, false)
	}

	for i := range raw.Hosts {
		rh := &raw.Hosts[i]
		h := &Host{
			Name:         rh.Name,
			Address:      rh.Address,
			Roles:        dedupe(rh.Roles),
			Labels:       copyMap(rh.Labels),
			NodeExporter: deref(rh.NodeExporter, true),
			SSH:          buildSSH(dir, raw.SSH, rh.SSH),
			DeclRange:    rh.DefRange,
		}
		inv.Hosts = append(inv.Hosts, h)
	}

	inv.Prometheus = buildPrometheus(dir, raw.Prometheus)
	inv.Alertmanager = buildAlertmanager(raw.Alertmanager)
	inv.Probes = buildProbes(raw.Probes, inv.Prometheus.ScrapeInterval)
	inv.Security = buildSecurity(dir, raw.Security)
	inv.SLOs = buildSLOs(raw.SLOs)

	inv.Grafana = Grafana{Port: DefaultGrafanaPort, AdminUser: DefaultGrafanaAdminUser}
	if g := raw.Grafana; g != nil {
		inv.Grafana.Port = deref(g.Port, DefaultGrafanaPort)
		inv.Grafana.AdminUser = deref(g.AdminUser, DefaultGrafanaAdminUser)
		inv.Grafana.AdminPassword = NewSecret(deref(g.AdminPassword, ""))
	}

	inv.VictoriaMetrics = VictoriaMetrics{Retention: DefaultVictoriaMetricsRetention}
	if vm := raw.VictoriaMetrics; vm != nil {
		inv.VictoriaMetrics.Retention = deref(vm.Retention, DefaultVictoriaMetricsRetention)
	}

	inv.NodeExporter = NodeExporter{Port: DefaultNodeExporterPort}
	if n := raw.NodeExporter; n != nil {
		inv.NodeExporter.Port = deref(n.Port, DefaultNodeExporterPort)
	}

	inv.Rules = Rules{Overrides: map[string]RuleOverride{}, RunbookBaseURL: DefaultRunbookBaseURL}
	if r := raw.Rules; r != nil {
		inv.Rules.Disable = dedupe(r.Disable)
		inv.Rules.RunbookBaseURL = deref(r.RunbookBaseURL, DefaultRunbookBaseURL)
		for _, rr := range r.Rule {
			inv.Rules.Overrides[rr.Name] = RuleOverride{
				For:       deref(rr.For, ""),
				Severity:  deref(rr.Severity, ""),
				Threshold: rr.Threshold,
			}
		}
	}
	return inv
}

// buildSSH applies the defaults, then each layer in order (global, then host):
// a layer overrides only the attributes it sets.
func buildSSH(dir string, layers ...*rawSSH) SSH {
	s := SSH{User: DefaultSSHUser, Port: DefaultSSHPort, KnownHosts: expandHome(DefaultKnownHosts)}
	for _, l := range layers {
		if l == nil {
			continue
		}
		if l.User != nil {
			s.User = *l.User
		}
		if l.Port != nil {
			s.Port = *l.Port
		}
		if l.PrivateKey != nil {
			s.PrivateKey = ""
			if *l.PrivateKey != "" {
				s.PrivateKey = resolvePath(dir, *l.PrivateKey)
			}
		}
		if l.KnownHosts != nil && *l.KnownHosts != "" {
			s.KnownHosts = resolvePath(dir, *l.KnownHosts)
		}
		if l.AcceptNewHostKeys != nil {
			s.AcceptNewHostKeys = *l.AcceptNewHostKeys
		}
		if l.Bastion != nil {
			s.Bastion = normalizeBastion(*l.Bastion)
		}
		if l.SudoPassword != nil {
			s.SudoPassword = NewSecret(*l.SudoPassword)
		}
		if l.ConnectTimeout != nil {
			if d, err := duration.Positive(*l.ConnectTimeout); err == nil {
				s.ConnectTimeout = d
			}
		}
	}
	return s
}

// normalizeBastion adds the default ssh port when none is given.
func normalizeBastion(b string) string {
	if b == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(b); err != nil {
		return net.JoinHostPort(b, "22")
	}
	return b
}

func buildPrometheus(dir string, r *rawPrometheus) Prometheus {
	p := Prometheus{Port: DefaultPrometheusPort, Retention: DefaultRetention, ScrapeInterval: DefaultScrapeInterval}
	if r == nil {
		p.EvaluationInterval = p.ScrapeInterval
		return p
	}
	p.Port = deref(r.Port, DefaultPrometheusPort)
	p.Retention = deref(r.Retention, DefaultRetention)
	p.ScrapeInterval = deref(r.ScrapeInterval, DefaultScrapeInterval)
	p.EvaluationInterval = deref(r.EvaluationInterval, p.ScrapeInterval)
	for _, j := range r.Scrape {
		p.Scrape = append(p.Scrape, ScrapeJob{
			Name:           j.Name,
			Targets:        slices.Clone(j.Targets),
			MetricsPath:    deref(j.MetricsPath, DefaultMetricsPath),
			Scheme:         deref(j.Scheme, DefaultScheme),
			ScrapeInterval: deref(j.ScrapeInterval, ""),
			Labels:         copyMap(j.Labels),
		})
	}
	p.RuleFiles = slices.Clone(r.RuleFiles)
	p.RuleFilePaths = globRuleFiles(dir, r.RuleFiles)
	for _, rw := range r.RemoteWrite {
		p.RemoteWrite = append(p.RemoteWrite, RemoteWrite{
			Name:        rw.Name,
			URL:         NewSecret(rw.URL),
			Username:    deref(rw.Username, ""),
			Password:    NewSecret(deref(rw.Password, "")),
			BearerToken: NewSecret(deref(rw.BearerToken, "")),
		})
	}
	return p
}

// globRuleFiles returns the files the patterns match, absolute, sorted, once each.
// Bad patterns are skipped here; validate reports them.
func globRuleFiles(dir string, patterns []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, pat := range patterns {
		matches, err := filepath.Glob(resolvePath(dir, pat))
		if err != nil {
			continue
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err != nil || fi.IsDir() {
				continue
			}
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out
}

func buildAlertmanager(r *rawAlertmanager) Alertmanager {
	a := Alertmanager{Port: DefaultAlertmanagerPort, ClusterPort: DefaultAlertmanagerClPort, DefaultReceiver: NullReceiver}
	if r == nil {
		return a
	}
	a.Port = deref(r.Port, DefaultAlertmanagerPort)
	a.ClusterPort = deref(r.ClusterPort, DefaultAlertmanagerClPort)
	for _, rr := range r.Receivers {
		rc := Receiver{Name: rr.Name}
		if w := rr.Webhook; w != nil {
			rc.Webhook = &Webhook{URL: NewSecret(w.URL), SendResolved: deref(w.SendResolved, true)}
		}
		if s := rr.Slack; s != nil {
			rc.Slack = &Slack{APIURL: NewSecret(s.APIURL), Channel: deref(s.Channel, ""), SendResolved: deref(s.SendResolved, true)}
		}
		if p := rr.PagerDuty; p != nil {
			rc.PagerDuty = &PagerDuty{RoutingKey: NewSecret(p.RoutingKey), SendResolved: deref(p.SendResolved, true)}
		}
		if e := rr.Email; e != nil {
			rc.Email = &Email{
				To:           e.To,
				From:         e.From,
				Smarthost:    e.Smarthost,
				AuthUsername: deref(e.AuthUsername, ""),
				AuthPassword: NewSecret(deref(e.AuthPassword, "")),
				RequireTLS:   deref(e.RequireTLS, true),
				SendResolved: deref(e.SendResolved, false),
			}
		}
		a.Receivers = append(a.Receivers, rc)
	}
	for _, rt := range r.Routes {
		a.Routes = append(a.Routes, Route{Severity: rt.Severity, Receiver: rt.Receiver, Continue: deref(rt.Continue, false)})
	}
	switch {
	case r.DefaultReceiver != nil:
		a.DefaultReceiver = *r.DefaultReceiver
	case len(a.Receivers) > 0:
		a.DefaultReceiver = a.Receivers[0].Name
	}
	a.WatchdogReceiver = deref(r.WatchdogReceiver, "")
	a.WatchdogInterval = deref(r.WatchdogInterval, DefaultWatchdogInterval)
	return a
}

// DefaultWatchdogInterval is how often Watchdog reaches its receiver.
const DefaultWatchdogInterval = "5m"

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// dedupe keeps the first of each value, in order.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
