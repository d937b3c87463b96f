package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const statusFleet = `
host "h1" {
  address = "10.0.0.1"
  roles   = ["prometheus"]
}
host "h2" { address = "10.0.0.2" }
host "h3" { address = "10.0.0.3" }
`

// statusRun is a status run after its phases: h1 read and asked for its
// targets, h2 read, h3 powered off.
func statusRun(t *testing.T, hosts ...string) *Run {
	t.Helper()
	inv := loadInv(t, t.TempDir(), statusFleet)
	r, err := newRun(Options{Inventory: inv, Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	long := "Get \"http://127.0.0.1:9100/metrics\": connection refused by the node exporter, a long message"
	for _, h := range r.Hosts {
		switch h.Host.Name {
		case "h1":
			h.status = []StatusRow{{Host: "h1", Component: "prometheus", Version: "2.53.2", Unit: "active", Health: "ok"},
				{Host: "h1", Component: "node_exporter", Version: "1.8.2", Unit: "active", Health: "ok"}}
			h.scrape = &scrapeResult{targets: map[string]string{"h1": "up", "h2": "unknown", "h3": "down"}}
		case "h2":
			h.status = []StatusRow{{Host: "h2", Component: "node_exporter", Version: "1.8.2", Unit: "active", Health: long, Problem: true}}
		case "h3":
			h.fail("connect", errors.New("dial tcp 10.0.0.3:22: i/o timeout"))
		}
	}
	return r
}

func rowOf(rep *StatusReport, host, comp string) *StatusRow {
	for i, r := range rep.Rows {
		if r.Host == host && r.Component == comp {
			return &rep.Rows[i]
		}
	}
	return nil
}

// A target Prometheus knows but has not scraped is pending, not "no
// target"; a powered-off host's node_exporter shows Prometheus's "down",
// not "-"; the error names the unhealthy components; HEALTH is not cut.
func TestFinding6_StatusSaysWhatPrometheusSees(t *testing.T) {
	rep := statusRun(t).statusReport()
	if r := rowOf(rep, "h2", "node_exporter"); r == nil || r.Scraped != "pending" {
		t.Errorf("h2 (known, not scraped yet): %+v", r)
	}
	h3 := rowOf(rep, "h3", "node_exporter")
	if h3 == nil || h3.Scraped != "down" || !h3.Problem || h3.Unit != "unknown" {
		t.Errorf("h3 powered off: %+v", h3)
	}
	problems := rep.Problems()
	if len(problems) != 2 || !strings.HasPrefix(problems[0], "h2 node_exporter: Get") || problems[1] != "h3 node_exporter: unit unknown, unreachable, scraped down" {
		t.Errorf("problems: %q", problems)
	}
	var b bytes.Buffer
	rep.WriteTable(&b)
	out := b.String()
	if !strings.Contains(out, "connection refused by the node exporter, a long message") {
		t.Errorf("HEALTH was cut:\n%s", out)
	}
	if strings.Count(out, "i/o timeout") != 1 || strings.Contains(out, "h3: h3:") {
		t.Errorf("h3's error should show once:\n%s", out)
	}
	if !regexpLine(out, `^h3\s+node_exporter\s+-\s+unknown\s+unreachable\s+down$`) {
		t.Errorf("h3's row:\n%s", out)
	}
}

// status --hosts h3 shows only h3 (the Prometheus host is read, not shown).
func TestFinding6_StatusHostsShowsOnlyThose(t *testing.T) {
	r := statusRun(t, "h3")
	if len(r.Hosts) != 2 {
		t.Fatalf("the run should read h3 and the Prometheus host h1, got %d hosts", len(r.Hosts))
	}
	for _, h := range r.Hosts {
		if h.Host.Name == "h2" {
			t.Errorf("h2 was read")
		}
	}
	rep := r.statusReport()
	for _, row := range rep.Rows {
		if row.Host != "h3" {
			t.Errorf("status --hosts h3 shows %s", row.Host)
		}
	}
	if len(rep.Rows) == 0 || rowOf(rep, "h3", "node_exporter").Scraped != "down" {
		t.Errorf("rows: %+v", rep.Rows)
	}
}

// --json: what is not known is null, not "-".
func TestFinding6_StatusJSONNull(t *testing.T) {
	rep := statusRun(t).statusReport()
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), `"-"`) {
		t.Errorf("--json carries \"-\": %s", js)
	}
	var back struct {
		Rows []map[string]any `json:"rows"`
	}
	json.Unmarshal(js, &back)
	for _, row := range back.Rows {
		if row["host"] == "h3" && (row["version"] != nil || row["scraped"] != "down") {
			t.Errorf("h3: %v", row)
		}
		if row["component"] == "prometheus" {
			if v, ok := row["scraped"]; !ok || v != nil {
				t.Errorf("prometheus is not scraped: want scraped null, got %v", row)
			}
		}
	}
}

// Errors said "h3: h3: ssh …": the transport named the host and so did
// every line that shows a host's error. Only the run names it now.
func TestFinding6_HostNamedOnce(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "not-a-key")
	if err := os.WriteFile(key, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := loadInv(t, dir, `ssh {
  user        = "root"
  private_key = "`+key+`"
  known_hosts = "`+filepath.Join(dir, "known_hosts")+`"
}
host "h3" {
  address = "127.0.0.1"
  roles   = ["prometheus"]
}
`)
	var progress bytes.Buffer
	rep, err := Status(context.Background(), Options{Inventory: inv, Out: &progress})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	run := &Report{Hosts: []*HostResult{{Host: "h3", Phase: "connect", Error: rep.Rows[0].Error}}}
	var summary bytes.Buffer
	run.WriteSummary(&summary)
	for what, out := range map[string]string{"progress": progress.String(), "status": table.String(), "summary": summary.String()} {
		if !strings.Contains(out, "private key") {
			t.Errorf("%s does not say why:\n%s", what, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Count(line, "h3") > 1 {
				t.Errorf("%s names the host twice: %q", what, line)
			}
		}
	}
}
