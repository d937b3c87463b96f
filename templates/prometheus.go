package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/duration"
)

// Paths inside Prometheus's configuration folder. prometheus.yml names them
// relative to itself, so the same file validates in a staging folder.
const (
	PromBuiltinRulesFile = "rules/obsbox-alerts.yml"
	PromUserRulesGlob    = "rules/user/*.yml"
	PromNodeTargetsFile  = "targets/node.json"
)

// Scrape job names of the components obsbox installs; the built-in rules select on them.
const (
	PromJobNode         = "node"
	PromJobPrometheus   = catalog.Prometheus
	PromJobAlertmanager = catalog.Alertmanager
	PromJobGrafana      = catalog.Grafana
)

// promFileSDRefresh is how often Prometheus re-reads the node targets file on top
// of its inotify watch, so a new host is scraped without a restart or reload.
const promFileSDRefresh = "30s"

// promDefaultScrapeTimeout is Prometheus's global scrape_timeout default.
const promDefaultScrapeTimeout = 10 * time.Second

// PrometheusConfig is what prometheus.yml is rendered from.
type PrometheusConfig struct {
	ScrapeInterval     string            // default "15s"
	EvaluationInterval string            // default ScrapeInterval
	ExternalLabels     map[string]string // attached to alerts and remote-written series
	Alertmanagers      []string          // host:port of every Alertmanager; none: no alerting section
	RuleFiles          []string          // relative to the config's folder, e.g. PromBuiltinRulesFile, PromUserRulesGlob
	NodeTargetsFile    string            // file_sd file of the node job, relative; default PromNodeTargetsFile

	// Static targets of the obsbox components; their instance label is the host name.
	Prometheus   []PrometheusStaticTarget
	Alertmanager []PrometheusStaticTarget
	Grafana      []PrometheusStaticTarget

	// ComponentJobs are the jobs components contribute (installer/component's
	// ScrapeContributor), after the built-in jobs and before the user's.
	ComponentJobs []PrometheusScrapeJob
	Jobs          []PrometheusScrapeJob // the user's extra jobs
	RemoteWrite   []PrometheusRemoteWrite

	// Client is how Prometheus reaches the endpoints obsbox installs (the
	// built-in jobs, component jobs, Alertmanagers, internal remote writes);
	// nil: plain http without credentials.
	Client *PrometheusClient

	// FallbackScrapeProtocol, when set, is every job's fallback_scrape_protocol
	// (Prometheus 3.0+; 2.x refuses the key). installer/component decides it by version.
	FallbackScrapeProtocol string
}

// PrometheusClient is how Prometheus talks to obsbox's own endpoints.
type PrometheusClient struct {
	CAFile       string // https, trusting this CA bundle; "" = plain http
	Username     string // basic auth; "" = none
	PasswordFile string
}

// PrometheusStaticTarget is one component endpoint scraped by a built-in job.
type PrometheusStaticTarget struct {
	Host    string            // host name; becomes the instance label
	Address string            // host:port
	Labels  map[string]string // extra target labels, e.g. the host's inventory labels
}

// PrometheusScrapeJob is an extra scrape job from the inventory, or one a component contributes.
type PrometheusScrapeJob struct {
	Name           string
	Targets        []string // host:port, or what RelabelConfigs turn into one
	MetricsPath    string   // "" = Prometheus's default /metrics
	Scheme         string   // "" = http; else http or https
	ScrapeInterval string   // "" = global
	Labels         map[string]string
	Params         map[string][]string // URL parameters of every scrape
	RelabelConfigs []PrometheusRelabel
	// Internal: the job scrapes an endpoint obsbox installs, through the
	// config's Client; ServerName is the name its certificate is checked
	// against when the address is not one of its names (127.0.0.1).
	Internal   bool
	ServerName string
}

// PrometheusRelabel is one relabel_configs entry; empty fields keep Prometheus's defaults.
type PrometheusRelabel struct {
	SourceLabels []string
	Separator    string
	Regex        string
	TargetLabel  string
	Replacement  string
	Action       string
}

// PrometheusRemoteWrite is one remote_write endpoint. At most one of basic auth
// (Username/Password) and BearerToken may be set.
type PrometheusRemoteWrite struct {
	Name        string
	URL         string
	Username    string
	Password    string
	BearerToken string
	Internal    bool // an endpoint obsbox installs: through the config's Client
}

// FileSDTarget is one target of a file_sd JSON file.
type FileSDTarget struct {
	Target string            // host:port
	Labels map[string]string // the installer sets instance = host name here
}

// prometheus.yml, as far as obsbox writes it.
type promFile struct {
	Global        promGlobal         `yaml:"global"`
	Alerting      *promAlerting      `yaml:"alerting,omitempty"`
	RuleFiles     []yStr             `yaml:"rule_files,omitempty"`
	ScrapeConfigs []promScrapeConfig `yaml:"scrape_configs"`
	RemoteWrite   []promRemoteWrite  `yaml:"remote_write,omitempty"`
}

type promGlobal struct {
	ScrapeInterval     yStr    `yaml:"scrape_interval"`
	EvaluationInterval yStr    `yaml:"evaluation_interval"`
	ExternalLabels     yLabels `yaml:"external_labels,omitempty"`
}

type promAlerting struct {
	Alertmanagers []promAlertmanagers `yaml:"alertmanagers"`
}

type promAlertmanagers struct {
	Scheme        yStr               `yaml:"scheme,omitempty"`
	TLSConfig     *promTLS           `yaml:"tls_config,omitempty"`
	BasicAuth     *promBasicAuth     `yaml:"basic_auth,omitempty"`
	StaticConfigs []promStaticConfig `yaml:"static_configs"`
}

type promTLS struct {
	CAFile     yStr `yaml:"ca_file,omitempty"`
	ServerName yStr `yaml:"server_name,omitempty"`
}

type promStaticConfig struct {
	Targets []yStr  `yaml:"targets"`
	Labels  yLabels `yaml:"labels,omitempty"`
}

type promFileSDConfig struct {
	Files           []yStr `yaml:"files"`
	RefreshInterval yStr   `yaml:"refresh_interval"`
}

type promScrapeConfig struct {
	JobName        yStr               `yaml:"job_name"`
	ScrapeInterval yStr               `yaml:"scrape_interval,omitempty"`
	ScrapeTimeout  yStr               `yaml:"scrape_timeout,omitempty"`
	FallbackProto  yStr               `yaml:"fallback_scrape_protocol,omitempty"`
	MetricsPath    yStr               `yaml:"metrics_path,omitempty"`
	Scheme         yStr               `yaml:"scheme,omitempty"`
	Params         yParams            `yaml:"params,omitempty"`
	TLSConfig      *promTLS           `yaml:"tls_config,omitempty"`
	BasicAuth      *promBasicAuth     `yaml:"basic_auth,omitempty"`
	FileSDConfigs  []promFileSDConfig `yaml:"file_sd_configs,omitempty"`
	StaticConfigs  []promStaticConfig `yaml:"static_configs,omitempty"`
	RelabelConfigs []promRelabel      `yaml:"relabel_configs,omitempty"`
}

type promRelabel struct {
	SourceLabels []yStr `yaml:"source_labels,omitempty"`
	Separator    yStr   `yaml:"separator,omitempty"`
	Regex        yStr   `yaml:"regex,omitempty"`
	TargetLabel  yStr   `yaml:"target_label,omitempty"`
	Replacement  yStr   `yaml:"replacement,omitempty"`
	Action       yStr   `yaml:"action,omitempty"`
}

// yParams are URL parameters, written with their names sorted.
type yParams map[string][]string

func (m yParams) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key, err := yKey(k)
		if err != nil {
			return nil, err
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, v := range m[k] {
			value, err := yQuoted(v, yaml.SingleQuotedStyle)
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, value)
		}
		n.Content = append(n.Content, key, seq)
	}
	return n, nil
}

type promRemoteWrite struct {
	Name          yStr               `yaml:"name,omitempty"`
	URL           yStr               `yaml:"url"`
	TLSConfig     *promTLS           `yaml:"tls_config,omitempty"`
	BasicAuth     *promBasicAuth     `yaml:"basic_auth,omitempty"`
	Authorization *promAuthorization `yaml:"authorization,omitempty"`
}

type promBasicAuth struct {
	Username     yStr `yaml:"username"`
	Password     yStr `yaml:"password,omitempty"`
	PasswordFile yStr `yaml:"password_file,omitempty"`
}

// client returns what a job (or alerting, or a remote write) to an obsbox
// endpoint carries: its scheme, TLS settings and credentials.
func (c *PrometheusClient) client(serverName string) (scheme yStr, tls *promTLS, auth *promBasicAuth) {
	if c == nil {
		return "", nil, nil
	}
	if c.CAFile != "" {
		scheme, tls = "https", &promTLS{CAFile: yStr(c.CAFile), ServerName: yStr(serverName)}
	}
	if c.Username != "" {
		auth = &promBasicAuth{Username: yStr(c.Username), PasswordFile: yStr(c.PasswordFile)}
	}
	return scheme, tls, auth
}

type promAuthorization struct {
	Type        yStr `yaml:"type"`
	Credentials yStr `yaml:"credentials"`
}

// RenderPrometheusConfig renders prometheus.yml. c comes from a validated
// inventory (installer/inventory checks names, targets, durations, URLs and
// labels); only what the inventory cannot see is checked here.
func RenderPrometheusConfig(c PrometheusConfig) ([]byte, error) {
	scrapeInterval := c.ScrapeInterval
	if scrapeInterval == "" {
		scrapeInterval = "15s"
	}
	globalInterval, err := duration.Positive(scrapeInterval)
	if err != nil {
		return nil, fmt.Errorf("prometheus scrape_interval: %w", err)
	}
	evalInterval := c.EvaluationInterval
	if evalInterval == "" {
		evalInterval = scrapeInterval
	}
	// Prometheus shortens its default scrape timeout to a shorter global interval.
	globalTimeout := min(promDefaultScrapeTimeout, globalInterval)

	// External labels are not in the inventory: nothing else checks them.
	for name, value := range c.ExternalLabels {
		if err := promCheckLabelName(name); err != nil {
			return nil, fmt.Errorf("prometheus external label %q: %w", name, err)
		}
		if value == "" {
			return nil, fmt.Errorf("prometheus external label %q: empty value", name)
		}
	}
	doc := promFile{
		Global: promGlobal{
			ScrapeInterval:     yStr(scrapeInterval),
			EvaluationInterval: yStr(evalInterval),
			ExternalLabels:     yLabels(c.ExternalLabels),
		},
		RuleFiles: yStrs(c.RuleFiles),
	}
	if len(c.Alertmanagers) > 0 {
		scheme, tls, auth := c.Client.client("")
		doc.Alerting = &promAlerting{Alertmanagers: []promAlertmanagers{{
			Scheme: scheme, TLSConfig: tls, BasicAuth: auth,
			StaticConfigs: []promStaticConfig{{Targets: yStrs(c.Alertmanagers)}},
		}}}
	}

	nodeFile := c.NodeTargetsFile
	if nodeFile == "" {
		nodeFile = PromNodeTargetsFile
	}
	scheme, tls, auth := c.Client.client("")
	doc.ScrapeConfigs = append(doc.ScrapeConfigs, promScrapeConfig{
		JobName: PromJobNode, Scheme: scheme, TLSConfig: tls, BasicAuth: auth,
		FileSDConfigs: []promFileSDConfig{{Files: []yStr{yStr(nodeFile)}, RefreshInterval: promFileSDRefresh}},
	})
	for _, j := range []struct {
		name    string
		targets []PrometheusStaticTarget
	}{
		{PromJobPrometheus, c.Prometheus},
		{PromJobAlertmanager, c.Alertmanager},
		{PromJobGrafana, c.Grafana},
	} {
		if len(j.targets) == 0 {
			continue
		}
		job := promScrapeConfig{JobName: yStr(j.name), Scheme: scheme, TLSConfig: tls, BasicAuth: auth}
		for _, t := range j.targets {
			labels := yLabels{}
			maps.Copy(labels, t.Labels)
			labels["instance"] = t.Host
			job.StaticConfigs = append(job.StaticConfigs, promStaticConfig{Targets: []yStr{yStr(t.Address)}, Labels: labels})
		}
		doc.ScrapeConfigs = append(doc.ScrapeConfigs, job)
	}

	for _, j := range slices.Concat(c.ComponentJobs, c.Jobs) {
		job := promScrapeConfig{
			JobName:        yStr(j.Name),
			ScrapeInterval: yStr(j.ScrapeInterval),
			MetricsPath:    yStr(j.MetricsPath),
			Scheme:         yStr(j.Scheme),
			Params:         yParams(j.Params),
			StaticConfigs:  []promStaticConfig{{Targets: yStrs(j.Targets), Labels: yLabels(j.Labels)}},
		}
		if j.Internal {
			sc, t, a := c.Client.client(j.ServerName)
			if sc != "" {
				job.Scheme = sc
			}
			job.TLSConfig, job.BasicAuth = t, a
		}
		for _, r := range j.RelabelConfigs {
			job.RelabelConfigs = append(job.RelabelConfigs, promRelabel{SourceLabels: yStrs(r.SourceLabels), Separator: yStr(r.Separator),
				Regex: yStr(r.Regex), TargetLabel: yStr(r.TargetLabel), Replacement: yStr(r.Replacement), Action: yStr(r.Action)})
		}
		if j.ScrapeInterval != "" {
			interval, err := duration.Positive(j.ScrapeInterval)
			if err != nil {
				return nil, fmt.Errorf("prometheus scrape job %q: scrape_interval: %w", j.Name, err)
			}
			// Prometheus refuses a job whose (inherited) timeout exceeds its interval.
			if interval < globalTimeout {
				job.ScrapeTimeout = yStr(j.ScrapeInterval)
			}
		}
		doc.ScrapeConfigs = append(doc.ScrapeConfigs, job)
	}
	// A component's job and a user's may not share a name: Prometheus refuses the file.
	jobNames := map[yStr]bool{}
	for i, j := range doc.ScrapeConfigs {
		doc.ScrapeConfigs[i].FallbackProto = yStr(c.FallbackScrapeProtocol)
		if jobNames[j.JobName] {
			return nil, fmt.Errorf("prometheus: two scrape jobs are called %q", string(j.JobName))
		}
		jobNames[j.JobName] = true
	}

	for i, rw := range c.RemoteWrite {
		// The inventory refuses a password with a bearer token; a username
		// alone with one would still be two kinds of authentication.
		if (rw.Username != "" || rw.Password != "") && rw.BearerToken != "" {
			where := fmt.Sprintf("prometheus remote_write %q", rw.Name)
			if rw.Name == "" {
				where = fmt.Sprintf("prometheus remote_write #%d", i+1)
			}
			return nil, fmt.Errorf("%s: set either username/password or a bearer token, not both", where)
		}
		out := promRemoteWrite{Name: yStr(rw.Name), URL: yStr(rw.URL)}
		if rw.Internal {
			_, out.TLSConfig, out.BasicAuth = c.Client.client("")
		}
		if rw.Username != "" || rw.Password != "" {
			out.BasicAuth = &promBasicAuth{Username: yStr(rw.Username), Password: yStr(rw.Password)}
		}
		if rw.BearerToken != "" {
			out.Authorization = &promAuthorization{Type: "Bearer", Credentials: yStr(rw.BearerToken)}
		}
		doc.RemoteWrite = append(doc.RemoteWrite, out)
	}

	b, err := yMarshal(yamlHeader, doc)
	if err != nil {
		return nil, fmt.Errorf("prometheus.yml: %w", err)
	}
	return b, nil
}

// RenderFileSD renders a file_sd JSON file: one group per target, ordered by
// target so a re-render of the same inventory is byte-identical.
func RenderFileSD(targets []FileSDTarget) ([]byte, error) {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels,omitempty"`
	}
	groups := make([]group, 0, len(targets))
	for _, t := range targets {
		for k, v := range t.Labels {
			// encoding/json would silently turn bad bytes into U+FFFD.
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("file_sd target %q label %q: value is not valid UTF-8", t.Target, k)
			}
		}
		groups = append(groups, group{Targets: []string{t.Target}, Labels: t.Labels})
	}
	slices.SortFunc(groups, func(a, b group) int { return strings.Compare(a.Targets[0], b.Targets[0]) })

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(groups); err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	return buf.Bytes(), nil
}

var promLabelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func promCheckLabelName(name string) error {
	if !promLabelNameRE.MatchString(name) {
		return errors.New("not a valid label name (letters, digits and _, not starting with a digit)")
	}
	if strings.HasPrefix(name, "__") {
		return errors.New("label names starting with __ are reserved for Prometheus")
	}
	return nil
}

// PrometheusSecretKeys are the keys of prometheus.yml whose values are
// secrets (remote_write URLs and credentials), also for a copy on a host
// written from an older inventory.
var PrometheusSecretKeys = []string{"url", "password", "credentials", "bearer_token", "client_secret", "api_key", "token"}

// SecretValues lists the secrets c puts into prometheus.yml.
func (c PrometheusConfig) SecretValues() []string {
	var out []string
	for _, rw := range c.RemoteWrite {
		out = append(out, rw.URL)
		for _, s := range []string{rw.Password, rw.BearerToken} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
