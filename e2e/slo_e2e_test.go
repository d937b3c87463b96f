//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sloTargetSource is the HTTP server the SLO probes: the test hosts have no
// python3 or busybox, so a static Go binary is built here and copied over.
const sloTargetSource = `package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		os.Exit(1)
	}
}
`

// sloTargetPath is where the server lives on the host; the test removes it.
const sloTargetPath = "/usr/local/bin/obsbox-e2e-slo-target"

// copyToHost writes b to path on host over ssh (the harness's key), mode 0755.
func copyToHost(t *testing.T, s *stack, host, path string, b []byte) {
	t.Helper()
	h, err := s.c.Host(host)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ssh", "-F", "/dev/null", "-i", s.c.KeyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"root@"+h.Address, "cat > "+shQuote(path)+".part && chmod 755 "+shQuote(path)+".part && mv "+shQuote(path)+".part "+shQuote(path))
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copying %s to %s: %v: %s", path, host, err, out)
	}
}

// activePages counts the 1h/5m ErrorBudgetBurn pages Alertmanager holds as
// active (a resolved alert is not).
func activePages(am string) (int, error) {
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	q := "/api/v2/alerts?active=true&filter=" + urlEscape(`alertname="ErrorBudgetBurn"`) + "&filter=" + urlEscape(`severity="page"`)
	if err := getJSON(am+q, &alerts); err != nil {
		return 0, err
	}
	n := 0
	for _, a := range alerts {
		if a.Labels["long_window"] == "1h" {
			n++
		}
	}
	return n, nil
}

// promVector runs an instant query on Prometheus and returns its series' labels.
func promVector(prom, q string) ([]map[string]string, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(prom+"/api/v1/query?query="+urlEscape(q), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %s: status %q", q, resp.Status)
	}
	var out []map[string]string
	for _, r := range resp.Data.Result {
		out = append(out, r.Metric)
	}
	return out, nil
}

// sloRow runs obsbox slo --json and returns the SLO's row.
func sloRow(t *testing.T, s *stack, name string) map[string]any {
	t.Helper()
	r := s.obsbox("slo", "--json")
	if r.code != 0 {
		t.Fatalf("obsbox slo: %s", r)
	}
	var rep struct {
		Prometheus string           `json:"prometheus"`
		SLOs       []map[string]any `json:"slos"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("obsbox slo --json: %v\n%s", err, r.stdout)
	}
	for _, row := range rep.SLOs {
		if row["slo"] == name {
			return row
		}
	}
	t.Fatalf("obsbox slo --json has no %s: %s", name, r.stdout)
	return nil
}

// TestSLO is issue 16's acceptance: a probe SLO (99.9) of an HTTP server on
// h2, probed from h1. Stopping the server pages ErrorBudgetBurn (the 1h/5m
// pair) at the webhook within 4 minutes; obsbox slo shows the budget
// falling; starting it again ends the page once the 5m window holds no
// failure. The rules are the shipped ones, for included: the 1h/5m pair
// answers within minutes of a full outage by design, on any Prometheus.
func TestSLO(t *testing.T) {
	src := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte(sloTargetSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(src), "slo-target")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-trimpath")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the target server: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	s := newStack(t, 2)
	hook := startWebhook(t)
	s.webhook = hook.url
	h2 := s.c.Hosts[1].Address
	copyToHost(t, s, "h2", sloTargetPath, b)
	startServer := func() {
		t.Helper()
		if out, err := s.c.SSH("h2", "systemd-run --unit=obsbox-e2e-slo-target "+shQuote(sloTargetPath)+" :8080"); err != nil {
			t.Fatalf("starting the server: %v %s", err, out)
		}
	}
	stopServer := func() {
		t.Helper()
		if out, err := s.c.SSH("h2", "systemctl stop obsbox-e2e-slo-target.service"); err != nil {
			t.Fatalf("stopping the server: %v %s", err, out)
		}
	}
	startServer()
	t.Cleanup(func() {
		s.c.SSH("h2", "systemctl stop obsbox-e2e-slo-target.service; rm -f "+shQuote(sloTargetPath))
	})

	target := "http://" + h2 + ":8080/"
	s.writeInventory(invData{Extra: fmt.Sprintf(`
probe "web" {
  targets  = [%q]
  interval = "5s"
}

slo "web-availability" {
  objective = 99.9
  probe     = "web"
  labels    = { team = "e2e" }
}
`, target)})
	prom := "http://" + s.c.Hosts[0].Address + ":9090"
	am := "http://" + s.c.Hosts[0].Address + ":9093"
	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	page := map[string]string{"alertname": "ErrorBudgetBurn", "severity": "page", "slo": "web-availability", "long_window": "1h", "short_window": "5m", "team": "e2e"}

	t.Run("probe succeeds and obsbox slo shows the whole budget", func(t *testing.T) {
		// The window's series come from the long group, evaluated once a minute.
		eventually(t, 150*time.Second, "probe_success 1 and recorded SLO series", func() error {
			got, err := probeValue(prom, "web")
			if err != nil {
				return err
			}
			if got[target] != "1" {
				return fmt.Errorf("probe_success %v", got)
			}
			v, err := promVector(prom, `slo:error_budget_remaining:ratio{slo="web-availability"} == 1`)
			if err != nil || len(v) != 1 {
				return fmt.Errorf("budget series %v, %v", v, err)
			}
			return nil
		})
		// Some successes, so the outage below is measured against some history.
		time.Sleep(20 * time.Second)
		row := sloRow(t, s, "web-availability")
		if left, _ := row["error_budget_left_percent"].(float64); left != 100 {
			t.Errorf("budget left %v before any failure, want 100: %v", row["error_budget_left_percent"], row)
		}
		if row["objective_percent"] != 99.9 || row["window"] != "30d" {
			t.Errorf("row %v", row)
		}
	})

	var stopped time.Time
	// The first row of obsbox slo that shows budget spent, read while the
	// page is on its way: the budget falling is then seen without waiting.
	var firstSpent map[string]any
	t.Run("stopping the server pages within 4 minutes", func(t *testing.T) {
		stopServer()
		stopped = time.Now()
		var lastRow time.Time
		eventually(t, 4*time.Minute, "ErrorBudgetBurn page at the webhook", func() error {
			if firstSpent == nil && time.Since(lastRow) > 10*time.Second {
				lastRow = time.Now()
				row := sloRow(t, s, "web-availability")
				if left, ok := row["error_budget_left_percent"].(float64); ok && left < 100 {
					firstSpent = row
				}
			}
			if hook.firing(page) {
				return nil
			}
			return fmt.Errorf("no firing ErrorBudgetBurn page yet")
		})
		t.Logf("ErrorBudgetBurn paged %.0fs after the server stopped", time.Since(stopped).Seconds())
		if n, err := activePages(am); err != nil || n != 1 {
			t.Errorf("Alertmanager lists %d active 1h/5m pages (%v), want 1", n, err)
		}
		if hook.firing(map[string]string{"alertname": "ErrorBudgetBurn", "severity": "ticket"}) {
			t.Error("a ticket fired already: the ticket pairs' for is an hour or more")
		}
	})

	t.Run("obsbox slo shows the budget falling", func(t *testing.T) {
		first := firstSpent
		if first == nil {
			first = sloRow(t, s, "web-availability")
		}
		a, _ := first["error_budget_left_percent"].(float64)
		if a >= 100 {
			t.Errorf("budget left %v during the outage", first["error_budget_left_percent"])
		}
		// The window's ratio is evaluated once a minute (the long group).
		var second map[string]any
		eventually(t, 150*time.Second, "the budget left to fall further", func() error {
			second = sloRow(t, s, "web-availability")
			if b, _ := second["error_budget_left_percent"].(float64); b >= a {
				return fmt.Errorf("budget left %v, was %v", second["error_budget_left_percent"], a)
			}
			return nil
		})
		if burn, _ := second["burn_rate_now"].(float64); burn < 14.4 {
			t.Errorf("burn rate now %v during a full outage, want above 14.4", second["burn_rate_now"])
		}
		if f, _ := second["firing"].([]any); len(f) == 0 || !strings.Contains(fmt.Sprint(f), "page (1h/5m)") {
			t.Errorf("firing %v, want the 1h/5m page", second["firing"])
		}
		r := s.obsbox("slo")
		if r.code != 0 || !strings.Contains(r.stdout, "web-availability") || !strings.Contains(r.stdout, "page (1h/5m)") {
			t.Errorf("obsbox slo table: %s", r)
		}
		t.Logf("obsbox slo:\n%s", r.stdout)
	})

	t.Run("restarting the server ends the page once the 5m window clears", func(t *testing.T) {
		startServer()
		restarted := time.Now()
		firingPage := `ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",severity="page",long_window="1h",slo="web-availability"}`
		// The 5m window must lose every failed probe first: not before ~5m.
		eventually(t, 7*time.Minute, "the 1h/5m page to end", func() error {
			v, err := promVector(prom, firingPage)
			if err != nil {
				return err
			}
			if len(v) > 0 {
				return fmt.Errorf("still firing")
			}
			return nil
		})
		ended := time.Since(restarted)
		t.Logf("page ended %.0fs after the restart", ended.Seconds())
		if ended < 4*time.Minute {
			t.Errorf("page ended %.0fs after the restart, before the 5m window could clear", ended.Seconds())
		}
		if v, err := promVector(prom, `slo:sli_error:ratio_rate1h{slo="web-availability"} > 14.4 * 0.001`); err != nil || len(v) != 1 {
			t.Errorf("the 1h window should still remember the outage: %v, %v", v, err)
		}
		// Prometheus has told Alertmanager: the page is no longer active there.
		// (Alertmanager sends the resolution to the webhook at the group's next
		// flush, up to group_interval = 5m later; send_resolved is in the
		// rendered configuration's golden files, and waiting for it here would
		// cost the suite minutes for Alertmanager's own behaviour.)
		eventually(t, 60*time.Second, "the page resolved in Alertmanager", func() error {
			if n, err := activePages(am); err != nil || n != 0 {
				return fmt.Errorf("%d active, %v", n, err)
			}
			return nil
		})
		// Not asserted: in a Prometheus this young the outage is above 6x over 6h
		// and 30m too, so the 6h/30m pair (for 15m) pages for it later, by design.
		t.Logf("outage of %.0fs", restarted.Sub(stopped).Seconds())
	})
}
