package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	PromJobPrometheus   = "prometheus"
	PromJobAlertmanager = "alertmanager"
	PromJobGrafana      = "grafana"
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

	Jobs        []PrometheusScrapeJob // the user's extra jobs
	RemoteWrite []PrometheusRemoteWrite
}

// PrometheusStaticTarget is one component endpoint scraped by a built-in job.
type PrometheusStaticTarget struct {
	Host    string            // host name; becomes the instance label
	Address string            // host:port
	Labels  map[string]string // extra target labels, e.g. the host's inventory labels
}

// PrometheusScrapeJob is an extra scrape job from the inventory.
type PrometheusScrapeJob struct {
	Name           string
	Targets        []string // host:port
	MetricsPath    string   // "" = Prometheus's default /metrics
	Scheme         string   // "" = http; else http or https
	ScrapeInterval string   // "" = global
	Labels         map[string]string
}

// PrometheusRemoteWrite is one remote_write endpoint. At most one of basic auth
// (Username/Password) and BearerToken may be set.
type PrometheusRemoteWrite struct {
	Name        string
	URL         string
	Username    string
	Password    string
	BearerToken string
}

// FileSDTarget is one target of a file_sd JSON file.
type FileSDTarget struct {
	Target string            // host:port
	Labels map[string]string // the installer sets instance = host name here
}

// RenderPrometheusConfig renders prometheus.yml.
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
	if _, err := duration.Positive(evalInterval); err != nil {
		return nil, fmt.Errorf("prometheus evaluation_interval: %w", err)
	}
	// Prometheus shortens its default scrape timeout to a shorter global interval.
	globalTimeout := min(promDefaultScrapeTimeout, globalInterval)

	global := promYMapNode().
		add("scrape_interval", promYStr(scrapeInterval)).
		add("evaluation_interval", promYStr(evalInterval))
	if len(c.ExternalLabels) > 0 {
		for name, value := range c.ExternalLabels {
			if err := promCheckLabelName(name); err != nil {
				return nil, fmt.Errorf("prometheus external label %q: %w", name, err)
			}
			if value == "" {
				return nil, fmt.Errorf("prometheus external label %q: empty value", name)
			}
		}
		global.add("external_labels", promYLabels(c.ExternalLabels))
	}
	root := promYMapNode().add("global", global)

	if len(c.Alertmanagers) > 0 {
		for _, a := range c.Alertmanagers {
			if err := promCheckAddress(a); err != nil {
				return nil, fmt.Errorf("prometheus alerting target %q: %w", a, err)
			}
		}
		static := promYMapNode().add("targets", promYStrings(c.Alertmanagers))
		am := promYMapNode().add("static_configs", promYListNode(static))
		root.add("alerting", promYMapNode().add("alertmanagers", promYListNode(am)))
	}

	if len(c.RuleFiles) > 0 {
		for _, f := range c.RuleFiles {
			if err := promCheckRelativePath(f); err != nil {
				return nil, fmt.Errorf("prometheus rule file %q: %w", f, err)
			}
		}
		root.add("rule_files", promYStrings(c.RuleFiles))
	}

	nodeFile := c.NodeTargetsFile
	if nodeFile == "" {
		nodeFile = PromNodeTargetsFile
	}
	if err := promCheckRelativePath(nodeFile); err != nil {
		return nil, fmt.Errorf("prometheus node targets file %q: %w", nodeFile, err)
	}
	nodeSD := promYMapNode().
		add("files", promYStrings([]string{nodeFile})).
		add("refresh_interval", promYStr(promFileSDRefresh))
	scrapes := promYListNode(promYMapNode().
		add("job_name", promYStr(PromJobNode)).
		add("file_sd_configs", promYListNode(nodeSD)))

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
		job, err := promComponentJob(j.name, j.targets)
		if err != nil {
			return nil, err
		}
		scrapes.items = append(scrapes.items, job)
	}

	seen := map[string]bool{PromJobNode: true, PromJobPrometheus: true, PromJobAlertmanager: true, PromJobGrafana: true}
	for _, j := range c.Jobs {
		if j.Name == "" {
			return nil, errors.New("prometheus scrape job: empty name")
		}
		if seen[j.Name] {
			if slices.Contains([]string{PromJobNode, PromJobPrometheus, PromJobAlertmanager, PromJobGrafana}, j.Name) {
				return nil, fmt.Errorf("prometheus scrape job %q: the name is reserved for obsbox's own job", j.Name)
			}
			return nil, fmt.Errorf("prometheus scrape job %q: defined twice", j.Name)
		}
		seen[j.Name] = true
		job, err := promUserJob(j, globalTimeout)
		if err != nil {
			return nil, fmt.Errorf("prometheus scrape job %q: %w", j.Name, err)
		}
		scrapes.items = append(scrapes.items, job)
	}
	root.add("scrape_configs", scrapes)

	if len(c.RemoteWrite) > 0 {
		rws := promYListNode()
		names := map[string]bool{}
		for i, rw := range c.RemoteWrite {
			where := fmt.Sprintf("prometheus remote_write %q", rw.Name)
			if rw.Name == "" {
				where = fmt.Sprintf("prometheus remote_write #%d", i+1)
			} else if names[rw.Name] {
				return nil, fmt.Errorf("%s: defined twice", where)
			}
			names[rw.Name] = true
			node, err := promRemoteWrite(rw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			rws.items = append(rws.items, node)
		}
		root.add("remote_write", rws)
	}

	return promYMarshal(root)
}

func promComponentJob(name string, targets []PrometheusStaticTarget) (*promYNode, error) {
	statics := promYListNode()
	hosts := map[string]bool{}
	for _, t := range targets {
		if t.Host == "" {
			return nil, fmt.Errorf("prometheus job %q target %q: empty host name", name, t.Address)
		}
		if hosts[t.Host] {
			return nil, fmt.Errorf("prometheus job %q: host %q listed twice", name, t.Host)
		}
		hosts[t.Host] = true
		if err := promCheckAddress(t.Address); err != nil {
			return nil, fmt.Errorf("prometheus job %q host %q address %q: %w", name, t.Host, t.Address, err)
		}
		labels := map[string]string{}
		for k, v := range t.Labels {
			if err := promCheckLabelName(k); err != nil {
				return nil, fmt.Errorf("prometheus job %q host %q label %q: %w", name, t.Host, k, err)
			}
			labels[k] = v
		}
		labels["instance"] = t.Host
		statics.items = append(statics.items, promYMapNode().
			add("targets", promYStrings([]string{t.Address})).
			add("labels", promYLabels(labels)))
	}
	return promYMapNode().
		add("job_name", promYStr(name)).
		add("static_configs", statics), nil
}

func promUserJob(j PrometheusScrapeJob, globalTimeout time.Duration) (*promYNode, error) {
	job := promYMapNode().add("job_name", promYStr(j.Name))
	if j.ScrapeInterval != "" {
		interval, err := duration.Positive(j.ScrapeInterval)
		if err != nil {
			return nil, fmt.Errorf("scrape_interval: %w", err)
		}
		job.add("scrape_interval", promYStr(j.ScrapeInterval))
		// Prometheus refuses a job whose (inherited) timeout exceeds its interval.
		if interval < globalTimeout {
			job.add("scrape_timeout", promYStr(j.ScrapeInterval))
		}
	}
	if j.MetricsPath != "" {
		if !strings.HasPrefix(j.MetricsPath, "/") {
			return nil, fmt.Errorf("metrics_path %q: must start with /", j.MetricsPath)
		}
		job.add("metrics_path", promYStr(j.MetricsPath))
	}
	if j.Scheme != "" {
		if j.Scheme != "http" && j.Scheme != "https" {
			return nil, fmt.Errorf("scheme %q: must be http or https", j.Scheme)
		}
		job.add("scheme", promYStr(j.Scheme))
	}
	if len(j.Targets) == 0 {
		return nil, errors.New("no targets")
	}
	for _, t := range j.Targets {
		if err := promCheckAddress(t); err != nil {
			return nil, fmt.Errorf("target %q: %w", t, err)
		}
	}
	static := promYMapNode().add("targets", promYStrings(j.Targets))
	if len(j.Labels) > 0 {
		for k := range j.Labels {
			if err := promCheckLabelName(k); err != nil {
				return nil, fmt.Errorf("label %q: %w", k, err)
			}
		}
		static.add("labels", promYLabels(j.Labels))
	}
	return job.add("static_configs", promYListNode(static)), nil
}

// promRemoteWrite builds one remote_write entry. Errors never quote the URL or
// credentials: they are secrets.
func promRemoteWrite(rw PrometheusRemoteWrite) (*promYNode, error) {
	basic := rw.Username != "" || rw.Password != ""
	if basic && rw.BearerToken != "" {
		return nil, errors.New("set either username/password or a bearer token, not both")
	}
	if rw.Password != "" && rw.Username == "" {
		return nil, errors.New("password set without username")
	}
	node := promYMapNode()
	if rw.Name != "" {
		node.add("name", promYStr(rw.Name))
	}
	node.add("url", promYStr(rw.URL))
	if basic {
		auth := promYMapNode().add("username", promYStr(rw.Username))
		if rw.Password != "" {
			auth.add("password", promYStr(rw.Password))
		}
		node.add("basic_auth", auth)
	}
	if rw.BearerToken != "" {
		node.add("authorization", promYMapNode().
			add("type", promYStr("Bearer")).
			add("credentials", promYStr(rw.BearerToken)))
	}
	return node, nil
}

// RenderFileSD renders a file_sd JSON file: one group per target, ordered by
// target so a re-render of the same inventory is byte-identical.
func RenderFileSD(targets []FileSDTarget) ([]byte, error) {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels,omitempty"`
	}
	groups := make([]group, 0, len(targets))
	seen := map[string]bool{}
	for _, t := range targets {
		if err := promCheckAddress(t.Target); err != nil {
			return nil, fmt.Errorf("file_sd target %q: %w", t.Target, err)
		}
		if seen[t.Target] {
			return nil, fmt.Errorf("file_sd target %q: listed twice", t.Target)
		}
		seen[t.Target] = true
		for k, v := range t.Labels {
			if err := promCheckLabelName(k); err != nil {
				return nil, fmt.Errorf("file_sd target %q label %q: %w", t.Target, k, err)
			}
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

// promCheckAddress accepts host:port (or a bare host) as Prometheus targets take
// them: no scheme, no path, no spaces.
func promCheckAddress(addr string) error {
	switch {
	case addr == "":
		return errors.New("empty address")
	case strings.Contains(addr, "/"):
		return errors.New("must be host:port, without scheme or path")
	case strings.IndexFunc(addr, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return errors.New("contains spaces or control characters")
	}
	return nil
}

// promCheckRelativePath keeps configuration paths inside the config's folder.
func promCheckRelativePath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if strings.HasPrefix(p, "/") {
		return errors.New("must be relative to the configuration folder")
	}
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return errors.New("leaves the configuration folder")
	}
	if strings.ContainsFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return errors.New("contains control characters")
	}
	return nil
}

// The promY* helpers build YAML documents in code and print them in block style
// with every string quoted, so no value (a label, a password, a URL) can change
// the shape of the document. They are shared by the Prometheus, rules and
// Alertmanager renderers.

type promYKind uint8

const (
	promYString promYKind = iota // a quoted string
	promYRaw                     // a boolean, printed as is
	promYText                    // trusted multi-line text, a literal block when possible
	promYMap
	promYList
)

type promYNode struct {
	kind  promYKind
	value string
	keys  []string     // promYMap: keys, parallel to items
	items []*promYNode // promYMap: values; promYList: elements
}

const promYHeader = "# Managed by obsbox: changes made here are overwritten by the next apply.\n"

func promYStr(s string) *promYNode   { return &promYNode{kind: promYString, value: s} }
func promYBool(b bool) *promYNode    { return &promYNode{kind: promYRaw, value: strconv.FormatBool(b)} }
func promYBlock(s string) *promYNode { return &promYNode{kind: promYText, value: s} }
func promYMapNode() *promYNode       { return &promYNode{kind: promYMap} }

func promYListNode(items ...*promYNode) *promYNode {
	return &promYNode{kind: promYList, items: items}
}

func (n *promYNode) add(key string, v *promYNode) *promYNode {
	n.keys = append(n.keys, key)
	n.items = append(n.items, v)
	return n
}

func promYStrings(ss []string) *promYNode {
	l := promYListNode()
	for _, s := range ss {
		l.items = append(l.items, promYStr(s))
	}
	return l
}

// promYLabels renders a label set with sorted names.
func promYLabels(m map[string]string) *promYNode {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n := promYMapNode()
	for _, k := range keys {
		n.add(k, promYStr(m[k]))
	}
	return n
}

// promYMarshal prints a document, headed by the "managed by obsbox" comment.
// An error names the path of the offending value, never the value.
func promYMarshal(root *promYNode) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(promYHeader)
	if err := promYWriteBlock(&b, root, 0, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func promYWriteBlock(b *bytes.Buffer, n *promYNode, indent int, where string) error {
	pad := strings.Repeat(" ", indent)
	switch n.kind {
	case promYMap:
		for i, k := range n.keys {
			key, err := promYKey(k)
			if err != nil {
				return fmt.Errorf("%s: key %w", promYJoin(where, "?"), err)
			}
			b.WriteString(pad + key + ":")
			if err := promYWriteValue(b, n.items[i], indent, promYJoin(where, k), false); err != nil {
				return err
			}
		}
	case promYList:
		for i, item := range n.items {
			b.WriteString(pad + "-")
			if err := promYWriteValue(b, item, indent, fmt.Sprintf("%s[%d]", where, i), true); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: a scalar cannot be a block", where)
	}
	return nil
}

// promYWriteValue prints v after "key:" or, when inList, after "-".
func promYWriteValue(b *bytes.Buffer, v *promYNode, indent int, where string, inList bool) error {
	switch v.kind {
	case promYMap, promYList:
		if len(v.items) == 0 {
			if v.kind == promYMap {
				b.WriteString(" {}\n")
			} else {
				b.WriteString(" []\n")
			}
			return nil
		}
		var child bytes.Buffer
		if err := promYWriteBlock(&child, v, indent+2, where); err != nil {
			return err
		}
		if inList {
			// "- " takes the place of the first line's indentation.
			b.WriteString(" ")
			b.Write(child.Bytes()[indent+2:])
		} else {
			b.WriteString("\n")
			b.Write(child.Bytes())
		}
	case promYRaw:
		b.WriteString(" " + v.value + "\n")
	case promYText:
		if promYLiteralOK(v.value) {
			pad := strings.Repeat(" ", indent+2)
			b.WriteString(" |-\n")
			for line := range strings.SplitSeq(v.value, "\n") {
				if line == "" {
					b.WriteString("\n")
				} else {
					b.WriteString(pad + line + "\n")
				}
			}
			return nil
		}
		fallthrough
	case promYString:
		q, err := promYQuote(v.value)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		b.WriteString(" " + q + "\n")
	}
	return nil
}

func promYJoin(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// promYReserved are plain words YAML 1.1 (the go-yaml v2 that Prometheus and
// Alertmanager use) reads as booleans or null.
var promYReserved = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true,
}

var promYPlainKeyRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func promYKey(k string) (string, error) {
	if promYPlainKeyRE.MatchString(k) && !promYReserved[k] {
		return k, nil
	}
	return promYQuote(k)
}

// promYSafeRune reports whether r may appear unescaped in a quoted scalar:
// printable, and not one of the characters YAML reads as a line break.
func promYSafeRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	return r >= 0xa0 && unicode.IsPrint(r)
}

// promYQuote quotes s as a YAML scalar: single-quoted when s is plain printable
// text (where only a doubled quote is special), else double-quoted with escapes.
func promYQuote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("value is not valid UTF-8")
	}
	if !strings.ContainsFunc(s, func(r rune) bool { return !promYSafeRune(r) }) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case promYSafeRune(r):
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// promYLiteralOK reports whether trusted text can be a "|-" literal block that
// reads back as exactly s.
func promYLiteralOK(s string) bool {
	if !strings.Contains(s, "\n") || !utf8.ValidString(s) {
		return false
	}
	lines := strings.Split(s, "\n")
	if lines[0] == "" || lines[0][0] == ' ' || lines[len(lines)-1] == "" {
		return false
	}
	for _, line := range lines {
		if strings.HasSuffix(line, " ") || strings.ContainsFunc(line, func(r rune) bool { return !promYSafeRune(r) }) {
			return false
		}
	}
	return true
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
