package templates

import (
	"embed"
	"fmt"
)

// BlackboxConfigFile is blackbox_exporter's configuration, in its configuration folder.
const BlackboxConfigFile = "blackbox.yml"

// BlackboxDNSQueryName is what the dns module asks the resolver a probe
// names: the root's name servers, which every recursive resolver answers
// (NOERROR) without depending on any zone of the user's.
const BlackboxDNSQueryName = "."

// blackbox.yml, as far as obsbox writes it: one module per probe module of
// the inventory, named as there (installer/inventory ProbeModules). The
// timeout is left out: blackbox_exporter then takes Prometheus's scrape timeout.
type blackboxFile struct {
	Modules blackboxModules `yaml:"modules"`
}

type blackboxModules struct {
	HTTP2xx    blackboxModule `yaml:"http_2xx"`
	TCPConnect blackboxModule `yaml:"tcp_connect"`
	ICMP       blackboxModule `yaml:"icmp"`
	DNS        blackboxModule `yaml:"dns"`
}

type blackboxModule struct {
	Prober yStr         `yaml:"prober"`
	DNS    *blackboxDNS `yaml:"dns,omitempty"`
}

type blackboxDNS struct {
	QueryName yStr `yaml:"query_name"`
	QueryType yStr `yaml:"query_type"`
}

// RenderBlackboxConfig renders blackbox.yml.
func RenderBlackboxConfig() ([]byte, error) {
	doc := blackboxFile{Modules: blackboxModules{
		// http's defaults: any 2xx, redirects followed.
		HTTP2xx:    blackboxModule{Prober: "http"},
		TCPConnect: blackboxModule{Prober: "tcp"},
		ICMP:       blackboxModule{Prober: "icmp"},
		DNS:        blackboxModule{Prober: "dns", DNS: &blackboxDNS{QueryName: BlackboxDNSQueryName, QueryType: "NS"}},
	}}
	b, err := yMarshal(yamlHeader, doc)
	if err != nil {
		return nil, fmt.Errorf("blackbox.yml: %w", err)
	}
	return b, nil
}

//go:embed blackbox/dashboards
var blackboxFS embed.FS

// BlackboxDashboards returns the "Probes" dashboard, file name to JSON.
func BlackboxDashboards() map[string][]byte { return ReadDashboards(blackboxFS, "blackbox/dashboards") }

// blackboxProbeSeries selects the series of obsbox's probe jobs (probe-<name>).
const blackboxProbeSeries = `{job=~"probe-.+"}`

// BlackboxAlertRules are the probes' rules: a failing probe pages, a slow
// one opens a ticket (certificates close to expiry: CertificateAlertRules).
func BlackboxAlertRules() RuleGroup {
	return RuleGroup{Name: "obsbox-probes", Rules: []AlertRule{
		{
			Name:     "ProbeFailed",
			Severity: "page",
			For:      "2m",
			Expr:     func(string) string { return `probe_success` + blackboxProbeSeries + ` == 0` },
			Summary:  `Probe {{ $labels.probe }} fails for {{ $labels.instance }}`,
			Description: `Every probe of {{ $labels.instance }} (probe {{ $labels.probe }}) has failed for more than <FOR>: ` +
				`the target is down, unreachable from the Prometheus hosts, or answers wrongly.`,
		},
		{
			Name:             "ProbeSlow",
			Severity:         "ticket",
			For:              "5m",
			ThresholdMeaning: "seconds a probe takes on average over 10 minutes; fires above it",
			Threshold:        2,
			CheckThreshold:   ThresholdAbove(0),
			Expr: func(t string) string {
				return "(\n" +
					"  avg_over_time(probe_duration_seconds" + blackboxProbeSeries + "[10m]) > " + t + "\n" +
					"and\n" +
					"  probe_success" + blackboxProbeSeries + " == 1\n" +
					")"
			},
			Summary: `Probe {{ $labels.probe }} of {{ $labels.instance }} is slow`,
			Description: `Probes of {{ $labels.instance }} (probe {{ $labels.probe }}) took {{ printf "%.2f" $value }} s on average ` +
				`over the last 10 minutes, more than the <T> s threshold.`,
		},
	}}
}
