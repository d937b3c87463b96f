package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"empty", "# only a comment\n\n", nil},
		{"datasources", `apiVersion: 1
datasources:
  - name: Prometheus   # the default one
    type: prometheus
    url: http://10.99.0.11:9090
    isDefault: true
    jsonData: {timeInterval: 15s, httpMethod: "POST"}
  - name: "Alertmanager"
    type: alertmanager
`, map[string]any{
			"apiVersion": "1",
			"datasources": []any{
				map[string]any{"name": "Prometheus", "type": "prometheus", "url": "http://10.99.0.11:9090", "isDefault": "true",
					"jsonData": map[string]any{"timeInterval": "15s", "httpMethod": "POST"}},
				map[string]any{"name": "Alertmanager", "type": "alertmanager"},
			},
		}},
		{"sequence at the key's indentation", "providers:\n- name: a\n  options:\n    path: /x\n", map[string]any{
			"providers": []any{map[string]any{"name": "a", "options": map[string]any{"path": "/x"}}},
		}},
		{"flow sequence and quotes", "tags: [a, 'b c', \"d#e\"]\nq: 'it''s'\n", map[string]any{
			"tags": []any{"a", "b c", "d#e"}, "q": "it's",
		}},
		{"block scalar", "cert: |\n  line one\n  line two\nnext: x\n", map[string]any{
			"cert": "line one\nline two\n", "next": "x",
		}},
		{"stripped block scalar", "cert: |-\n  line one\n\n  line two\nnext: |\nlast: x\n", map[string]any{
			"cert": "line one\n\nline two", "next": "", "last": "x",
		}},
		{"document marker and null", "---\na: ~\nb:\n", map[string]any{"a": nil, "b": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseYAML(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"tab indentation", "a:\n\tb: c\n", "line 2: tab character"},
		{"duplicate key", "a: 1\na: 2\n", `line 2: mapping key "a" already defined`},
		{"nested mapping value", "a: b: c\n", "mapping values are not allowed"},
		{"over-indented line", "a: 1\n  b: 2\n", "line 2: unexpected indentation"},
		{"unterminated quote", "a: \"open\n", "unterminated double-quoted string"},
		{"unterminated flow", "a: [1, 2\n", "missing ]"},
		{"not a key", "a: 1\njust text\n", `line 2: expected "key: value"`},
		{"item in mapping", "a: 1\n- b\n", "line 2: a sequence item where a mapping key"},
		{"bad indicator", "a: @x\n", "cannot start a value"},
		{"dedent to nowhere", "a:\n    b: 1\n  c: 2\n", "line 3: unexpected indentation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseYAML(tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// home lays out a stand-in homepath with the bundle's defaults.ini and returns it.
func home(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	defaults, err := os.ReadFile("defaults.ini")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "conf", "defaults.ini"), string(defaults))
	if err := os.MkdirAll(filepath.Join(dir, "public"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	dir := home(t)
	write(t, filepath.Join(dir, "secret"), "from-file\n")
	write(t, filepath.Join(dir, "grafana.ini"), `
[server]
http_port = 3001
http_addr = 127.0.0.1
[paths]
data = /var/lib/x
[security]
admin_password = $__file{`+filepath.Join(dir, "secret")+`}
admin_user = ${ADMIN}
`)
	env := map[string]string{"ADMIN": "root", "GF_SERVER_HTTP_ADDR": "127.0.0.2", "GF_PATHS_PLUGINS": "/p"}
	cfg, err := loadConfig(dir, filepath.Join(dir, "grafana.ini"),
		[]string{"cfg:default.server.domain=example", "cfg:paths.data=/override", "cfg:default.paths.logs=/l"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ section, key, want string }{
		{"server", "http_port", "3001"},             // config file over defaults
		{"server", "http_addr", "127.0.0.2"},        // GF_ variable over config file
		{"server", "domain", "example"},             // cfg:default. over defaults
		{"paths", "data", "/override"},              // cfg: over config file
		{"paths", "plugins", "/p"},                  // GF_ over defaults
		{"paths", "logs", "/l"},                     // cfg:default.
		{"security", "admin_password", "from-file"}, // $__file{}
		{"security", "admin_user", "root"},          // ${}
		{"database", "path", "grafana.db"},          // untouched default
	}
	for _, tc := range tests {
		if got := cfg.get(tc.section, tc.key); got != tc.want {
			t.Errorf("[%s] %s = %q, want %q", tc.section, tc.key, got, tc.want)
		}
	}
	if got, want := cfg.path("paths", "provisioning"), filepath.Join(dir, "conf", "provisioning"); got != want {
		t.Errorf("provisioning path = %q, want %q", got, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := home(t)
	write(t, filepath.Join(dir, "bad.ini"), "[server]\nhttp_port\n")
	write(t, filepath.Join(dir, "file.ini"), "[security]\nadmin_password = $__file{/nonexistent/obsbox}\n")
	tests := []struct{ name, homepath, config, want string }{
		{"no defaults", t.TempDir(), "", "could not find config defaults"},
		{"missing config", dir, filepath.Join(dir, "nope.ini"), "failed to load custom config file"},
		{"malformed line", dir, filepath.Join(dir, "bad.ini"), `bad.ini:2: expected "key = value"`},
		{"unreadable $__file", dir, filepath.Join(dir, "file.ini"), "$__file{/nonexistent/obsbox}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.homepath, tc.config, nil, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

const datasourcesYAML = `apiVersion: 1
datasources:
  - name: Prometheus
    type: prometheus
    url: http://10.99.0.11:9090
    isDefault: true
`

func provisioningHome(t *testing.T, files map[string]string) (dir, configPath string) {
	t.Helper()
	dir = home(t)
	for name, text := range files {
		write(t, filepath.Join(dir, "prov", name), strings.ReplaceAll(text, "DIR", filepath.Join(dir, "prov")))
	}
	configPath = filepath.Join(dir, "grafana.ini")
	write(t, configPath, "[paths]\ndata = "+filepath.Join(dir, "data")+"\nprovisioning = "+filepath.Join(dir, "prov")+
		"\n[security]\nadmin_password = first-pw\n")
	return dir, configPath
}

func TestServerAPI(t *testing.T) {
	dir, configPath := provisioningHome(t, map[string]string{
		"datasources/ds.yaml":        datasourcesYAML,
		"dashboards/obsbox.yml":      "apiVersion: 1\nproviders:\n  - name: obsbox\n    type: file\n    options:\n      path: DIR/json\n",
		"json/node.json":             `{"title": "Node", "uid": "node"}`,
		"json/sub/alertmanager.json": `{"title": "Alertmanager", "uid": "am"}`,
	})
	s, err := newServer(options{homepath: dir, config: configPath}, func(string) string { return "" }, logger{io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.routes())
	defer ts.Close()

	tests := []struct {
		path, user, password string
		status               int
		body                 string
	}{
		{"/api/health", "", "", 200, `"database":"ok","version":"` + version + `"`},
		{"/metrics", "", "", 200, `grafana_build_info{branch="standin",edition="oss"`},
		{"/metrics", "", "", 200, `version="` + version + `"} 1`},
		{"/api/user", "", "", 401, "Unauthorized"},
		{"/api/user", "admin", "wrong", 401, "Unauthorized"},
		{"/api/user", "admin", "first-pw", 200, `"login":"admin"`},
		{"/api/org", "admin", "first-pw", 200, `"name":"Main Org."`},
		{"/api/datasources", "admin", "first-pw", 200, `"name":"Prometheus","type":"prometheus","url":"http://10.99.0.11:9090"`},
		{"/api/search", "admin", "first-pw", 200, `[{"title":"Node","uid":"node","type":"dash-db"},{"title":"Alertmanager","uid":"am"`},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", ts.URL+tc.path, nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s as %q: %d %s, want %d containing %s", tc.path, tc.user, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "grafana.db")); err != nil {
		t.Errorf("no database file in paths.data: %v", err)
	}
}

func TestServerRefusesBadProvisioning(t *testing.T) {
	provider := "apiVersion: 1\nproviders:\n  - name: p\n    options:\n      path: DIR/json\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"invalid datasource yaml", map[string]string{"datasources/ds.yaml": "datasources:\n  - name: a\n   type: b\n"}, "ds.yaml is not valid YAML"},
		{"datasource without type", map[string]string{"datasources/ds.yaml": "datasources:\n  - name: a\n"}, "needs a name and a type"},
		{"two defaults", map[string]string{"datasources/ds.yaml": datasourcesYAML + "  - name: B\n    type: loki\n    isDefault: true\n"}, "only one datasource per organization"},
		{"invalid dashboards yaml", map[string]string{"dashboards/d.yaml": "providers: [\n"}, "d.yaml is not valid YAML"},
		{"provider without path", map[string]string{"dashboards/d.yaml": "providers:\n  - name: p\n"}, "has no options.path"},
		{"missing dashboards folder", map[string]string{"dashboards/d.yaml": provider}, "cannot read dashboards"},
		{"invalid dashboard json", map[string]string{"dashboards/d.yaml": provider, "json/x.json": "{not json"}, "x.json is not valid JSON"},
		{"dashboard without title", map[string]string{"dashboards/d.yaml": provider, "json/x.json": `{"uid": "x"}`}, "title cannot be empty"},
		{"invalid alerting yaml", map[string]string{"alerting/a.yaml": "a: b: c\n"}, "a.yaml is not valid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, configPath := provisioningHome(t, tc.files)
			var stderr bytes.Buffer
			code := run([]string{"server", "--homepath", dir, "--config=" + configPath, "cfg:server.http_port=0"},
				nil, io.Discard, &stderr, func(string) string { return "" })
			if code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 mentioning %q", code, stderr.String(), tc.want)
			}
		})
	}
}

// As in Grafana, the configured admin password is applied when the database is
// created; later it changes only through `grafana cli admin reset-admin-password`.
func TestAdminPasswordLifecycle(t *testing.T) {
	dir, configPath := provisioningHome(t, nil)
	noEnv := func(string) string { return "" }
	auth := func(password string) int {
		s, err := newServer(options{homepath: dir, config: configPath}, noEnv, logger{io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/user", nil)
		req.SetBasicAuth("admin", password)
		s.routes().ServeHTTP(rec, req)
		return rec.Code
	}
	if got := auth("first-pw"); got != 200 {
		t.Fatalf("first start: password from config gave %d", got)
	}
	write(t, configPath, "[paths]\ndata = "+filepath.Join(dir, "data")+"\n[security]\nadmin_password = second-pw\n")
	if a, b := auth("first-pw"), auth("second-pw"); a != 200 || b != 401 {
		t.Errorf("after a config change: old password %d, new password %d; want 200, 401", a, b)
	}
	var out bytes.Buffer
	if code := run([]string{"cli", "--homepath", dir, "--config", configPath, "admin", "reset-admin-password", "third-pw"},
		nil, &out, io.Discard, noEnv); code != 0 {
		t.Fatalf("reset-admin-password exited %d", code)
	}
	if a, c := auth("first-pw"), auth("third-pw"); a != 401 || c != 200 {
		t.Errorf("after reset-admin-password: old %d, new %d; want 401, 200", a, c)
	}
	code := run([]string{"cli", "--homepath", dir, "--config", configPath, "admin", "reset-admin-password", "--password-from-stdin"},
		strings.NewReader("fourth-pw\n"), &out, io.Discard, noEnv)
	if code != 0 || auth("fourth-pw") != 200 {
		t.Errorf("reset from stdin: exit %d, new password accepted: %v", code, auth("fourth-pw") == 200)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"--version"}, 0, "grafana version " + version + "\n"},
		{[]string{"server", "-v"}, 0, "grafana version " + version + "\n"},
		{[]string{"server", "--bogus"}, 2, ""},
		{[]string{"server", "--config"}, 2, ""},
		{[]string{"cli", "plugins", "ls"}, 2, ""},
		{[]string{"frobnicate"}, 2, ""},
		{nil, 2, ""},
	}
	for _, tc := range tests {
		var stdout bytes.Buffer
		code := run(tc.args, nil, &stdout, io.Discard, func(string) string { return "" })
		if code != tc.code || stdout.String() != tc.stdout {
			t.Errorf("grafana %v: exit %d, stdout %q; want %d, %q", tc.args, code, stdout.String(), tc.code, tc.stdout)
		}
	}
}

func TestHealthJSONShape(t *testing.T) {
	s := &server{db: &database{AdminUser: "admin"}, prov: &provisioned{}, metricsOn: false}
	rec := httptest.NewRecorder()
	s.routes().ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["database"] != "ok" || got["version"] != version {
		t.Errorf("health = %s (%v)", rec.Body.String(), err)
	}
	rec = httptest.NewRecorder()
	s.routes().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics with [metrics] enabled = false: %d, want 404", rec.Code)
	}
}

// keyPair writes, as obsbox does, ONE file holding the PEM key and then the
// certificate (self-signed, for 127.0.0.1), and returns it with the certificate's PEM.
func keyPair(t *testing.T, dir string) (path, certPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "grafana-standin test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	path = filepath.Join(dir, "grafana.pem")
	write(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))+certPEM)
	return path, certPEM
}

// startServer starts the server newServer builds from the config text on a
// free loopback port, and returns its address.
func startServer(t *testing.T, iniText string) (addr string) {
	t.Helper()
	dir, configPath := provisioningHome(t, nil)
	write(t, configPath, "[paths]\ndata = "+filepath.Join(dir, "data")+"\n[security]\nadmin_password = first-pw\n"+
		strings.ReplaceAll(iniText, "DIR", dir))
	s, err := newServer(options{homepath: dir, config: configPath, overrides: []string{"cfg:server.http_addr=127.0.0.1", "cfg:server.http_port=0"}},
		func(string) string { return "" }, logger{io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.routes(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func get(t *testing.T, client *http.Client, url, user, password string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func TestServerHTTPS(t *testing.T) {
	keyDir := t.TempDir()
	pairFile, certPEM := keyPair(t, keyDir)
	addr := startServer(t, "[server]\nprotocol = https\ncert_file = "+pairFile+"\ncert_key = "+pairFile+"\n")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(certPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	for _, tc := range []struct {
		path, user, password string
		status               int
	}{
		{"/api/health", "", "", 200},
		{"/metrics", "", "", 200},
		{"/api/user", "", "", 401},
		{"/api/user", "admin", "first-pw", 200},
	} {
		code, body, err := get(t, client, "https://"+addr+tc.path, tc.user, tc.password)
		if err != nil || code != tc.status {
			t.Errorf("GET https %s as %q: %d %s (%v), want %d", tc.path, tc.user, code, body, err, tc.status)
		}
	}
	// The port speaks only TLS: a plain http request gets no successful answer.
	code, body, err := get(t, http.DefaultClient, "http://"+addr+"/api/health", "", "")
	if err == nil && code < 300 {
		t.Errorf("plain http on the https port: %d %s, want an error or a failure status", code, body)
	}
	// TLS 1.2 is the minimum.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if code, _, err := get(t, old, "https://"+addr+"/api/health", "", ""); err == nil {
		t.Errorf("a TLS 1.1 client was answered %d, want a handshake failure", code)
	}
}

func TestServerHTTPStaysPlain(t *testing.T) {
	addr := startServer(t, "[server]\nprotocol = http\n")
	if code, body, err := get(t, http.DefaultClient, "http://"+addr+"/api/health", "", ""); err != nil || code != 200 {
		t.Errorf("GET http /api/health: %d %s (%v), want 200", code, body, err)
	}
}

func TestServerHTTPSRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	pairFile, certPEM := keyPair(t, dir)
	certOnly := filepath.Join(dir, "cert-only.pem")
	write(t, certOnly, certPEM)
	garbage := filepath.Join(dir, "garbage.pem")
	write(t, garbage, "not a key\n")
	tests := []struct{ name, server, want string }{
		{"no cert_file", "protocol = https\ncert_key = " + pairFile, "cert_file cannot be empty when using HTTPS"},
		{"no cert_key", "protocol = https\ncert_file = " + pairFile, "cert_key cannot be empty when using HTTPS"},
		{"missing cert_file", "protocol = https\ncert_file = " + dir + "/nope.pem\ncert_key = " + pairFile, "cannot find SSL cert_file"},
		{"missing cert_key", "protocol = https\ncert_file = " + pairFile + "\ncert_key = " + dir + "/nope.pem", "cannot find SSL key_file"},
		{"no key in the file", "protocol = https\ncert_file = " + certOnly + "\ncert_key = " + certOnly, "cert-only.pem"},
		{"unreadable pair", "protocol = https\ncert_file = " + garbage + "\ncert_key = " + garbage, "garbage.pem"},
		{"old TLS minimum", "protocol = https\nmin_tls_version = TLS1.0\ncert_file = " + pairFile + "\ncert_key = " + pairFile, "min_tls_version"},
		{"other protocol", "protocol = h2\ncert_file = " + pairFile + "\ncert_key = " + pairFile, `protocol \"h2\": the stand-in serves only http or https`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home, configPath := provisioningHome(t, nil)
			write(t, configPath, "[paths]\ndata = "+filepath.Join(home, "data")+"\n[server]\n"+tc.server+"\n")
			var stderr bytes.Buffer
			code := run([]string{"server", "--homepath", home, "--config", configPath, "cfg:server.http_addr=127.0.0.1", "cfg:server.http_port=0"},
				nil, io.Discard, &stderr, func(string) string { return "" })
			if code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 mentioning %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestMetricsBasicAuth(t *testing.T) {
	tests := []struct {
		name, metrics, user, password string
		status                        int
	}{
		{"both set, no credentials", "basic_auth_username = prom\nbasic_auth_password = scrape-pw", "", "", 401},
		{"both set, wrong password", "basic_auth_username = prom\nbasic_auth_password = scrape-pw", "prom", "nope", 401},
		{"both set, admin credentials", "basic_auth_username = prom\nbasic_auth_password = scrape-pw", "admin", "first-pw", 401},
		{"both set, right credentials", "basic_auth_username = prom\nbasic_auth_password = scrape-pw", "prom", "scrape-pw", 200},
		{"only the user set", "basic_auth_username = prom", "", "", 200},
		{"only the password set", "basic_auth_password = scrape-pw", "", "", 200},
		{"neither set", "", "", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := startServer(t, "[metrics]\n"+tc.metrics+"\n")
			code, body, err := get(t, http.DefaultClient, "http://"+addr+"/metrics", tc.user, tc.password)
			if err != nil || code != tc.status || (code == 200) != strings.Contains(body, "grafana_build_info{") {
				t.Errorf("GET /metrics as %q: %d %q (%v), want %d (with grafana_build_info only on 200)", tc.user, code, body, err, tc.status)
			}
			if code, _, _ := get(t, http.DefaultClient, "http://"+addr+"/api/health", "", ""); code != 200 {
				t.Errorf("/api/health: %d, want 200 whatever guards /metrics", code)
			}
		})
	}
}

// indentBlock indents every line of text for a YAML literal block.
func indentBlock(text, indent string) string {
	return indent + strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\n"+indent)
}

// secureDatasource is the datasource file obsbox writes with TLS and basic auth.
func secureDatasource(caBlock string) string {
	return `apiVersion: 1
datasources:
  - name: "Prometheus"
    type: prometheus
    uid: "obsbox-prometheus"
    orgId: 1
    access: proxy
    url: "https://10.99.0.11:9090"
    isDefault: true
    editable: false
    basicAuth: true
    basicAuthUser: "grafana"
    jsonData:
      httpMethod: POST
      prometheusType: Prometheus
      tlsAuthWithCACert: true
    secureJsonData:
      tlsCACert: ` + caBlock + `
      basicAuthPassword: "ds-s3cret$$x"
`
}

func TestDatasourceTLSAndBasicAuthAccepted(t *testing.T) {
	_, certPEM := keyPair(t, t.TempDir())
	quoted, _ := json.Marshal(certPEM) // a JSON string is a YAML double-quoted scalar
	for name, caBlock := range map[string]string{
		"literal block":    "|\n" + indentBlock(certPEM, "        "),
		"stripped literal": "|-\n" + indentBlock(certPEM, "        "),
		"double-quoted":    string(quoted),
	} {
		t.Run(name, func(t *testing.T) {
			dir, configPath := provisioningHome(t, nil)
			write(t, filepath.Join(dir, "prov", "datasources", "ds.yaml"), secureDatasource(caBlock))
			s, err := newServer(options{homepath: dir, config: configPath}, func(string) string { return "" }, logger{io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/api/datasources", "/api/datasources/uid/obsbox-prometheus"} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", path, nil)
				req.SetBasicAuth("admin", "first-pw")
				s.routes().ServeHTTP(rec, req)
				body := rec.Body.String()
				for _, want := range []string{`"basicAuth":true`, `"basicAuthUser":"grafana"`, `"tlsAuthWithCACert":true`,
					`"secureJsonFields":{"basicAuthPassword":true,"tlsCACert":true}`} {
					if rec.Code != 200 || !strings.Contains(body, want) {
						t.Errorf("GET %s: %d %s, want 200 containing %s", path, rec.Code, body, want)
					}
				}
				for _, secret := range []string{"ds-s3cret", "BEGIN CERTIFICATE"} {
					if strings.Contains(body, secret) {
						t.Errorf("GET %s exposes %q: %s", path, secret, body)
					}
				}
			}
		})
	}
}

func TestDatasourceTLSAndBasicAuthRefused(t *testing.T) {
	_, certPEM := keyPair(t, t.TempDir())
	good := "|\n" + indentBlock(certPEM, "        ")
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("xx")}))
	badDER := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	file := secureDatasource(good)
	tests := []struct{ name, yaml, want string }{
		{"CA not PEM", secureDatasource(`"just text"`), "secureJsonData.tlsCACert: no PEM certificate found"},
		{"CA a PEM key", secureDatasource("|\n" + indentBlock(keyPEM, "        ")), `PEM block 1 is a \"PRIVATE KEY\", not a CERTIFICATE`},
		{"CA bad DER", secureDatasource("|\n" + indentBlock(badDER, "        ")), "not a parseable certificate"},
		{"CA with trailing text", secureDatasource("|\n" + indentBlock(certPEM+"trailing\n", "        ")), "text after PEM block 1"},
		{"CA empty", strings.Replace(file, "tlsCACert: "+good, `tlsCACert: ""`, 1), "tlsAuthWithCACert is true but secureJsonData.tlsCACert is empty"},
		{"CA without tlsAuthWithCACert", strings.Replace(file, "tlsAuthWithCACert: true", "tlsAuthWithCACert: false", 1), "tlsAuthWithCACert is not true"},
		{"tlsAuthWithCACert a string", strings.Replace(file, "tlsAuthWithCACert: true", "tlsAuthWithCACert: maybe", 1), `jsonData: tlsAuthWithCACert: \"maybe\" is not a boolean`},
		{"basicAuth without user", strings.Replace(file, `    basicAuthUser: "grafana"`+"\n", "", 1), "basicAuth is true but basicAuthUser is empty"},
		{"basicAuth without password", strings.Replace(file, `      basicAuthPassword: "ds-s3cret$$x"`+"\n", "", 1), "basicAuth is true but secureJsonData.basicAuthPassword is empty"},
		{"user without basicAuth", strings.Replace(file, "basicAuth: true", "basicAuth: false", 1), "basicAuth is not true"},
		{"basicAuth not a boolean", strings.Replace(file, "basicAuth: true", "basicAuth: sure", 1), `basicAuth: \"sure\" is not a boolean`},
		{"password at the top level", strings.Replace(file, "    jsonData:", "    basicAuthPassword: ds-s3cret\n    jsonData:", 1), "basicAuthPassword at the top level"},
		{"secureJsonData not strings", strings.Replace(file, `basicAuthPassword: "ds-s3cret$$x"`, "basicAuthPassword: {a: ds-s3cret}", 1), "secureJsonData.basicAuthPassword must be a string"},
		{"jsonData not a mapping", strings.Replace(file, "    jsonData:\n", "    jsonData: [ds-s3cret]\n    jsonDatx:\n", 1), "jsonData must be a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.yaml == file {
				t.Fatal("the case did not change the accepted file")
			}
			dir, configPath := provisioningHome(t, nil)
			write(t, filepath.Join(dir, "prov", "datasources", "ds.yaml"), tc.yaml)
			var stderr bytes.Buffer
			code := run([]string{"server", "--homepath", dir, "--config", configPath, "cfg:server.http_port=0"},
				nil, io.Discard, &stderr, func(string) string { return "" })
			if code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 mentioning %q", code, stderr.String(), tc.want)
			}
			if strings.Contains(stderr.String(), "ds-s3cret") {
				t.Errorf("stderr shows the password: %q", stderr.String())
			}
		})
	}
}

// Grafana interpolates provisioning values: $$ is a literal $, $VAR and
// ${VAR} come from the environment.
func TestDatasourceInterpolation(t *testing.T) {
	m := map[string]any{"url": "https://$HOST:${PORT}/a$$b", "jsonData": map[string]any{"x": []any{"$HOST"}}}
	env := map[string]string{"HOST": "10.99.0.11", "PORT": "9090"}
	if err := interpolateAll(m, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"url": "https://10.99.0.11:9090/a$b", "jsonData": map[string]any{"x": []any{"10.99.0.11"}}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %#v, want %#v", m, want)
	}
	if err := interpolateAll(map[string]any{"a": "$__file{/nonexistent/obsbox}"}, func(string) string { return "" }); err == nil {
		t.Error("an unreadable $__file{} was accepted")
	}
}
