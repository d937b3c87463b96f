//go:build e2e

package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
)

type jsonReport struct {
	Hosts []struct {
		Host     string `json:"host"`
		OK       bool   `json:"ok"`
		Actions  []jsonAction
		Uploaded int64 `json:"uploaded_bytes"`
	} `json:"hosts"`
}

type jsonAction struct {
	Op     string `json:"op"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
}

func parseReport(t *testing.T, r result) jsonReport {
	t.Helper()
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, r)
	}
	return rep
}

func (rep jsonReport) actions(host string) []jsonAction {
	for _, h := range rep.Hosts {
		if h.Host == host {
			return h.Actions
		}
	}
	return nil
}

// fingerprint is every obsbox file's hash on every host plus the units' MainPIDs.
func (s *stack) fingerprint() string {
	s.t.Helper()
	var b strings.Builder
	for _, h := range s.c.Hosts {
		out, err := s.c.SSH(h.Name, "find /etc/obsbox /opt/obsbox /etc/systemd/system -path '*obsbox*' -type f -exec sha256sum {} + 2>/dev/null | sort; systemctl show -p MainPID 'obsbox-*.service' 2>/dev/null")
		if err != nil && !strings.Contains(err.Error(), "exit status 1") {
			s.t.Fatal(err)
		}
		b.WriteString(h.Name + "\n" + out)
	}
	return b.String()
}

// TestFleet is issue 5's acceptance: plan, add-host, status (and remove-host).
func TestFleet(t *testing.T) {
	s := newStack(t, 4)
	s.webhook = "http://" + harness.BridgeAddress() + ":1/"
	three := s.c.Hosts[:3]
	h4 := s.c.Hosts[3]
	s.writeInventory(invData{Hosts: three})
	prom := "http://" + s.c.Hosts[0].Address + ":9090"
	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}

	t.Run("plan on a converged fleet", func(t *testing.T) {
		r := s.obsbox("plan")
		if r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
			t.Fatalf("plan: %s", r)
		}
		if r := s.obsbox("plan", "--detailed-exitcode"); r.code != 0 {
			t.Fatalf("plan --detailed-exitcode on a converged fleet: %s", r)
		}
	})

	t.Run("a scrape_interval change is planned, then applied exactly as planned", func(t *testing.T) {
		src, _ := os.ReadFile(s.inv)
		os.WriteFile(s.inv, []byte(strings.Replace(string(src), `scrape_interval     = "5s"`, `scrape_interval     = "7s"`, 1)), 0o644)
		before := s.fingerprint()
		r := s.obsbox("plan")
		if r.code != 0 {
			t.Fatalf("plan: %s", r)
		}
		for _, want := range []string{"prometheus.yml (on host)", "+  scrape_interval: '7s'", "reload  service  obsbox-prometheus.service"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("plan lacks %q:\n%s", want, r.stdout)
			}
		}
		if r := s.obsbox("plan", "--detailed-exitcode"); r.code != 2 {
			t.Errorf("plan --detailed-exitcode with changes pending: %s", r)
		}
		planned := parseReport(t, s.obsbox("plan", "--json"))
		for _, h := range []string{"h2", "h3"} {
			if a := planned.actions(h); len(a) != 0 {
				t.Errorf("%s should have nothing to do: %v", h, a)
			}
		}
		for _, a := range planned.actions("h1") {
			if a.Op == "restart" || a.Op == "start" {
				t.Errorf("h1: a scrape interval change must not restart anything: %v", a)
			}
		}
		if after := s.fingerprint(); after != before {
			t.Errorf("plan changed something on the hosts:\n%s\n---\n%s", before, after)
		}
		applied := parseReport(t, s.obsbox("apply", "--json"))
		for _, h := range s.c.Hosts[:3] {
			if !reflect.DeepEqual(planned.actions(h.Name), applied.actions(h.Name)) {
				t.Errorf("%s: apply did %v, plan said %v", h.Name, applied.actions(h.Name), planned.actions(h.Name))
			}
		}
		if r := s.obsbox("plan", "--detailed-exitcode"); r.code != 0 {
			t.Errorf("after apply nothing should be pending: %s", r)
		}
	})

	invBeforeAdd, _ := os.ReadFile(s.inv)
	t.Run("add-host", func(t *testing.T) {
		pids := s.mainPIDs()
		r := s.obsbox("add-host", h4.Name, "--address", h4.Address, "--json")
		if r.code != 0 {
			t.Fatalf("add-host: %s", r)
		}
		rep := parseReport(t, r)
		for _, h := range rep.Hosts {
			switch h.Host {
			case "h4":
			case "h1":
				if a := h.Actions; len(a) != 1 || a[0].Target != "/etc/obsbox/prometheus/targets/node.json" {
					t.Errorf("h1 should only get the new target: %v", a)
				}
			default:
				t.Errorf("%s should not be touched by add-host (got %v)", h.Host, h.Actions)
			}
		}
		eventually(t, 60*time.Second, "h4's target up", func() error {
			got, err := nodeTargets(prom)
			if err != nil {
				return err
			}
			if got["h4"] != "up" {
				return fmt.Errorf("%v", got)
			}
			return nil
		})
		after := s.mainPIDs()
		for k, v := range pids {
			if after[k] != v {
				t.Errorf("%s restarted by add-host", k)
			}
		}
		// The inventory gained exactly one block, the rest byte for byte.
		now, _ := os.ReadFile(s.inv)
		inserted, rest := insertion(string(invBeforeAdd), string(now))
		if rest != string(invBeforeAdd) || !strings.Contains(inserted, `host "h4"`) || !strings.Contains(inserted, h4.Address) || strings.Count(inserted, "host ") != 1 {
			t.Errorf("inventory change is not exactly one appended host block:\n%s", inserted)
		}
	})

	t.Run("status", func(t *testing.T) {
		r := s.obsbox("status")
		if r.code != 0 {
			t.Fatalf("status on a healthy fleet: %s", r)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if len([]rune(line)) > 100 {
				t.Errorf("status line wider than 100 columns: %q", line)
			}
		}
		if _, err := s.c.SSH("h2", "systemctl stop obsbox-node-exporter.service"); err != nil {
			t.Fatal(err)
		}
		defer s.c.SSH("h2", "systemctl start obsbox-node-exporter.service")
		var rows []map[string]any
		eventually(t, 60*time.Second, "status shows h2 down", func() error {
			r = s.obsbox("status", "--json")
			var rep struct {
				Rows []map[string]any `json:"rows"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				return err
			}
			rows = rep.Rows
			for _, row := range rows {
				if row["host"] == "h2" && row["component"] == "node_exporter" && row["scraped"] == "down" {
					return nil
				}
			}
			return fmt.Errorf("%v", rows)
		})
		if r.code != 1 {
			t.Errorf("status --json with a stopped unit should exit 1: %s", r)
		}
		for _, row := range rows {
			if row["host"] == "h2" && row["component"] == "node_exporter" && row["unit_state"] != "inactive" {
				t.Errorf("h2 node_exporter unit state: %v", row)
			}
		}
		r = s.obsbox("status")
		if r.code != 1 || !regexpMatch(`(?m)^h2\s+node_exporter\s+\S+\s+inactive\s+.*down\s*$`, r.stdout) {
			t.Errorf("status table should show h2's node_exporter inactive and down: %s", r)
		}
	})

	t.Run("remove-host", func(t *testing.T) {
		if !hasCommand(t, "remove-host") {
			t.Skip("remove-host is not built yet")
		}
		r := s.obsbox("remove-host", h4.Name, "--yes")
		if r.code != 0 {
			t.Fatalf("remove-host: %s", r)
		}
		eventually(t, 60*time.Second, "h4's target gone", func() error {
			got, err := nodeTargets(prom)
			if err != nil {
				return err
			}
			if _, ok := got["h4"]; ok {
				return fmt.Errorf("%v", got)
			}
			return nil
		})
		out, _ := s.c.SSH(h4.Name, "ls -d /opt/obsbox /etc/obsbox /var/lib/obsbox /etc/systemd/system/obsbox-* 2>/dev/null; getent passwd | grep obsbox; getent group | grep obsbox; true")
		if strings.TrimSpace(out) != "" {
			t.Errorf("h4 still holds obsbox things:\n%s", out)
		}
		now, _ := os.ReadFile(s.inv)
		if string(now) != string(invBeforeAdd) {
			t.Errorf("inventory after remove-host differs from before add-host:\n%s", now)
		}
	})
}

// insertion returns what was inserted into before to make after, and after
// without it; rest == before when the change is one insertion.
func insertion(before, after string) (inserted, rest string) {
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	q := 0
	for q < len(before)-p && q < len(after)-p && before[len(before)-1-q] == after[len(after)-1-q] {
		q++
	}
	return after[p : len(after)-q], after[:p] + after[len(after)-q:]
}

func hasCommand(t *testing.T, name string) bool {
	r := obsbox(t, nil, name, "--help")
	return r.code == 0 && strings.Contains(r.stdout, name)
}
