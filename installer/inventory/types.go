// Package inventory decodes, defaults and validates obsbox's HCL inventory.
package inventory

import (
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/obsbox/obsbox/installer/catalog"
)

// Inventory is the decoded, defaulted and validated inventory.
type Inventory struct {
	Path   string // absolute path of the inventory file
	Dir    string // folder holding it; relative paths are resolved against it
	Source []byte // the file as read, for editing with hclwrite

	SSH          SSH               // global ssh settings, defaults applied
	Versions     map[string]string // component -> version; every component present (catalog defaults filled in)
	Bundles      Bundles
	Hosts        []*Host // in file order
	Prometheus   Prometheus
	Alertmanager Alertmanager
	Grafana      Grafana
	NodeExporter NodeExporter
	Rules        Rules
	Probes       []Probe // in file order
	Security     Security
	SLOs         []SLO // in file order

	VictoriaMetrics VictoriaMetrics
}

// Secret is a string that prints as (sensitive) everywhere.
type Secret struct {
	value string
}

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Value returns the secret itself. Only renderers of files on hosts may call it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret holds a non-empty value.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "(sensitive)"
}

// GoString keeps %#v from leaking the value.
func (s Secret) GoString() string { return `inventory.Secret("(sensitive)")` }

// MarshalText keeps JSON and logs from leaking the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// SSH holds how to reach a host. Host blocks override any attribute.
type SSH struct {
	User              string // default "root"
	Port              int    // default 22
	PrivateKey        string // absolute, ~ expanded; "" means ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_rsa
	KnownHosts        string // absolute, ~ expanded; default ~/.ssh/known_hosts
	AcceptNewHostKeys bool
	Bastion           string // host:port, "" when none
	SudoPassword      Secret
	// ConnectTimeout bounds the TCP connect plus the SSH handshake; 0: the
	// run's default (--connect-timeout, else 10s).
	ConnectTimeout time.Duration
}

// Host is one machine in the inventory.
type Host struct {
	Name         string
	Address      string
	Roles        []string
	Labels       map[string]string
	NodeExporter bool // default true
	SSH          SSH  // global settings merged with the host's overrides

	DeclRange hcl.Range // where the host block is, for errors
}

// HasRole reports whether the host carries role r.
func (h *Host) HasRole(r string) bool { return slices.Contains(h.Roles, r) }

// Bundles says where release tarballs come from and are cached.
type Bundles struct {
	Dir     string // absolute; default $XDG_CACHE_HOME/obsbox/bundles (~/.cache when unset)
	Mirror  string // base URL laid out like upstream, "" for upstream
	Offline bool
}

// Prometheus is the prometheus block.
type Prometheus struct {
	Port               int    // default 9090
	Retention          string // default "15d"
	ScrapeInterval     string // default "15s"
	EvaluationInterval string // default = ScrapeInterval
	Scrape             []ScrapeJob
	RuleFiles          []string // the user's glob patterns as written
	RuleFilePaths      []string // absolute paths the patterns matched, sorted
	RemoteWrite        []RemoteWrite
}

// ScrapeJob is an extra scrape job.
type ScrapeJob struct {
	Name           string
	Targets        []string
	MetricsPath    string // default "/metrics"
	Scheme         string // default "http"
	ScrapeInterval string // "" = global
	Labels         map[string]string
}

// RemoteWrite is one remote_write endpoint.
type RemoteWrite struct {
	Name        string
	URL         Secret
	Username    string
	Password    Secret
	BearerToken Secret
}

// Alertmanager is the alertmanager block.
type Alertmanager struct {
	Port            int // default 9093
	ClusterPort     int // default 9094
	Receivers       []Receiver
	Routes          []Route
	DefaultReceiver string // default: the first receiver, or "null" when there are none
	// WatchdogReceiver gets Watchdog every WatchdogInterval (default 5m); "" sends it nowhere.
	WatchdogReceiver string
	WatchdogInterval string
}

// Receiver is a named notification target; exactly one kind is set.
type Receiver struct {
	Name      string
	Webhook   *Webhook
	Slack     *Slack
	PagerDuty *PagerDuty
	Email     *Email
}

// Webhook posts alerts as JSON to URL.
type Webhook struct {
	URL          Secret
	SendResolved bool // default true
}

// Slack posts to a Slack incoming webhook.
type Slack struct {
	APIURL       Secret
	Channel      string
	SendResolved bool // default true
}

// PagerDuty sends to a PagerDuty Events v2 integration.
type PagerDuty struct {
	RoutingKey   Secret
	SendResolved bool // default true
}

// Email sends mail through a smarthost.
type Email struct {
	To           string
	From         string
	Smarthost    string // host:port
	AuthUsername string
	AuthPassword Secret
	RequireTLS   bool // default true
	SendResolved bool // default false
}

// Route sends alerts of one severity to a receiver.
type Route struct {
	Severity string
	Receiver string
	Continue bool
}

// Grafana is the grafana block.
type Grafana struct {
	Port          int    // default 3000
	AdminUser     string // default "admin"
	AdminPassword Secret // empty: generated at apply time and kept beside the inventory
}

// VictoriaMetrics is the optional victoriametrics block, for the hosts with
// role victoriametrics.
type VictoriaMetrics struct {
	// Retention as written ("12M", "1y", "30d"): a whole number and one of
	// h, d, w, M (months), y; at least a day. VictoriaMetricsRetentionFlag
	// turns it into the flag value.
	Retention string // default DefaultVictoriaMetricsRetention
}

// NodeExporter is the optional node_exporter block.
type NodeExporter struct {
	Port int // default 9100
}

// Rules tunes the built-in alert rules.
type Rules struct {
	Disable        []string // rule names switched off
	Overrides      map[string]RuleOverride
	RunbookBaseURL string // default DefaultRunbookBaseURL
}

// RuleOverride changes one built-in rule; zero fields keep the default.
type RuleOverride struct {
	For       string
	Severity  string
	Threshold *float64
}

// DefaultRunbookBaseURL is where the runbooks in templates/runbooks are published.
const DefaultRunbookBaseURL = "https://github.com/obsbox/obsbox/blob/main/templates/runbooks/"

// BuiltinRules lists the built-in alert rules by name; rules.disable and rule blocks must name one.
var BuiltinRules = []string{
	"HostDown", "FilesystemFillingUp", "FilesystemAlmostFull", "InodesAlmostExhausted",
	"MemoryPressure", "ClockSkew", "SystemdUnitFailed", "PrometheusConfigReloadFailed",
	"PrometheusRuleEvaluationFailures", "PrometheusNotificationsFailing",
	"AlertmanagerNotificationsFailing", "Watchdog",
}

// KnownRules lists every alert rule rules.disable and rule blocks may name:
// the built-in ones and those the catalog's components add.
func KnownRules() []string {
	return append(slices.Clone(BuiltinRules), catalog.AlertRuleNames()...)
}

// Places reports whether the catalog puts component c on host h by its role
// and, when c needs one, a feature of the inventory (see HasFeature). A
// component without a role (node_exporter) is not placed by this.
func (inv *Inventory) Places(c *catalog.Component, h *Host) bool {
	return c.Role != "" && h.HasRole(c.Role) && (c.Feature == "" || inv.HasFeature(c.Feature))
}

// Features are the blocks a catalog component may need (catalog.Component.Feature).
var Features = []string{"probe"}

// HasFeature reports whether the inventory uses the block called feature:
// "probe" when it has at least one probe block.
func (inv *Inventory) HasFeature(feature string) bool {
	switch feature {
	case "probe":
		return len(inv.Probes) > 0
	}
	return false
}

// HostsWithRole returns the hosts carrying role r, in file order.
func (inv *Inventory) HostsWithRole(r string) []*Host {
	var out []*Host
	for _, h := range inv.Hosts {
		if h.HasRole(r) {
			out = append(out, h)
		}
	}
	return out
}

// Host returns the host named name, or nil.
func (inv *Inventory) Host(name string) *Host {
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}
