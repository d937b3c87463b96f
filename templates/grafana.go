package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/obsbox/obsbox/installer/catalog"
)

// Where Grafana's files live on a host: the catalog's layout.
var (
	GrafanaHomeDir               = catalog.CurrentLink(catalog.Grafana) // --homepath: the unpacked release
	GrafanaConfigDir             = catalog.ConfigDir(catalog.Grafana)
	GrafanaINIPath               = GrafanaConfigDir + "/grafana.ini"
	GrafanaProvisioningDir       = GrafanaConfigDir + "/provisioning"
	GrafanaDatasourcePath        = GrafanaProvisioningDir + "/datasources/obsbox.yaml"
	GrafanaDashboardProviderPath = GrafanaProvisioningDir + "/dashboards/obsbox.yaml"
	GrafanaDashboardsDir         = GrafanaConfigDir + "/dashboards"
	GrafanaDataDir               = catalog.DataDir(catalog.Grafana)
	GrafanaDatabasePath          = GrafanaDataDir + "/grafana.db"
	GrafanaUser                  = catalog.UserName(catalog.Grafana)
	GrafanaDefaultPort           = catalog.DefaultPort(catalog.Grafana, "web")
)

const (
	// GrafanaDatasourceUID is the provisioned Prometheus datasource's uid; the
	// dashboards refer to it.
	GrafanaDatasourceUID  = "obsbox-prometheus"
	GrafanaDatasourceName = "Prometheus"
	// GrafanaVictoriaMetricsUID is the first VictoriaMetrics host's
	// datasource, Grafana's default when there is one.
	GrafanaVictoriaMetricsUID  = "obsbox-victoriametrics"
	GrafanaVictoriaMetricsName = "VictoriaMetrics"

	GrafanaDefaultAdminUser = "admin"
	// GrafanaMinPasswordLength is the shortest password `grafana cli admin
	// reset-admin-password` accepts (it refuses 4 characters or fewer).
	GrafanaMinPasswordLength = 5
)

// GrafanaProvisioningSubdirs are the folders Grafana scans under provisioning/;
// creating them all keeps it from logging errors about the missing ones.
var GrafanaProvisioningSubdirs = []string{"alerting", "dashboards", "datasources", "plugins"}

//go:embed grafana
var grafanaFS embed.FS

var grafanaTemplates = template.Must(template.New("").Option("missingkey=error").
	ParseFS(grafanaFS, "grafana/*.tmpl"))

// GrafanaINI is the input of RenderGrafanaINI.
type GrafanaINI struct {
	HTTPPort      int    // 0 means 3000
	HTTPAddr      string // address to listen on; "" means all interfaces
	RootURL       string // public URL, when Grafana sits behind a proxy; "" keeps Grafana's default
	AdminUser     string // "" means "admin"
	AdminPassword string // required; at least GrafanaMinPasswordLength characters
	// SecretKey signs cookies and encrypts secrets in the database. It must stay
	// the same across applies; "" keeps Grafana's built-in (public) default.
	SecretKey string
	LogLevel  string // debug, info, warn, error or critical; "" means info
	// KeyPairFile, when set, makes Grafana serve https only with the key
	// and certificate in it (and its session cookie secure).
	KeyPairFile string
	// MetricsUser and MetricsPassword, when set, guard /metrics with basic auth.
	MetricsUser, MetricsPassword string
}

// RenderGrafanaINI renders grafana.ini for GrafanaINIPath.
func RenderGrafanaINI(c GrafanaINI) ([]byte, error) {
	if c.HTTPPort == 0 {
		c.HTTPPort = GrafanaDefaultPort
	}
	if c.HTTPPort < 1 || c.HTTPPort > 65535 {
		return nil, fmt.Errorf("grafana.ini: http_port %d is not a port (1-65535)", c.HTTPPort)
	}
	if c.HTTPAddr != "" && net.ParseIP(c.HTTPAddr) == nil {
		return nil, fmt.Errorf("grafana.ini: http_addr %q is not an IP address", c.HTTPAddr)
	}
	if c.AdminUser == "" {
		c.AdminUser = GrafanaDefaultAdminUser
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error", "critical":
	default:
		return nil, fmt.Errorf("grafana.ini: log level %q is not one of debug, info, warn, error, critical", c.LogLevel)
	}
	if err := GrafanaCheckAdminPassword(c.AdminPassword); err != nil {
		return nil, fmt.Errorf("grafana.ini: %w", err)
	}

	data := map[string]string{
		"DataDir":         GrafanaDataDir,
		"ProvisioningDir": GrafanaProvisioningDir,
		"HTTPAddr":        c.HTTPAddr,
		"HTTPPort":        strconv.Itoa(c.HTTPPort),
		"LogLevel":        c.LogLevel,
		"CookieSecure":    "",
		"Protocol":        "http",
		"KeyPairFile":     c.KeyPairFile,
		"MetricsUser":     c.MetricsUser,
		"MetricsPassword": c.MetricsPassword,
	}
	if strings.HasPrefix(c.RootURL, "https://") || c.KeyPairFile != "" {
		data["CookieSecure"] = "true"
	}
	if c.KeyPairFile != "" {
		data["Protocol"] = "https"
	}
	for _, v := range []struct{ key, field, value string }{
		{"admin_user", "AdminUser", c.AdminUser},
		{"admin_password", "AdminPassword", c.AdminPassword},
		{"secret_key", "SecretKey", c.SecretKey},
		{"root_url", "RootURL", c.RootURL},
		{"cert_file", "KeyPairFile", c.KeyPairFile},
		{"basic_auth_username", "MetricsUser", c.MetricsUser},
		{"basic_auth_password", "MetricsPassword", c.MetricsPassword},
	} {
		q, err := grafanaINIValue(v.value)
		if err != nil {
			return nil, fmt.Errorf("grafana.ini: %s: %w", v.key, err)
		}
		data[v.field] = q
	}
	return grafanaRender("grafana.ini.tmpl", data)
}

// GrafanaCheckAdminPassword reports why Grafana could not take password as its
// admin password, both in grafana.ini and through `grafana cli`.
func GrafanaCheckAdminPassword(password string) error {
	if utf8.RuneCountInString(password) < GrafanaMinPasswordLength {
		return fmt.Errorf("the admin password is shorter than %d characters, which Grafana refuses", GrafanaMinPasswordLength)
	}
	// The value itself is never printed: it is a secret.
	if _, err := grafanaINIValue(password); err != nil {
		return fmt.Errorf("the admin password %s", strings.TrimPrefix(err.Error(), "value "))
	}
	return nil
}

var (
	// Grafana replaces ${VAR}, $__env{VAR}, $__file{path}, ... in every value
	// of grafana.ini (pkg/setting/expanders.go), with no escape.
	grafanaExpansion = regexp.MustCompile(`\$(|__\w+)\{[^}]+\}`)
	// go-ini replaces %(key)s with another key's value when String() reads it.
	grafanaINIReference = regexp.MustCompile(`%\([^)]+\)s`)
)

// grafanaINIValue writes v so that Grafana's ini parser (go-ini) reads back
// exactly v. Plain values stay bare; anything go-ini would trim, cut at an
// inline comment (# or ;), unquote or continue goes inside """...""", which
// go-ini takes verbatim up to the last """ on the line.
func grafanaINIValue(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("value is not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("value contains a control character (newline, tab, ...), which an ini line cannot hold")
		}
	}
	if grafanaExpansion.MatchString(v) {
		return "", fmt.Errorf("value contains ${...} or $__name{...}, which Grafana would replace")
	}
	if grafanaINIReference.MatchString(v) {
		return "", fmt.Errorf("value contains %%(...)s, which Grafana's ini parser would replace")
	}
	if v == "" {
		return "", nil
	}
	if strings.ContainsAny(v, "#;\"'`\\") || strings.TrimSpace(v) != v {
		return `"""` + v + `"""`, nil
	}
	return v, nil
}

// GrafanaDatasource is the input of RenderGrafanaDatasource.
type GrafanaDatasource struct {
	// Name as shown in Grafana; "" means "Prometheus". Grafana matches a
	// provisioned datasource by name: a rename with the same uid fails until
	// the old one is deleted.
	Name string
	// UID is what dashboards refer to; "" means GrafanaDatasourceUID.
	UID string
	// VictoriaMetrics marks a VictoriaMetrics server: Grafana's Prometheus
	// type reads its Prometheus-compatible API, without Prometheus' type and version.
	VictoriaMetrics   bool
	URL               string // Prometheus' base URL, e.g. http://10.0.0.5:9090
	IsDefault         bool
	ScrapeInterval    string // Prometheus' scrape interval, e.g. "15s": the shortest step Grafana asks for; "" omits it
	PrometheusVersion string // e.g. "2.53.2", lets Grafana use newer APIs; "" omits it
	// CACert, when set, is the PEM bundle Grafana checks the server's
	// certificate against; BasicAuthUser/Password its credentials.
	CACert                           string
	BasicAuthUser, BasicAuthPassword string
}

// GrafanaDatasourceSecretKeys are the keys of the datasource file whose values are secrets.
var GrafanaDatasourceSecretKeys = []string{"basicAuthPassword", "password"}

// grafanaProvisioningHeader heads Grafana's provisioning files.
const grafanaProvisioningHeader = "# Managed by obsbox: local edits are overwritten by the next apply.\n"

type grafanaDatasourceFile struct {
	APIVersion  int                     `yaml:"apiVersion"`
	Datasources []grafanaDatasourceYAML `yaml:"datasources"`
}

type grafanaDatasourceYAML struct {
	Name          yDQ    `yaml:"name"`
	Type          string `yaml:"type"`
	UID           yDQ    `yaml:"uid"`
	OrgID         int    `yaml:"orgId"`
	Access        string `yaml:"access"`
	URL           yDQ    `yaml:"url"`
	IsDefault     bool   `yaml:"isDefault"`
	Editable      bool   `yaml:"editable"`
	BasicAuth     bool   `yaml:"basicAuth,omitempty"`
	BasicAuthUser yDQ    `yaml:"basicAuthUser,omitempty"`
	JSONData      struct {
		HTTPMethod        string `yaml:"httpMethod"`
		PrometheusType    string `yaml:"prometheusType,omitempty"`
		PrometheusVersion yDQ    `yaml:"prometheusVersion,omitempty"`
		TimeInterval      yDQ    `yaml:"timeInterval,omitempty"`
		TLSAuthWithCACert bool   `yaml:"tlsAuthWithCACert,omitempty"`
	} `yaml:"jsonData"`
	SecureJSONData *grafanaSecureJSON `yaml:"secureJsonData,omitempty"`
}

type grafanaSecureJSON struct {
	TLSCACert         yText `yaml:"tlsCACert,omitempty"`
	BasicAuthPassword yDQ   `yaml:"basicAuthPassword,omitempty"`
}

type grafanaProviderFile struct {
	APIVersion int               `yaml:"apiVersion"`
	Providers  []grafanaProvider `yaml:"providers"`
}

type grafanaProvider struct {
	Name                  string `yaml:"name"`
	OrgID                 int    `yaml:"orgId"`
	Type                  string `yaml:"type"`
	Folder                string `yaml:"folder"`
	FolderUID             string `yaml:"folderUid"`
	DisableDeletion       bool   `yaml:"disableDeletion"`
	AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
	UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
	Options               struct {
		Path                      yDQ  `yaml:"path"`
		FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
	} `yaml:"options"`
}

// grafanaValue doubles "$", which Grafana's provisioning would otherwise read
// as an environment variable (pkg/services/provisioning/values).
func grafanaValue(s string) yDQ { return yDQ(strings.ReplaceAll(s, "$", "$$")) }

// RenderGrafanaDatasource renders the datasource provisioning file for
// GrafanaDatasourcePath: one Prometheus datasource with uid GrafanaDatasourceUID.
// d comes from a validated inventory (addresses, durations, versions).
func RenderGrafanaDatasource(d GrafanaDatasource) ([]byte, error) {
	return RenderGrafanaDatasources([]GrafanaDatasource{d})
}

// RenderGrafanaDatasources renders several datasources into the one
// provisioning file; names and uids must differ, and at most one is the default.
func RenderGrafanaDatasources(list []GrafanaDatasource) ([]byte, error) {
	var out []grafanaDatasourceYAML
	names, uids, defaults := map[string]bool{}, map[string]bool{}, 0
	for _, d := range list {
		if d.Name == "" {
			d.Name = GrafanaDatasourceName
		}
		if d.UID == "" {
			d.UID = GrafanaDatasourceUID
		}
		if names[d.Name] || uids[d.UID] {
			return nil, fmt.Errorf("grafana datasource: two datasources are called %q or have uid %q", d.Name, d.UID)
		}
		names[d.Name], uids[d.UID] = true, true
		if d.IsDefault {
			defaults++
		}
		ds := grafanaDatasourceYAML{
			Name:      grafanaValue(d.Name),
			Type:      "prometheus",
			UID:       grafanaValue(d.UID),
			OrgID:     1,
			Access:    "proxy",
			URL:       grafanaValue(d.URL),
			IsDefault: d.IsDefault,
		}
		ds.JSONData.HTTPMethod = "POST"
		if !d.VictoriaMetrics {
			ds.JSONData.PrometheusType = "Prometheus"
			ds.JSONData.PrometheusVersion = grafanaValue(d.PrometheusVersion)
		}
		ds.JSONData.TimeInterval = grafanaValue(d.ScrapeInterval)
		if d.CACert != "" || d.BasicAuthUser != "" {
			ds.SecureJSONData = &grafanaSecureJSON{}
		}
		if d.CACert != "" {
			ds.JSONData.TLSAuthWithCACert = true
			ds.SecureJSONData.TLSCACert = yText(strings.ReplaceAll(d.CACert, "$", "$$"))
		}
		if d.BasicAuthUser != "" {
			ds.BasicAuth, ds.BasicAuthUser = true, grafanaValue(d.BasicAuthUser)
			ds.SecureJSONData.BasicAuthPassword = grafanaValue(d.BasicAuthPassword)
		}
		out = append(out, ds)
	}
	if defaults > 1 {
		return nil, fmt.Errorf("grafana datasource: %d datasources are the default; Grafana takes one", defaults)
	}
	b, err := yMarshal(grafanaProvisioningHeader, grafanaDatasourceFile{APIVersion: 1, Datasources: out})
	if err != nil {
		return nil, fmt.Errorf("grafana datasource: %w", err)
	}
	return b, nil
}

// RenderGrafanaDashboardProvider renders the dashboard provisioning file for
// GrafanaDashboardProviderPath, loading the JSON files in dir (normally
// GrafanaDashboardsDir) into the read-only folder "obsbox".
func RenderGrafanaDashboardProvider(dir string) ([]byte, error) {
	// The folder is obsbox's, not the inventory's: nothing else checks it.
	if !path.IsAbs(dir) || path.Clean(dir) != dir {
		return nil, fmt.Errorf("grafana dashboard provider: folder %q is not a clean absolute path", dir)
	}
	p := grafanaProvider{
		Name: "obsbox", OrgID: 1, Type: "file", Folder: "obsbox", FolderUID: "obsbox",
		DisableDeletion: true, UpdateIntervalSeconds: 30,
	}
	p.Options.Path = grafanaValue(dir)
	b, err := yMarshal(grafanaProvisioningHeader, grafanaProviderFile{APIVersion: 1, Providers: []grafanaProvider{p}})
	if err != nil {
		return nil, fmt.Errorf("grafana dashboard provider: %w", err)
	}
	return b, nil
}

// GrafanaDashboards returns the built-in dashboards, file name to JSON, for
// GrafanaDashboardsDir. Each call returns fresh copies. A component's own
// dashboards come from its DashboardContributor (installer/component).
func GrafanaDashboards() map[string][]byte { return ReadDashboards(grafanaFS, "grafana/dashboards") }

// ReadDashboards returns the *.json files in dir of an embedded fsys, file
// name to JSON, for a component that ships its own dashboards.
func ReadDashboards(fsys fs.FS, dir string) map[string][]byte {
	out := map[string][]byte{}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("embedded grafana dashboards: %v", err)) // the build embeds them
	}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			panic(fmt.Sprintf("embedded grafana dashboard %s: %v", e.Name(), err))
		}
		out[e.Name()] = b
	}
	return out
}

// GrafanaServerArgv is the unit's ExecStart for the release unpacked in homeDir
// (normally GrafanaHomeDir).
func GrafanaServerArgv(homeDir string) []string {
	return []string{homeDir + "/bin/grafana", "server", "--config", GrafanaINIPath, "--homepath", homeDir}
}

// GrafanaCommand is a command to run on a Grafana host.
type GrafanaCommand struct {
	User  string   // run as this user (e.g. runuser -u USER --), so the database stays its own
	Argv  []string // no secrets here: argv shows in ps and logs
	Stdin []byte   // secret: write it to the command's stdin, never log it
}

// GrafanaResetAdminPassword returns the command that sets the admin password in
// Grafana's existing database. grafana.ini's admin_password only counts when
// Grafana creates its database, so after the first start the password is
// applied with this command instead. With --password-from-stdin the CLI reads
// the first line of stdin (pkg/cmd/grafana-cli/commands/reset_password_command.go)
// and changes the user with id 1: the admin Grafana created first.
//
// Run it with the release in homeDir, as GrafanaUser, while obsbox-grafana is
// stopped (stop, reset, start), and only when GrafanaDatabasePath exists: on a
// fresh install Grafana takes the password from grafana.ini.
func GrafanaResetAdminPassword(homeDir, password string) (GrafanaCommand, error) {
	if !path.IsAbs(homeDir) || path.Clean(homeDir) != homeDir {
		return GrafanaCommand{}, fmt.Errorf("grafana home %q is not a clean absolute path", homeDir)
	}
	if err := GrafanaCheckAdminPassword(password); err != nil {
		return GrafanaCommand{}, err
	}
	return GrafanaCommand{
		User: GrafanaUser,
		Argv: []string{
			homeDir + "/bin/grafana", "cli",
			"--homepath", homeDir,
			"--config", GrafanaINIPath,
			"admin", "reset-admin-password", "--password-from-stdin",
		},
		Stdin: []byte(password + "\n"),
	}, nil
}

func grafanaRender(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := grafanaTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// GrafanaINISecretKeys are the keys of grafana.ini whose values are secrets.
var GrafanaINISecretKeys = []string{"admin_password", "secret_key", "password", "basic_auth_password", "client_secret", "api_key", "token"}

// SecretValues lists the secrets c puts into grafana.ini.
func (c GrafanaINI) SecretValues() []string {
	var out []string
	for _, s := range []string{c.AdminPassword, c.SecretKey, c.MetricsPassword} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
