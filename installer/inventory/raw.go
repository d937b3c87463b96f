package inventory

import "github.com/hashicorp/hcl/v2"

// The raw* structs mirror the HCL schema one to one. gohcl decodes into them;
// defaults.go turns them into the public types. Optional values are pointers so
// "absent" and "zero" stay apart (a host's ssh block overrides only what it sets).
// The *Range fields hold where a value was written, for diagnostics.

type rawFile struct {
	SSH          *rawSSH          `hcl:"ssh,block"`
	Versions     *rawVersions     `hcl:"versions,block"`
	Bundles      *rawBundles      `hcl:"bundles,block"`
	Hosts        []rawHost        `hcl:"host,block"`
	Prometheus   *rawPrometheus   `hcl:"prometheus,block"`
	Alertmanager *rawAlertmanager `hcl:"alertmanager,block"`
	Grafana      *rawGrafana      `hcl:"grafana,block"`
	NodeExporter *rawNodeExporter `hcl:"node_exporter,block"`
	Rules        *rawRules        `hcl:"rules,block"`
	Probes       []rawProbe       `hcl:"probe,block"`
	Security     *rawSecurity     `hcl:"security,block"`
	SLOs         []rawSLO         `hcl:"slo,block"`

	VictoriaMetrics *rawVictoriaMetrics `hcl:"victoriametrics,block"`
}

type rawSSH struct {
	User              *string `hcl:"user,optional"`
	Port              *int    `hcl:"port,optional"`
	PrivateKey        *string `hcl:"private_key,optional"`
	KnownHosts        *string `hcl:"known_hosts,optional"`
	AcceptNewHostKeys *bool   `hcl:"accept_new_host_keys,optional"`
	Bastion           *string `hcl:"bastion,optional"`
	SudoPassword      *string `hcl:"sudo_password,optional"`
	ConnectTimeout    *string `hcl:"connect_timeout,optional"`

	UserRange           hcl.Range `hcl:"user,attr_value_range"`
	PortRange           hcl.Range `hcl:"port,attr_value_range"`
	PrivateKeyRange     hcl.Range `hcl:"private_key,attr_value_range"`
	KnownHostsRange     hcl.Range `hcl:"known_hosts,attr_value_range"`
	BastionRange        hcl.Range `hcl:"bastion,attr_value_range"`
	ConnectTimeoutRange hcl.Range `hcl:"connect_timeout,attr_value_range"`
	DefRange            hcl.Range `hcl:",def_range"`
}

// rawVersions keeps its attributes undecoded so unknown components get our own
// message (listing catalog.Names()) rather than a fixed schema's.
type rawVersions struct {
	Attrs    hcl.Attributes `hcl:",remain"`
	DefRange hcl.Range      `hcl:",def_range"`

	// Filled by decodeVersions.
	Values     map[string]string
	Ranges     map[string]hcl.Range // value ranges
	NameRanges map[string]hcl.Range
}

type rawBundles struct {
	Dir     *string `hcl:"dir,optional"`
	Mirror  *string `hcl:"mirror,optional"`
	Offline *bool   `hcl:"offline,optional"`

	MirrorRange hcl.Range `hcl:"mirror,attr_value_range"`
}

type rawHost struct {
	Name         string            `hcl:"name,label"`
	Address      string            `hcl:"address"`
	Roles        []string          `hcl:"roles,optional"`
	Labels       map[string]string `hcl:"labels,optional"`
	NodeExporter *bool             `hcl:"node_exporter,optional"`
	SSH          *rawSSH           `hcl:"ssh,block"`

	Body         hcl.Body  `hcl:",body"`
	NameRange    hcl.Range `hcl:"name,label_range"`
	AddressRange hcl.Range `hcl:"address,attr_value_range"`
	RolesRange   hcl.Range `hcl:"roles,attr_value_range"`
	LabelsRange  hcl.Range `hcl:"labels,attr_value_range"`
	DefRange     hcl.Range `hcl:",def_range"`
}

type rawPrometheus struct {
	Port               *int             `hcl:"port,optional"`
	Retention          *string          `hcl:"retention,optional"`
	ScrapeInterval     *string          `hcl:"scrape_interval,optional"`
	EvaluationInterval *string          `hcl:"evaluation_interval,optional"`
	Scrape             []rawScrapeJob   `hcl:"scrape,block"`
	RuleFiles          []string         `hcl:"rule_files,optional"`
	RemoteWrite        []rawRemoteWrite `hcl:"remote_write,block"`
	Body               hcl.Body         `hcl:",body"`
	PortRange          hcl.Range        `hcl:"port,attr_value_range"`
	RetentionRange     hcl.Range        `hcl:"retention,attr_value_range"`
	ScrapeIntRange     hcl.Range        `hcl:"scrape_interval,attr_value_range"`
	EvalIntRange       hcl.Range        `hcl:"evaluation_interval,attr_value_range"`
	RuleFilesRange     hcl.Range        `hcl:"rule_files,attr_value_range"`
	DefRange           hcl.Range        `hcl:",def_range"`
}

type rawScrapeJob struct {
	Name           string            `hcl:"name,label"`
	Targets        []string          `hcl:"targets"`
	MetricsPath    *string           `hcl:"metrics_path,optional"`
	Scheme         *string           `hcl:"scheme,optional"`
	ScrapeInterval *string           `hcl:"scrape_interval,optional"`
	Labels         map[string]string `hcl:"labels,optional"`

	Body                hcl.Body  `hcl:",body"`
	NameRange           hcl.Range `hcl:"name,label_range"`
	TargetsRange        hcl.Range `hcl:"targets,attr_value_range"`
	MetricsPathRange    hcl.Range `hcl:"metrics_path,attr_value_range"`
	SchemeRange         hcl.Range `hcl:"scheme,attr_value_range"`
	ScrapeIntervalRange hcl.Range `hcl:"scrape_interval,attr_value_range"`
	LabelsRange         hcl.Range `hcl:"labels,attr_value_range"`
}

type rawRemoteWrite struct {
	Name        string  `hcl:"name,label"`
	URL         string  `hcl:"url"`
	Username    *string `hcl:"username,optional"`
	Password    *string `hcl:"password,optional"`
	BearerToken *string `hcl:"bearer_token,optional"`

	NameRange        hcl.Range `hcl:"name,label_range"`
	URLRange         hcl.Range `hcl:"url,attr_value_range"`
	PasswordRange    hcl.Range `hcl:"password,attr_value_range"`
	BearerTokenRange hcl.Range `hcl:"bearer_token,attr_value_range"`
}

type rawAlertmanager struct {
	Port            *int          `hcl:"port,optional"`
	ClusterPort     *int          `hcl:"cluster_port,optional"`
	Receivers       []rawReceiver `hcl:"receiver,block"`
	Routes          []rawRoute    `hcl:"route,block"`
	DefaultReceiver *string       `hcl:"default_receiver,optional"`
	// WatchdogReceiver gets the always-firing Watchdog every WatchdogInterval:
	// a dead man's switch outside the stack pages when it stops arriving.
	WatchdogReceiver *string `hcl:"watchdog_receiver,optional"`
	WatchdogInterval *string `hcl:"watchdog_interval,optional"`

	PortRange             hcl.Range `hcl:"port,attr_value_range"`
	ClusterPortRange      hcl.Range `hcl:"cluster_port,attr_value_range"`
	DefaultReceiverRange  hcl.Range `hcl:"default_receiver,attr_value_range"`
	WatchdogReceiverRange hcl.Range `hcl:"watchdog_receiver,attr_value_range"`
	WatchdogIntervalRange hcl.Range `hcl:"watchdog_interval,attr_value_range"`
	DefRange              hcl.Range `hcl:",def_range"`
}

type rawReceiver struct {
	Name      string        `hcl:"name,label"`
	Webhook   *rawWebhook   `hcl:"webhook,block"`
	Slack     *rawSlack     `hcl:"slack,block"`
	PagerDuty *rawPagerDuty `hcl:"pagerduty,block"`
	Email     *rawEmail     `hcl:"email,block"`

	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`
}

type rawWebhook struct {
	URL          string `hcl:"url"`
	SendResolved *bool  `hcl:"send_resolved,optional"`

	URLRange hcl.Range `hcl:"url,attr_value_range"`
}

type rawSlack struct {
	APIURL       string  `hcl:"api_url"`
	Channel      *string `hcl:"channel,optional"`
	SendResolved *bool   `hcl:"send_resolved,optional"`

	APIURLRange hcl.Range `hcl:"api_url,attr_value_range"`
}

type rawPagerDuty struct {
	RoutingKey   string `hcl:"routing_key"`
	SendResolved *bool  `hcl:"send_resolved,optional"`

	RoutingKeyRange hcl.Range `hcl:"routing_key,attr_value_range"`
}

type rawEmail struct {
	To           string  `hcl:"to"`
	From         string  `hcl:"from"`
	Smarthost    string  `hcl:"smarthost"`
	AuthUsername *string `hcl:"auth_username,optional"`
	AuthPassword *string `hcl:"auth_password,optional"`
	RequireTLS   *bool   `hcl:"require_tls,optional"`
	SendResolved *bool   `hcl:"send_resolved,optional"`

	ToRange        hcl.Range `hcl:"to,attr_value_range"`
	FromRange      hcl.Range `hcl:"from,attr_value_range"`
	SmarthostRange hcl.Range `hcl:"smarthost,attr_value_range"`
}

type rawRoute struct {
	Severity string `hcl:"severity"`
	Receiver string `hcl:"receiver"`
	Continue *bool  `hcl:"continue,optional"`

	SeverityRange hcl.Range `hcl:"severity,attr_value_range"`
	ReceiverRange hcl.Range `hcl:"receiver,attr_value_range"`
}

type rawGrafana struct {
	Port          *int    `hcl:"port,optional"`
	AdminUser     *string `hcl:"admin_user,optional"`
	AdminPassword *string `hcl:"admin_password,optional"`

	PortRange      hcl.Range `hcl:"port,attr_value_range"`
	AdminUserRange hcl.Range `hcl:"admin_user,attr_value_range"`
}

type rawVictoriaMetrics struct {
	Retention *string `hcl:"retention,optional"`

	RetentionRange hcl.Range `hcl:"retention,attr_value_range"`
	DefRange       hcl.Range `hcl:",def_range"`
}

type rawNodeExporter struct {
	Port *int `hcl:"port,optional"`

	PortRange hcl.Range `hcl:"port,attr_value_range"`
}

type rawRules struct {
	Disable        []string  `hcl:"disable,optional"`
	Rule           []rawRule `hcl:"rule,block"`
	RunbookBaseURL *string   `hcl:"runbook_base_url,optional"`

	Body                hcl.Body  `hcl:",body"`
	DisableRange        hcl.Range `hcl:"disable,attr_value_range"`
	RunbookBaseURLRange hcl.Range `hcl:"runbook_base_url,attr_value_range"`
}

type rawRule struct {
	Name      string   `hcl:"name,label"`
	For       *string  `hcl:"for,optional"`
	Severity  *string  `hcl:"severity,optional"`
	Threshold *float64 `hcl:"threshold,optional"`

	NameRange     hcl.Range `hcl:"name,label_range"`
	ForRange      hcl.Range `hcl:"for,attr_value_range"`
	SeverityRange hcl.Range `hcl:"severity,attr_value_range"`
	DefRange      hcl.Range `hcl:",def_range"`
}
