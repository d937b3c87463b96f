package templates

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DefaultRunbookBaseURL is where templates/runbooks is published; a rule's
// runbook_url is the base URL followed by "<RuleName>.md".
const DefaultRunbookBaseURL = "https://github.com/obsbox/obsbox/blob/main/templates/runbooks/"

// RuleSettings tunes the built-in alert rules.
type RuleSettings struct {
	Disabled       []string                // rule names left out
	Overrides      map[string]RuleOverride // by rule name
	RunbookBaseURL string                  // "" = DefaultRunbookBaseURL; a missing trailing / is added
	// Groups are the rule groups components contribute, rendered after the
	// built-in group; Disabled and Overrides apply to their rules too.
	Groups []RuleGroup
}

// RuleGroup is a group of alert rules a component contributes.
type RuleGroup struct {
	Name  string
	Rules []AlertRule
}

// AlertRule defines one alert rule with the built-in rules' mechanics: a
// severity, a for and a threshold the inventory may override, and texts in
// which <T> stands for the threshold and <FOR> for the for. Its runbook is
// templates/runbooks/<Name>.md.
type AlertRule struct {
	Name             string
	Severity         string // page or ticket
	For              string // "" when the rule fires at once
	ThresholdMeaning string // what Threshold measures; "" when it takes none
	Threshold        float64
	CheckThreshold   func(float64) error // required with a ThresholdMeaning
	Expr             func(threshold string) string
	Summary          string
	Description      string
}

func (a AlertRule) def() rulesDef {
	return rulesDef{name: a.Name, severity: a.Severity, forDur: a.For, thresholdMeaning: a.ThresholdMeaning,
		threshold: a.Threshold, checkThreshold: a.CheckThreshold, expr: a.Expr, summary: a.Summary, description: a.Description}
}

// ThresholdAbove accepts a threshold greater than min.
func ThresholdAbove(min float64) func(float64) error { return rulesAbove(min) }

// RuleOverride changes one built-in rule; zero fields keep the default.
type RuleOverride struct {
	For       string   // a Prometheus duration, "0s" fires at once
	Severity  string   // page or ticket
	Threshold *float64 // meaning per rule, see AlertRuleInfo.ThresholdMeaning
}

// AlertRuleInfo describes a built-in rule and its defaults.
type AlertRuleInfo struct {
	Name             string
	Severity         string   // page, ticket, or none (Watchdog)
	For              string   // "" when the rule fires at once
	Threshold        *float64 // nil when the rule takes none
	ThresholdMeaning string   // what Threshold measures; "" when it takes none
}

// BuiltinAlertRules lists the built-in rules in the order they are rendered.
func BuiltinAlertRules() []AlertRuleInfo {
	out := make([]AlertRuleInfo, 0, len(rulesBuiltin))
	for _, r := range rulesBuiltin {
		info := AlertRuleInfo{Name: r.name, Severity: r.severity, For: r.forDur, ThresholdMeaning: r.thresholdMeaning}
		if r.thresholdMeaning != "" {
			t := r.threshold
			info.Threshold = &t
		}
		out = append(out, info)
	}
	return out
}

// rulesFS selects real filesystems: pseudo, in-memory, container-layer and
// read-only image filesystems never fill up in a way anyone must act on. The
// first series of a filesystem expression carries it; the others join on labels.
const rulesFS = `job="node",fstype!="",fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|iso9660|erofs|nsfs|autofs|fuse.lxcfs|fuse.snapfuse|fuse.portal",mountpoint!=""`

// rulesDef is one built-in rule. Texts may use <T> (the threshold) and <FOR>.
type rulesDef struct {
	name             string
	severity         string
	forDur           string
	thresholdMeaning string  // "" when the rule takes no threshold
	threshold        float64 // the default
	checkThreshold   func(float64) error
	expr             func(t string) string
	summary          string
	description      string
}

var rulesBuiltin = []rulesDef{
	{
		name:     "HostDown",
		severity: "page",
		forDur:   "2m",
		expr:     func(string) string { return `up{job="node"} == 0` },
		summary:  `Host {{ $labels.instance }} is down`,
		description: `Prometheus has not been able to scrape node_exporter on {{ $labels.instance }} for more than <FOR>: ` +
			`the host is down, unreachable from Prometheus, or node_exporter is not running.`,
	},
	{
		name:             "FilesystemFillingUp",
		severity:         "ticket",
		forDur:           "1h",
		thresholdMeaning: "hours: fires when the last 6 hours' trend fills the filesystem within this many hours (and less than 40% is free)",
		threshold:        24,
		checkThreshold:   rulesAbove(0),
		expr: func(t string) string {
			return "(\n" +
				"  node_filesystem_avail_bytes{" + rulesFS + "} / node_filesystem_size_bytes{job=\"node\"} * 100 < 40\n" +
				"and\n" +
				"  predict_linear(node_filesystem_avail_bytes{job=\"node\"}[6h], " + t + " * 3600) < 0\n" +
				"and\n" +
				"  node_filesystem_readonly{job=\"node\"} == 0\n" +
				")"
		},
		summary: `Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is filling up`,
		description: `At the rate of the last 6 hours, {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} ` +
			`will be full within <T> hours. {{ printf "%.1f" $value }}% of it is still free.`,
	},
	{
		name:             "FilesystemAlmostFull",
		severity:         "page",
		forDur:           "15m",
		thresholdMeaning: "percent of the filesystem's space still available to ordinary users; fires below it",
		threshold:        5,
		checkThreshold:   rulesPercent,
		expr: func(t string) string {
			return "(\n" +
				"  node_filesystem_avail_bytes{" + rulesFS + "} / node_filesystem_size_bytes{job=\"node\"} * 100 < " + t + "\n" +
				"and\n" +
				"  node_filesystem_readonly{job=\"node\"} == 0\n" +
				")"
		},
		summary: `Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full`,
		description: `{{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} has {{ printf "%.1f" $value }}% ` +
			`of its space left, below the <T>% threshold. Writes fail when it reaches 0%.`,
	},
	{
		name:             "InodesAlmostExhausted",
		severity:         "page",
		forDur:           "15m",
		thresholdMeaning: "percent of the filesystem's inodes still free; fires below it",
		threshold:        5,
		checkThreshold:   rulesPercent,
		expr: func(t string) string {
			return "(\n" +
				"  node_filesystem_files_free{" + rulesFS + "} / node_filesystem_files{job=\"node\"} * 100 < " + t + "\n" +
				"and\n" +
				"  node_filesystem_readonly{job=\"node\"} == 0\n" +
				")"
		},
		summary: `Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is running out of inodes`,
		description: `{{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} has {{ printf "%.1f" $value }}% ` +
			`of its inodes left, below the <T>% threshold. Creating files fails when none are left, even with free space.`,
	},
	{
		name:             "MemoryPressure",
		severity:         "ticket",
		forDur:           "15m",
		thresholdMeaning: "percent of memory available (MemAvailable of MemTotal); fires below it",
		threshold:        10,
		checkThreshold:   rulesPercent,
		expr: func(t string) string {
			return `node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes{job="node"} * 100 < ` + t
		},
		summary: `Memory is low on {{ $labels.instance }}`,
		description: `{{ $labels.instance }} has had only {{ printf "%.1f" $value }}% of its memory available for more than <FOR>, ` +
			`below the <T>% threshold. Expect heavy swapping, or the OOM killer ending processes.`,
	},
	{
		name:             "ClockSkew",
		severity:         "ticket",
		forDur:           "10m",
		thresholdMeaning: "seconds between the host's clock and the Prometheus server's, either way; fires above it",
		threshold:        1,
		checkThreshold:   rulesAbove(0),
		// node_time_seconds is read during the scrape and the sample carries the
		// scrape's time, so their difference is the skew against Prometheus's
		// clock, whatever (if any) time daemon the host runs.
		expr: func(t string) string {
			return "(\n" +
				`  node_time_seconds{job="node"} - timestamp(node_time_seconds{job="node"}) > ` + t + "\n" +
				"or\n" +
				`  node_time_seconds{job="node"} - timestamp(node_time_seconds{job="node"}) < -` + t + "\n" +
				")"
		},
		summary: `Clock of {{ $labels.instance }} is off`,
		description: `The clock of {{ $labels.instance }} differs from the Prometheus server's by {{ printf "%.3f" $value }} seconds, ` +
			`more than the <T> s threshold. Check time synchronisation on both.`,
	},
	{
		name:        "SystemdUnitFailed",
		severity:    "ticket",
		forDur:      "5m",
		expr:        func(string) string { return `node_systemd_unit_state{job="node",state="failed"} == 1` },
		summary:     `Systemd unit {{ $labels.name }} failed on {{ $labels.instance }}`,
		description: `{{ $labels.name }} on {{ $labels.instance }} has been in the failed state for more than <FOR>.`,
	},
	{
		name:     "PrometheusConfigReloadFailed",
		severity: "ticket",
		forDur:   "10m",
		expr: func(string) string {
			return `max_over_time(prometheus_config_last_reload_successful{job="prometheus"}[5m]) == 0`
		},
		summary: `Prometheus on {{ $labels.instance }} failed to reload its configuration`,
		description: `The last configuration reload of Prometheus on {{ $labels.instance }} failed. It keeps running with the ` +
			`previous configuration, so recent changes to targets, rules or alerting are not in effect.`,
	},
	{
		name:             "PrometheusRuleEvaluationFailures",
		severity:         "ticket",
		forDur:           "15m",
		thresholdMeaning: "failed rule evaluations per rule group in 5 minutes; fires above it",
		threshold:        0,
		checkThreshold:   rulesAtLeast(0),
		expr: func(t string) string {
			return `increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[5m]) > ` + t
		},
		summary: `Prometheus on {{ $labels.instance }} fails to evaluate rules`,
		description: `Prometheus on {{ $labels.instance }} failed {{ printf "%.0f" $value }} rule evaluations in group ` +
			`{{ $labels.rule_group }} over the last 5 minutes. Alerts of that group may not fire.`,
	},
	{
		name:             "PrometheusNotificationsFailing",
		severity:         "ticket",
		forDur:           "15m",
		thresholdMeaning: "percent of alert notifications from Prometheus to an Alertmanager that failed in 5 minutes; fires above it",
		threshold:        1,
		checkThreshold:   rulesFailurePercent,
		// Prometheus 2.x counts every attempt, failed or not, in sent_total, so
		// the ratio is the failed share (seen with 2.42 and 2.53 against a closed port).
		expr: func(t string) string {
			return "(\n" +
				`  rate(prometheus_notifications_errors_total{job="prometheus"}[5m])` + "\n" +
				"/\n" +
				`  rate(prometheus_notifications_sent_total{job="prometheus"}[5m])` + "\n" +
				") * 100 > " + t
		},
		summary: `Prometheus on {{ $labels.instance }} cannot send alerts to Alertmanager`,
		description: `{{ printf "%.1f" $value }}% of the alerts Prometheus on {{ $labels.instance }} sent to ` +
			`{{ $labels.alertmanager }} failed over the last 5 minutes (threshold <T>%). Alerts may not reach anyone.`,
	},
	{
		name:             "AlertmanagerNotificationsFailing",
		severity:         "ticket",
		forDur:           "10m",
		thresholdMeaning: "percent of an integration's notification attempts that failed in 5 minutes; fires above it",
		threshold:        1,
		checkThreshold:   rulesFailurePercent,
		expr: func(t string) string {
			return "(\n" +
				`  sum by (instance, integration) (rate(alertmanager_notifications_failed_total{job="alertmanager"}[5m]))` + "\n" +
				"/\n" +
				`  sum by (instance, integration) (rate(alertmanager_notifications_total{job="alertmanager"}[5m]))` + "\n" +
				") * 100 > " + t
		},
		summary: `Alertmanager on {{ $labels.instance }} fails to send {{ $labels.integration }} notifications`,
		description: `{{ printf "%.1f" $value }}% of the {{ $labels.integration }} notifications Alertmanager on ` +
			`{{ $labels.instance }} tried over the last 5 minutes failed (threshold <T>%). ` +
			`Check the receiver's URL, key or credentials.`,
	},
	{
		name:     "Watchdog",
		severity: "none",
		expr:     func(string) string { return `vector(1)` },
		summary:  `The alerting pipeline is working`,
		description: `This alert always fires, so that a dead man's switch outside obsbox notices when Prometheus, ` +
			`Alertmanager or the path between them stops working. Do not silence it.`,
	},
}

func rulesAbove(min float64) func(float64) error {
	return func(t float64) error {
		if t <= min {
			return fmt.Errorf("must be greater than %s", rulesNumber(min))
		}
		return nil
	}
}

func rulesAtLeast(min float64) func(float64) error {
	return func(t float64) error {
		if t < min {
			return fmt.Errorf("must be at least %s", rulesNumber(min))
		}
		return nil
	}
}

func rulesPercent(t float64) error {
	if t <= 0 || t > 100 {
		return errors.New("must be a percentage above 0 and at most 100")
	}
	return nil
}

func rulesFailurePercent(t float64) error {
	if t < 0 || t >= 100 {
		return errors.New("must be a percentage from 0 to below 100")
	}
	return nil
}

func rulesNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// The rules file, as far as obsbox writes it.
type rulesFile struct {
	Groups []rulesGroup `yaml:"groups"`
}

type rulesGroup struct {
	Name  yStr        `yaml:"name"`
	Rules []rulesRule `yaml:"rules"`
}

type rulesRule struct {
	Alert  yStr  `yaml:"alert"`
	Expr   yText `yaml:"expr"`
	For    yStr  `yaml:"for,omitempty"`
	Labels struct {
		Severity yStr `yaml:"severity"`
	} `yaml:"labels"`
	Annotations struct {
		Summary     yStr `yaml:"summary"`
		Description yStr `yaml:"description"`
		RunbookURL  yStr `yaml:"runbook_url"`
	} `yaml:"annotations"`
}

// RenderAlertRules renders the built-in rules file (PromBuiltinRulesFile),
// with the groups components contribute.
// s comes from a validated inventory (installer/inventory checks rule names,
// durations, severities and the runbook URL); what only the rule itself
// knows (whether it takes a threshold, a for, another severity) is checked here.
func RenderAlertRules(s RuleSettings) ([]byte, error) {
	base := s.RunbookBaseURL
	if base == "" {
		base = DefaultRunbookBaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}

	doc := rulesFile{Groups: []rulesGroup{}}
	var rules []rulesRule
	for _, r := range rulesBuiltin {
		if slices.Contains(s.Disabled, r.name) {
			continue
		}
		rule, err := r.render(s.Overrides[r.name], base)
		if err != nil {
			return nil, fmt.Errorf("rules: rule %q: %w", r.name, err)
		}
		rules = append(rules, rule)
	}
	if len(rules) > 0 {
		doc.Groups = append(doc.Groups, rulesGroup{Name: "obsbox-builtin", Rules: rules})
	}
	for _, g := range s.Groups {
		var rules []rulesRule
		for _, a := range g.Rules {
			if slices.Contains(s.Disabled, a.Name) {
				continue
			}
			rule, err := a.def().render(s.Overrides[a.Name], base)
			if err != nil {
				return nil, fmt.Errorf("rules: rule %q: %w", a.Name, err)
			}
			rules = append(rules, rule)
		}
		if len(rules) > 0 {
			doc.Groups = append(doc.Groups, rulesGroup{Name: yStr(g.Name), Rules: rules})
		}
	}
	b, err := yMarshal(yamlHeader, doc)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return b, nil
}

func (r rulesDef) render(o RuleOverride, runbookBase string) (rulesRule, error) {
	var out rulesRule
	severity, forDur, threshold := r.severity, r.forDur, r.threshold
	if o.Severity != "" {
		if r.severity == "none" {
			return out, errors.New("severity cannot be changed: this rule always fires and must never notify by itself")
		}
		// The inventory also accepts none, which only Watchdog may have.
		if o.Severity != "page" && o.Severity != "ticket" {
			return out, fmt.Errorf("severity %q: must be page or ticket", o.Severity)
		}
		severity = o.Severity
	}
	if o.For != "" {
		if r.forDur == "" {
			return out, errors.New("for cannot be set: this rule fires at once by design")
		}
		forDur = o.For
	}
	if o.Threshold != nil {
		if r.thresholdMeaning == "" {
			return out, errors.New("threshold cannot be set: this rule has none")
		}
		t := *o.Threshold
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return out, errors.New("threshold must be a finite number")
		}
		if err := r.checkThreshold(t); err != nil {
			return out, fmt.Errorf("threshold %s (%s): %w", rulesNumber(t), r.thresholdMeaning, err)
		}
		threshold = t
	}

	ts := rulesNumber(threshold)
	text := strings.NewReplacer("<T>", ts, "<FOR>", forDur)
	out.Alert = yStr(r.name)
	out.Expr = yText(r.expr(ts))
	out.For = yStr(forDur)
	out.Labels.Severity = yStr(severity)
	out.Annotations.Summary = yStr(text.Replace(r.summary))
	out.Annotations.Description = yStr(text.Replace(r.description))
	out.Annotations.RunbookURL = yStr(runbookBase + r.name + ".md")
	return out, nil
}

// PrometheusReplicaRules are the rules of two or more Prometheus hosts: each
// replica scrapes every other, so a replica that stops answering shows as
// up == 0 on the others. The count guard keeps it quiet when the evaluating
// Prometheus sees no replica up at all (not even itself): then its own view
// is what is broken, and HostDown and the Watchdog speak for the rest.
func PrometheusReplicaRules() RuleGroup {
	return RuleGroup{Name: "obsbox-prometheus-replicas", Rules: []AlertRule{{
		Name:     "PrometheusReplicaDown",
		Severity: "ticket",
		For:      "5m",
		Expr: func(string) string {
			return "(\n" +
				`  up{job="prometheus"} == 0` + "\n" +
				"and on ()\n" +
				`  count(up{job="prometheus"} == 1) > 0` + "\n" +
				")"
		},
		Summary: `Prometheus replica {{ $labels.instance }} does not answer`,
		Description: `The other Prometheus replicas have not been able to scrape Prometheus on {{ $labels.instance }} ` +
			`for more than <FOR>. The others still scrape every target and send every alert, but one more failure ` +
			`leaves no Prometheus at all.`,
	}}}
}

// AlertmanagerClusterRules are the rules of two or more Alertmanager hosts:
// every member must see as many members as Prometheus has Alertmanager
// targets. A member that sees fewer is cut off (or the others are down);
// members that disagree with each other fire on the ones that differ.
func AlertmanagerClusterRules() RuleGroup {
	return RuleGroup{Name: "obsbox-alertmanager-cluster", Rules: []AlertRule{{
		Name:     "AlertmanagerClusterDegraded",
		Severity: "ticket",
		For:      "10m",
		Expr: func(string) string {
			return "(\n" +
				`  alertmanager_cluster_members{job="alertmanager"}` + "\n" +
				"!= on () group_left ()\n" +
				`  count(up{job="alertmanager"})` + "\n" +
				")"
		},
		Summary: `Alertmanager on {{ $labels.instance }} sees {{ $value }} cluster members`,
		Description: `Alertmanager on {{ $labels.instance }} has seen {{ $value }} members in its gossip cluster for more ` +
			`than <FOR>, not one per Alertmanager host. Members that do not see each other may each send the same ` +
			`notification, and silences made on one may not reach the others.`,
	}}}
}
