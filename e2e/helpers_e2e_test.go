//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
	"github.com/obsbox/obsbox/installer/catalog"
)

// obsboxBin is the binary under test, built by `make test-e2e` (make build).
func obsboxBin(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../bin/obsbox")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: run `make build` first (make test-e2e does)", p)
	}
	return p
}

// result is one obsbox run.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// obsbox runs the binary with args and no terminal.
func obsbox(t testing.TB, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(obsboxBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running obsbox %v: %v", args, err)
	}
	t.Logf("obsbox %s -> exit %d in %.1fs", strings.Join(args, " "), r.code, time.Since(start).Seconds())
	return r
}

// stack is a booted cluster plus an inventory for it.
type stack struct {
	t       testing.TB
	c       *harness.Cluster
	dir     string
	inv     string
	mirror  string
	webhook string
	extra   string // appended to the inventory
}

const inventoryTmpl = `# e2e inventory
ssh {
  user        = "root"
  private_key = "{{.Key}}"
  known_hosts = "{{.KnownHosts}}"
}

versions {
  prometheus    = "{{.Prometheus}}"
  alertmanager  = "{{.Alertmanager}}"
  grafana       = "11.2.2"
  node_exporter = "{{.NodeExporter}}"
}

bundles {
  dir     = "{{.Dir}}/bundles"
  mirror  = "{{.Mirror}}"
}

{{range $i, $h := .Hosts}}host "{{$h.Name}}" {
  address = "{{$h.Address}}"
{{- if eq $i 0}}
  roles   = ["prometheus", "alertmanager", "grafana"]
  labels  = { env = "e2e" }
{{- end}}
{{- if eq $i 1}}
  ssh { user = "deploy" }
{{- end}}
{{- if eq $i 2}}
  ssh {
    user          = "secure"
    sudo_password = env("OBSBOX_E2E_SUDO_PASSWORD")
  }
{{- end}}
}

{{end}}
prometheus {
  retention           = "2d"
  scrape_interval     = "5s"
  evaluation_interval = "5s"
{{- if .RuleFiles}}
  rule_files          = ["rules/*.yml"]
{{- end}}
}

alertmanager {
  receiver "hook" {
    webhook { url = "{{.Webhook}}" }
  }
  route {
    severity = "page"
    receiver = "hook"
  }
  default_receiver = "hook"
{{- if .Watchdog}}
  watchdog_receiver = "hook"
  watchdog_interval = "{{.Watchdog}}"
{{- end}}
}

grafana {
  admin_password = "e2e-admin-pw"
}

rules {
  rule "HostDown" { for = "10s" }
{{- if .Rules}}
{{.Rules}}
{{- end}}
}
{{.Extra}}
`

type invData struct {
	Key, KnownHosts, Dir, Mirror, Webhook, Extra string
	Watchdog                                     string // watchdog_interval; "" = Watchdog goes nowhere
	Rules                                        string // more lines of the rules block
	Prometheus, Alertmanager, NodeExporter       string
	Hosts                                        []harness.Host
	RuleFiles                                    bool
}

// writeInventory writes the stack's inventory with the given versions and extras.
func (s *stack) writeInventory(d invData) {
	s.t.Helper()
	d.Key, d.KnownHosts, d.Dir, d.Mirror, d.Webhook = s.c.KeyPath, filepath.Join(s.dir, "known_hosts"), s.dir, s.mirror, s.webhook
	if d.Prometheus == "" {
		d.Prometheus = "2.53.3"
	}
	if d.Alertmanager == "" {
		d.Alertmanager = "0.27.0"
	}
	if d.NodeExporter == "" {
		d.NodeExporter = "1.8.2"
	}
	if d.Hosts == nil {
		d.Hosts = s.c.Hosts
	}
	var b bytes.Buffer
	if err := template.Must(template.New("inv").Parse(inventoryTmpl)).Execute(&b, d); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.inv, b.Bytes(), 0o644); err != nil {
		s.t.Fatal(err)
	}
	useStackDir(s.dir)
}

func (s *stack) env() []string {
	return []string{"OBSBOX_E2E_SUDO_PASSWORD=" + harness.SecurePassword}
}

func (s *stack) obsbox(args ...string) result {
	s.t.Helper()
	return obsbox(s.t, s.env(), append([]string{"-i", s.inv, "--no-progress"}, args...)...)
}

// resetKnownHosts copies the harness's known_hosts (every host's key) for the stack.
func (s *stack) resetKnownHosts() {
	b, err := os.ReadFile(s.c.KnownHostsPath)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "known_hosts"), b, 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// mainPIDs returns each obsbox unit's MainPID on every host.
func (s *stack) mainPIDs() map[string]string {
	s.t.Helper()
	pids := map[string]string{}
	for _, h := range s.c.Hosts {
		out, err := s.c.SSH(h.Name, "systemctl show -p Id,MainPID "+strings.Join(units(), " "))
		if err != nil {
			s.t.Fatal(err)
		}
		// One block per unit, blank-line separated; systemctl prints its
		// properties in its own order, not the -p order.
		for _, block := range strings.Split(out, "\n\n") {
			var id, pid string
			for _, line := range strings.Split(block, "\n") {
				if v, ok := strings.CutPrefix(line, "Id="); ok {
					id = v
				}
				if v, ok := strings.CutPrefix(line, "MainPID="); ok {
					pid = v
				}
			}
			if id != "" && pid != "" && pid != "0" {
				pids[h.Name+"/"+id] = pid
			}
		}
	}
	return pids
}

func getJSON(url string, v any) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

type targetsResponse struct {
	Data struct {
		ActiveTargets []struct {
			Labels    map[string]string `json:"labels"`
			ScrapeURL string            `json:"scrapeUrl"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	} `json:"data"`
}

// nodeTargets returns instance -> health of Prometheus's node job.
func nodeTargets(promURL string) (map[string]string, error) {
	var tr targetsResponse
	if err := getJSON(promURL+"/api/v1/targets", &tr); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, at := range tr.Data.ActiveTargets {
		if at.Labels["job"] == "node" {
			out[at.Labels["instance"]] = at.Health
		}
	}
	return out, nil
}

// eventually polls f every second until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, err)
}

func itoa(i int) string { return strconv.Itoa(i) }

func regexpMust(re string) *regexp.Regexp { return regexp.MustCompile(re) }

func urlEscape(s string) string { return url.QueryEscape(s) }

// units are every obsbox unit, in install order.
func units() []string {
	var out []string
	for _, c := range catalog.All() {
		out = append(out, c.Unit)
	}
	return out
}

// vmURL is the base URL of the VictoriaMetrics on addr.
func vmURL(addr string) string { return "http://" + addr + ":8428" }

// series is one result of an instant query: its labels and value.
type series struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// querySeries runs an instant query at at against a Prometheus-compatible
// API (Prometheus, VictoriaMetrics) and returns every series it answers.
func querySeries(base, q string, at time.Time) ([]series, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []series `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(fmt.Sprintf("%s/api/v1/query?query=%s&time=%d", base, urlEscape(q), at.Unix()), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %s: status %q", q, resp.Status)
	}
	return resp.Data.Result, nil
}

// jobTargets returns instance -> health of Prometheus's targets of job.
func jobTargets(promURL, job string) (map[string]string, error) {
	var tr targetsResponse
	if err := getJSON(promURL+"/api/v1/targets", &tr); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, at := range tr.Data.ActiveTargets {
		if at.Labels["job"] == job {
			out[at.Labels["instance"]] = at.Health
		}
	}
	return out, nil
}

// postJSON POSTs a JSON body to url and decodes the answer into v.
func postJSON(url, body string, v any) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// activeTargets returns "job/instance" -> health of every target Prometheus scrapes.
func activeTargets(promURL string) (map[string]string, error) {
	var tr targetsResponse
	if err := getJSON(promURL+"/api/v1/targets?state=active", &tr); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, at := range tr.Data.ActiveTargets {
		out[at.Labels["job"]+"/"+at.Labels["instance"]] = at.Health
	}
	return out, nil
}

// firingAlerts returns the labels of the alerts Prometheus has firing.
func firingAlerts(promURL string) ([]map[string]string, error) {
	var ar struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/alerts", &ar); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, a := range ar.Data.Alerts {
		if a.State == "firing" {
			out = append(out, a.Labels)
		}
	}
	return out, nil
}

// amStatus is what an Alertmanager says of itself: its version, its
// cluster's status and how many peers (itself included) it lists.
type amStatus struct {
	Version string
	Cluster string
	Peers   int
}

func alertmanagerStatus(amURL string) (amStatus, error) {
	var st struct {
		Cluster struct {
			Status string `json:"status"`
			Peers  []any  `json:"peers"`
		} `json:"cluster"`
		VersionInfo map[string]string `json:"versionInfo"`
	}
	if err := getJSON(amURL+"/api/v2/status", &st); err != nil {
		return amStatus{}, err
	}
	return amStatus{Version: st.VersionInfo["version"], Cluster: st.Cluster.Status, Peers: len(st.Cluster.Peers)}, nil
}
