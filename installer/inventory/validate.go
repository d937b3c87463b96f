package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/duration"
	"github.com/zclconf/go-cty/cty"
)

// validator collects every problem of one inventory; nothing stops at the first.
type validator struct {
	filename string
	dir      string
	prior    hcl.Diagnostics // decoding errors, to skip checks that would only repeat them
	diags    hcl.Diagnostics
}

func (v *validator) add(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, detail string, args ...any) {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	if !strings.HasSuffix(detail, ".") && !strings.HasSuffix(detail, "?") {
		detail += "." // like HCL's own details
	}
	if !isSet(rng) {
		rng = v.fileStart()
	}
	v.diags = append(v.diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &rng})
}

func (v *validator) errorf(rng hcl.Range, summary, detail string, args ...any) {
	v.add(hcl.DiagError, rng, summary, detail, args...)
}

func (v *validator) warnf(rng hcl.Range, summary, detail string, args ...any) {
	v.add(hcl.DiagWarning, rng, summary, detail, args...)
}

func (v *validator) fileStart() hcl.Range {
	return hcl.Range{Filename: v.filename, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// failedIn reports whether decoding already reported an error inside rng.
func (v *validator) failedIn(rng hcl.Range) bool {
	if !isSet(rng) {
		return false
	}
	for _, d := range v.prior {
		if d.Severity == hcl.DiagError && d.Subject != nil && rng.Overlaps(*d.Subject) {
			return true
		}
	}
	return false
}

func isSet(r hcl.Range) bool { return r.Filename != "" }

// pick returns the first range that is set.
func pick(ranges ...hcl.Range) hcl.Range {
	for _, r := range ranges {
		if isSet(r) {
			return r
		}
	}
	return hcl.Range{}
}

// rel names path relative to the inventory's folder when it is inside it.
func (v *validator) rel(path string) string {
	if r, err := filepath.Rel(v.dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// at names where r is, as file:line:col.
func (v *validator) at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func (v *validator) check(raw *rawFile, inv *Inventory) {
	v.versions(raw.Versions)
	v.ssh(raw.SSH, "ssh")
	v.bundles(raw.Bundles)
	v.hosts(raw.Hosts)
	v.prometheus(raw.Prometheus)
	v.alertmanager(raw.Alertmanager, inv)
	if g := raw.Grafana; g != nil {
		v.port(g.Port, g.PortRange, "grafana port")
		if g.AdminUser != nil && strings.TrimSpace(*g.AdminUser) == "" {
			v.errorf(g.AdminUserRange, "Empty Grafana admin user", "grafana.admin_user is empty; leave it out for the default %q", DefaultGrafanaAdminUser)
		}
	}
	if n := raw.NodeExporter; n != nil {
		v.port(n.Port, n.PortRange, "node_exporter port")
	}
	v.rules(raw.Rules)
	v.probes(raw.Probes)
	v.security(raw.Security)
	v.slos(raw.SLOs, raw.Probes)
	v.victoriaMetrics(raw.VictoriaMetrics, inv)
	v.portConflicts(raw, inv)
}

// duplicateKeys reports a key written twice in one map ({ team = "a", team = "b" }),
// which HCL accepts silently, keeping the last.
func (v *validator) duplicateKeys(body hcl.Body) {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
		o, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		first := map[string]hcl.Range{}
		for _, item := range o.Items {
			k, diags := item.KeyExpr.Value(nil)
			if diags.HasErrors() || !k.IsKnown() || k.IsNull() || !k.Type().Equals(cty.String) {
				continue // not a literal key: nothing to compare before evaluation
			}
			key, rng := k.AsString(), item.KeyExpr.Range()
			if at, dup := first[key]; dup {
				v.errorf(rng, "Duplicate key", "the key %q is already set at %s; a map holds each key once, so remove one of them", key, v.at(at))
				continue
			}
			first[key] = rng
		}
		return nil
	})
}

func (v *validator) versions(rv *rawVersions) {
	if rv == nil {
		return
	}
	names := make([]string, 0, len(rv.Attrs))
	for name := range rv.Attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(catalog.Names(), name) {
			v.errorf(rv.NameRanges[name], "Unknown component in versions",
				"%q is not a component obsbox installs.%s Components: %s.", name, suggest(name, catalog.Names()), quoteList(catalog.Names()))
			continue
		}
		ver, ok := rv.Values[name]
		if !ok {
			continue
		}
		if !bundles.ValidVersion(ver) {
			hint := ""
			if strings.HasPrefix(ver, "v") && bundles.ValidVersion(ver[1:]) {
				hint = ` Drop the leading "v".`
			}
			v.errorf(rv.Ranges[name], "Invalid version",
				"%s version %q is not of the form MAJOR.MINOR.PATCH with an optional -prerelease (for example %q).%s", name, ver, catalog.Get(name).Default, hint)
		}
	}
}

func (v *validator) ssh(s *rawSSH, where string) {
	if s == nil {
		return
	}
	v.port(s.Port, s.PortRange, where+" port")
	if s.User != nil && strings.TrimSpace(*s.User) == "" {
		v.errorf(s.UserRange, "Empty ssh user", "%s.user is empty; leave it out for the default %q", where, DefaultSSHUser)
	}
	if s.PrivateKey != nil && *s.PrivateKey != "" {
		p := resolvePath(v.dir, *s.PrivateKey)
		if fi, err := os.Stat(p); err != nil {
			v.errorf(s.PrivateKeyRange, "Private key file not found", "%s.private_key %q (%s): %v", where, *s.PrivateKey, p, unwrapPathError(err))
		} else if fi.IsDir() {
			v.errorf(s.PrivateKeyRange, "Private key is a folder", "%s.private_key %q (%s) is a folder, not a key file", where, *s.PrivateKey, p)
		} else if f, err := os.Open(p); err != nil {
			v.errorf(s.PrivateKeyRange, "Private key file unreadable", "%s.private_key %q (%s): %v", where, *s.PrivateKey, p, unwrapPathError(err))
		} else {
			f.Close()
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				// As ssh does ("UNPROTECTED PRIVATE KEY FILE"), and as the transport does.
				v.errorf(s.PrivateKeyRange, "Unprotected private key file",
					"%s.private_key %q (%s) has permissions %04o: group or others may read it, and ssh refuses such a key. Run chmod 600 %s",
					where, *s.PrivateKey, p, perm, p)
			}
		}
	}
	if s.ConnectTimeout != nil {
		if _, err := duration.Positive(*s.ConnectTimeout); err != nil {
			v.errorf(s.ConnectTimeoutRange, "Invalid connect_timeout", "%s.connect_timeout: %v", where, err)
		}
	}
	if s.Bastion != nil && *s.Bastion != "" {
		b := *s.Bastion
		switch {
		case strings.Contains(b, "@"):
			v.errorf(s.BastionRange, "Invalid bastion", "%s.bastion %q must be host or host:port; the bastion is reached as ssh.user", where, b)
		case !validHostPort(normalizeBastion(b)):
			v.errorf(s.BastionRange, "Invalid bastion", "%s.bastion %q must be host or host:port with a port in 1-65535", where, b)
		}
	}
}

func (v *validator) bundles(b *rawBundles) {
	if b == nil || b.Mirror == nil || *b.Mirror == "" {
		return
	}
	if _, err := bundles.CheckMirror(*b.Mirror); err != nil {
		v.errorf(b.MirrorRange, "Invalid bundles mirror", "%v", err)
	}
}

func (v *validator) port(p *int, rng hcl.Range, what string) {
	if p != nil && (*p < 1 || *p > 65535) {
		v.errorf(rng, "Port out of range", "%s is %d; a port is a number from 1 to 65535", what, *p)
	}
}

// duration checks a Prometheus duration; zero is allowed only where it means something.
func (v *validator) duration(s *string, rng hcl.Range, what string, allowZero bool) {
	if s == nil {
		return
	}
	d, err := duration.Parse(*s)
	switch {
	case err != nil:
		v.errorf(rng, "Invalid duration", "%s: %v", what, err)
	case d == 0 && !allowZero:
		v.errorf(rng, "Invalid duration", "%s must be longer than zero", what)
	}
}

func (v *validator) labels(labels map[string]string, body hcl.Body, rng hcl.Range, what string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if p := labelProblem(k); p != "" {
			summary := "Invalid label name"
			if labelNameRe.MatchString(k) {
				summary = "Reserved label name"
			}
			v.errorf(keyRange(body, "labels", k, rng), summary, "%s: %s", what, p)
		}
	}
}

func (v *validator) hosts(hosts []rawHost) {
	names := map[string]hcl.Range{}
	addrs := map[string]*rawHost{}
	hasPrometheus := false
	rolesFailed := false
	for i := range hosts {
		h := &hosts[i]
		if !ValidHostName(h.Name) {
			v.errorf(h.NameRange, "Invalid host name",
				"host name %q must look like a DNS label: lowercase letters, digits and hyphens, 1 to 63 characters, starting and ending with a letter or digit", h.Name)
		}
		if first, ok := names[h.Name]; ok {
			v.errorf(h.NameRange, "Duplicate host name", "host %q is already defined at %s", h.Name, v.at(first))
		} else {
			names[h.Name] = h.NameRange
		}

		if isSet(h.AddressRange) && !v.failedIn(h.AddressRange) {
			switch addr := h.Address; {
			case strings.TrimSpace(addr) == "":
				v.errorf(h.AddressRange, "Empty address", "host %q has an empty address", h.Name)
			case strings.ContainsAny(addr, " \t\n/@"):
				v.errorf(h.AddressRange, "Invalid address", "host %q: address %q must be an IP address or a host name (the ssh user and port go in its ssh block)", h.Name, addr)
			default:
				if first, ok := addrs[addr]; ok {
					v.errorf(h.AddressRange, "Duplicate address", "host %q has address %q, like host %q at %s; each host needs its own address", h.Name, addr, first.Name, v.at(first.AddressRange))
				} else {
					addrs[addr] = h
				}
			}
		}

		if v.failedIn(h.RolesRange) {
			rolesFailed = true
		}
		for j, role := range h.Roles {
			if slices.Contains(catalog.Roles(), role) {
				hasPrometheus = hasPrometheus || role == catalog.Prometheus
				continue
			}
			detail := fmt.Sprintf("host %q: %q is not a role.", h.Name, role)
			if role == catalog.NodeExporter || role == "node-exporter" {
				detail += " node_exporter runs on every host unless the host sets node_exporter = false;"
			} else {
				detail += suggest(role, catalog.Roles())
			}
			v.errorf(elemRange(h.Body, "roles", j, h.RolesRange), "Unknown role", "%s Roles: %s.", detail, quoteList(catalog.Roles()))
		}
		v.labels(h.Labels, h.Body, h.LabelsRange, fmt.Sprintf("host %q", h.Name))
		v.ssh(h.SSH, fmt.Sprintf("host %q ssh", h.Name))
	}

	if !hasPrometheus && !rolesFailed {
		var rng hcl.Range
		if len(hosts) > 0 {
			rng = pick(hosts[0].RolesRange, hosts[0].DefRange)
		}
		v.errorf(rng, "No Prometheus host", `no host has the "prometheus" role; add it to one host, for example roles = ["prometheus", "alertmanager", "grafana"]`)
	}
}

func (v *validator) prometheus(p *rawPrometheus) {
	if p == nil {
		return
	}
	v.port(p.Port, p.PortRange, "prometheus port")
	v.duration(p.Retention, p.RetentionRange, "prometheus retention", false)
	v.duration(p.ScrapeInterval, p.ScrapeIntRange, "prometheus scrape_interval", false)
	v.duration(p.EvaluationInterval, p.EvalIntRange, "prometheus evaluation_interval", false)

	jobs := map[string]hcl.Range{}
	for i := range p.Scrape {
		j := &p.Scrape[i]
		what := fmt.Sprintf("scrape %q", j.Name)
		if first, ok := jobs[j.Name]; ok {
			v.errorf(j.NameRange, "Duplicate scrape job", "scrape job %q is already defined at %s", j.Name, v.at(first))
		} else {
			jobs[j.Name] = j.NameRange
		}
		if slices.Contains(BuiltinJobNames, j.Name) {
			v.errorf(j.NameRange, "Reserved scrape job name", "obsbox defines the job %q itself; choose another name. Reserved: %s.", j.Name, quoteList(BuiltinJobNames))
		} else if strings.TrimSpace(j.Name) == "" {
			v.errorf(j.NameRange, "Empty scrape job name", "a scrape job needs a name")
		}
		if isSet(j.TargetsRange) && !v.failedIn(j.TargetsRange) && len(j.Targets) == 0 {
			v.errorf(j.TargetsRange, "No scrape targets", "%s: targets is empty", what)
		}
		for k, t := range j.Targets {
			if !validHostPort(t) {
				v.errorf(elemRange(j.Body, "targets", k, j.TargetsRange), "Invalid scrape target", "%s: target %q must be host:port", what, t)
			}
		}
		if j.Scheme != nil && *j.Scheme != "http" && *j.Scheme != "https" {
			v.errorf(j.SchemeRange, "Invalid scheme", `%s: scheme %q must be "http" or "https"`, what, *j.Scheme)
		}
		if j.MetricsPath != nil && !strings.HasPrefix(*j.MetricsPath, "/") {
			v.errorf(j.MetricsPathRange, "Invalid metrics path", `%s: metrics_path %q must start with "/"`, what, *j.MetricsPath)
		}
		v.duration(j.ScrapeInterval, j.ScrapeIntervalRange, what+" scrape_interval", false)
		v.labels(j.Labels, j.Body, j.LabelsRange, what)
	}

	for i, pat := range p.RuleFiles {
		rng := elemRange(p.Body, "rule_files", i, p.RuleFilesRange)
		matches, err := filepath.Glob(resolvePath(v.dir, pat))
		switch {
		case err != nil:
			v.errorf(rng, "Invalid rule_files pattern", "%q is not a valid pattern: %v", pat, err)
		case len(matches) == 0:
			v.warnf(rng, "rule_files pattern matches nothing", "%q matches no file (relative paths start at the inventory's folder); no rules are loaded from it", pat)
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err != nil || fi.IsDir() {
				continue // globRuleFiles skips these too: they never reach a host
			}
			if prob := HostFileNameProblem(filepath.Base(m)); prob != "" {
				v.errorf(rng, "Unsafe rule file name", "rule_files %q matches %s, whose name %s. Rename the file", pat, strconv.Quote(v.rel(m)), prob)
			}
		}
	}

	names := map[string]hcl.Range{}
	for _, rw := range p.RemoteWrite {
		if first, ok := names[rw.Name]; ok {
			v.errorf(rw.NameRange, "Duplicate remote_write", "remote_write %q is already defined at %s", rw.Name, v.at(first))
		} else {
			names[rw.Name] = rw.NameRange
		}
		if strings.HasPrefix(rw.Name, ReservedRemoteWritePrefix) {
			v.errorf(rw.NameRange, "Reserved remote_write name", "remote_write %q: names starting with %q are obsbox's own queues to the VictoriaMetrics hosts; choose another name", rw.Name, ReservedRemoteWritePrefix)
		}
		if isSet(rw.URLRange) && !v.failedIn(rw.URLRange) {
			if prob := httpURLProblem(rw.URL); prob != "" {
				v.errorf(rw.URLRange, "Invalid remote_write URL", "remote_write %q: the url is not usable: %s", rw.Name, prob)
			}
		}
		hasPassword := rw.Password != nil && *rw.Password != ""
		if hasPassword && (rw.Username == nil || *rw.Username == "") {
			v.errorf(rw.PasswordRange, "Password without username", "remote_write %q: basic auth needs username as well as password", rw.Name)
		}
		if hasPassword && rw.BearerToken != nil && *rw.BearerToken != "" {
			v.errorf(rw.BearerTokenRange, "Two kinds of authentication", "remote_write %q: set either username/password or bearer_token, not both", rw.Name)
		}
	}
}

func (v *validator) alertmanager(a *rawAlertmanager, inv *Inventory) {
	if a == nil {
		return
	}
	v.port(a.Port, a.PortRange, "alertmanager port")
	v.port(a.ClusterPort, a.ClusterPortRange, "alertmanager cluster_port")

	names := map[string]hcl.Range{}
	var receivers []string
	for i := range a.Receivers {
		r := &a.Receivers[i]
		receivers = append(receivers, r.Name)
		if first, ok := names[r.Name]; ok {
			v.errorf(r.NameRange, "Duplicate receiver", "receiver %q is already defined at %s", r.Name, v.at(first))
		} else {
			names[r.Name] = r.NameRange
		}
		if r.Name == NullReceiver {
			v.errorf(r.NameRange, "Reserved receiver name", "%q is the built-in receiver that drops alerts; choose another name", NullReceiver)
		}
		var kinds []string
		if r.Webhook != nil {
			kinds = append(kinds, "webhook")
			if isSet(r.Webhook.URLRange) && !v.failedIn(r.Webhook.URLRange) {
				if prob := httpURLProblem(r.Webhook.URL); prob != "" {
					v.errorf(r.Webhook.URLRange, "Invalid webhook URL", "receiver %q: the webhook url is not usable: %s", r.Name, prob)
				}
			}
		}
		if r.Slack != nil {
			kinds = append(kinds, "slack")
			if isSet(r.Slack.APIURLRange) && !v.failedIn(r.Slack.APIURLRange) {
				if prob := httpURLProblem(r.Slack.APIURL); prob != "" {
					v.errorf(r.Slack.APIURLRange, "Invalid Slack api_url", "receiver %q: the slack api_url is not usable: %s", r.Name, prob)
				}
			}
		}
		if r.PagerDuty != nil {
			kinds = append(kinds, "pagerduty")
			if isSet(r.PagerDuty.RoutingKeyRange) && !v.failedIn(r.PagerDuty.RoutingKeyRange) && strings.TrimSpace(r.PagerDuty.RoutingKey) == "" {
				v.errorf(r.PagerDuty.RoutingKeyRange, "Empty PagerDuty routing key", "receiver %q: routing_key is empty", r.Name)
			}
		}
		if e := r.Email; e != nil {
			kinds = append(kinds, "email")
			if isSet(e.ToRange) && !strings.Contains(e.To, "@") {
				v.errorf(e.ToRange, "Invalid email address", "receiver %q: to %q is not an email address", r.Name, e.To)
			}
			if isSet(e.FromRange) && !strings.Contains(e.From, "@") {
				v.errorf(e.FromRange, "Invalid email address", "receiver %q: from %q is not an email address", r.Name, e.From)
			}
			if isSet(e.SmarthostRange) && !validHostPort(e.Smarthost) {
				v.errorf(e.SmarthostRange, "Invalid smarthost", "receiver %q: smarthost %q must be host:port, for example \"smtp.example.com:587\"", r.Name, e.Smarthost)
			}
		}
		switch len(kinds) {
		case 0:
			v.errorf(r.DefRange, "Receiver has no kind", "receiver %q needs exactly one of the blocks webhook, slack, pagerduty or email", r.Name)
		case 1:
		default:
			v.errorf(r.DefRange, "Receiver has several kinds", "receiver %q has %s; a receiver has exactly one kind, so give each its own receiver and route", r.Name, strings.Join(kinds, " and "))
		}
	}

	known := append(slices.Clone(receivers), NullReceiver)
	for _, rt := range a.Routes {
		if isSet(rt.SeverityRange) && !slices.Contains(Severities, rt.Severity) {
			v.errorf(rt.SeverityRange, "Invalid severity", "route severity %q must be one of %s.%s", rt.Severity, quoteList(Severities), suggest(rt.Severity, Severities))
		}
		if isSet(rt.ReceiverRange) && !slices.Contains(known, rt.Receiver) {
			v.errorf(rt.ReceiverRange, "Unknown receiver", "route names receiver %q, which is not defined.%s%s", rt.Receiver, suggest(rt.Receiver, receivers), receiverList(receivers))
		}
	}
	if a.DefaultReceiver != nil && !slices.Contains(known, *a.DefaultReceiver) {
		v.errorf(a.DefaultReceiverRange, "Unknown receiver", "default_receiver names %q, which is not defined.%s%s", *a.DefaultReceiver, suggest(*a.DefaultReceiver, receivers), receiverList(receivers))
	}
	if a.WatchdogReceiver != nil && !slices.Contains(receivers, *a.WatchdogReceiver) {
		v.errorf(a.WatchdogReceiverRange, "Unknown receiver", "watchdog_receiver names %q, which is not defined.%s%s", *a.WatchdogReceiver, suggest(*a.WatchdogReceiver, receivers), receiverList(receivers))
	}
	if a.WatchdogInterval != nil {
		if _, err := duration.Positive(*a.WatchdogInterval); err != nil {
			v.errorf(a.WatchdogIntervalRange, "Invalid watchdog_interval", "watchdog_interval: %v", err)
		}
	}
	if len(a.Receivers) > 0 && len(inv.HostsWithRole(catalog.Alertmanager)) == 0 && len(inv.Hosts) > 0 {
		v.warnf(a.DefRange, "No Alertmanager host", `receivers are configured but no host has the "alertmanager" role, so no alert is sent`)
	}
}

func receiverList(names []string) string {
	if len(names) == 0 {
		return " No receiver is defined."
	}
	return " Receivers: " + quoteList(names) + "."
}

func (v *validator) rules(r *rawRules) {
	if r == nil {
		return
	}
	known := KnownRules()
	for i, name := range r.Disable {
		if !slices.Contains(known, name) {
			v.errorf(elemRange(r.Body, "disable", i, r.DisableRange), "Unknown rule", "rules.disable names %q, which is not a built-in rule.%s", name, suggest(name, known))
		}
	}
	seen := map[string]hcl.Range{}
	for _, rr := range r.Rule {
		if !slices.Contains(known, rr.Name) {
			v.errorf(rr.NameRange, "Unknown rule", "rule %q is not a built-in rule.%s Built-in rules: %s.", rr.Name, suggest(rr.Name, known), strings.Join(known, ", "))
		}
		if first, ok := seen[rr.Name]; ok {
			v.errorf(rr.NameRange, "Duplicate rule block", "rule %q is already tuned at %s", rr.Name, v.at(first))
		} else {
			seen[rr.Name] = rr.NameRange
		}
		if slices.Contains(r.Disable, rr.Name) {
			v.warnf(rr.NameRange, "Rule is disabled", "rule %q is in rules.disable, so this block has no effect", rr.Name)
		}
		v.duration(rr.For, rr.ForRange, fmt.Sprintf("rule %q for", rr.Name), true)
		if rr.Severity != nil && !slices.Contains(Severities, *rr.Severity) {
			v.errorf(rr.SeverityRange, "Invalid severity", "rule %q: severity %q must be one of %s.%s", rr.Name, *rr.Severity, quoteList(Severities), suggest(*rr.Severity, Severities))
		}
	}
	if r.RunbookBaseURL != nil {
		if prob := httpURLProblem(*r.RunbookBaseURL); prob != "" {
			v.errorf(r.RunbookBaseURLRange, "Invalid runbook_base_url", "rules.runbook_base_url %q is not usable: %s", *r.RunbookBaseURL, prob)
		}
	}
}

// portConflicts finds two services that would listen on one port of one host.
// Each clash is reported once, at the port attribute that caused it.
func (v *validator) portConflicts(raw *rawFile, inv *Inventory) {
	type listener struct {
		what  string
		port  int
		rng   hcl.Range
		scope catalog.Scope // ScopeAll unless the catalog says otherwise
	}
	// The components above have a port setting in the inventory; any other
	// listens on its catalog defaults wherever it runs.
	configured := []string{catalog.NodeExporter, catalog.Prometheus, catalog.Alertmanager, catalog.Grafana}
	var promR, amR, amClR, grR, neR hcl.Range
	if raw.Prometheus != nil {
		promR = raw.Prometheus.PortRange
	}
	if raw.Alertmanager != nil {
		amR, amClR = raw.Alertmanager.PortRange, raw.Alertmanager.ClusterPortRange
	}
	if raw.Grafana != nil {
		grR = raw.Grafana.PortRange
	}
	if raw.NodeExporter != nil {
		neR = raw.NodeExporter.PortRange
	}
	var globalSSHR hcl.Range
	if raw.SSH != nil {
		globalSSHR = raw.SSH.PortRange
	}
	reported := map[string]bool{}
	for i, h := range inv.Hosts {
		sshR := globalSSHR
		if i < len(raw.Hosts) && raw.Hosts[i].SSH != nil && isSet(raw.Hosts[i].SSH.PortRange) {
			sshR = raw.Hosts[i].SSH.PortRange
		}
		ls := []listener{{"sshd", h.SSH.Port, sshR, catalog.ScopeAll}}
		if h.NodeExporter {
			ls = append(ls, listener{catalog.NodeExporter, inv.NodeExporter.Port, neR, catalog.ScopeAll})
		}
		if h.HasRole(catalog.Prometheus) {
			ls = append(ls, listener{catalog.Prometheus, inv.Prometheus.Port, promR, catalog.ScopeAll})
		}
		if h.HasRole(catalog.Alertmanager) {
			// The cluster port stays ScopeAll here: it has always clashed with every other listener.
			ls = append(ls, listener{catalog.Alertmanager, inv.Alertmanager.Port, amR, catalog.ScopeAll},
				listener{catalog.Alertmanager + " cluster", inv.Alertmanager.ClusterPort, amClR, catalog.ScopeAll})
		}
		if h.HasRole(catalog.Grafana) {
			ls = append(ls, listener{catalog.Grafana, inv.Grafana.Port, grR, catalog.ScopeAll})
		}
		for _, c := range catalog.All() {
			if slices.Contains(configured, c.Name) || !inv.Places(c, h) {
				continue
			}
			for _, p := range c.Ports {
				ls = append(ls, listener{c.Name + " " + p.Name, p.Default, hcl.Range{}, p.Scope})
			}
		}
		for a := 0; a < len(ls); a++ {
			for b := a + 1; b < len(ls); b++ {
				if ls[a].port != ls[b].port || ls[a].port < 1 || ls[a].port > 65535 {
					continue
				}
				// 127.0.0.1 and the host's own address are different sockets.
				if sa, sb := ls[a].scope, ls[b].scope; sa != sb && sa != catalog.ScopeAll && sb != catalog.ScopeAll {
					continue
				}
				key := ls[a].what + "|" + ls[b].what + "|" + fmt.Sprint(ls[a].port)
				if reported[key] {
					continue
				}
				reported[key] = true
				v.errorf(pick(ls[b].rng, ls[a].rng, h.DeclRange), "Port conflict",
					"%s and %s would both listen on port %d on host %q", ls[a].what, ls[b].what, ls[a].port, h.Name)
			}
		}
	}
}

// BuiltinJobNames are the scrape jobs obsbox writes itself; extra scrape blocks may not reuse them.
var BuiltinJobNames = []string{"prometheus", "alertmanager", "grafana", "node", "victoriametrics"}

// victoriaMetrics checks the victoriametrics block: a retention
// VictoriaMetrics accepts, and a host that the block is for.
func (v *validator) victoriaMetrics(vm *rawVictoriaMetrics, inv *Inventory) {
	if vm == nil {
		return
	}
	if vm.Retention != nil && !v.failedIn(vm.RetentionRange) {
		if _, err := VictoriaMetricsRetentionFlag(*vm.Retention); err != nil {
			v.errorf(vm.RetentionRange, "Invalid retention", "victoriametrics retention %q: %v", *vm.Retention, err)
		}
	}
	if len(inv.HostsWithRole(catalog.VictoriaMetrics)) == 0 {
		v.warnf(vm.DefRange, "No VictoriaMetrics host", `the victoriametrics block applies to hosts with the %q role, and none has it`, catalog.VictoriaMetrics)
	}
}
