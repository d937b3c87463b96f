//go:build e2e

package e2e_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probeValue returns probe_success of every target of probe, by instance.
func probeValue(promURL, probe string) (map[string]string, error) {
	var resp struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/query?query="+urlEscape(`probe_success{probe="`+probe+`"}`), &resp); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range resp.Data.Result {
		if len(r.Value) == 2 {
			out[r.Metric["instance"]], _ = r.Value[1].(string)
		}
	}
	return out, nil
}

// TestProbes is issue 12's acceptance for blackbox_exporter: probes of an
// HTTP server on a test host (h2's node_exporter), of an address where
// nothing listens and an ICMP ping, from h1's Prometheus; the failing one
// pages; a second apply changes nothing; uninstall leaves the hosts as before.
func TestProbes(t *testing.T) {
	s := newStack(t, 2)
	hook := startWebhook(t)
	s.webhook = hook.url
	h2 := s.c.Hosts[1].Address
	before, _ := s.snapshot()

	// A plain http server that answers 2xx (the exporters ask for TLS and credentials).
	up, down := hook.url, "http://"+h2+":9/"
	extra := fmt.Sprintf(`
probe "web" {
  targets  = [%q]
  interval = "5s"
}

probe "dead" {
  targets  = [%q]
  interval = "5s"
  labels   = { team = "e2e" }
}

probe "ping" {
  module   = "icmp"
  targets  = [%q]
  interval = "5s"
}
`, up, down, h2)
	s.writeInventory(invData{Extra: extra, Rules: `  rule "ProbeFailed" { for = "5s" }`})
	prom := "http://" + s.c.Hosts[0].Address + ":9090"

	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	applied := time.Now()

	t.Run("blackbox_exporter listens on 127.0.0.1 only, hardened", func(t *testing.T) {
		out, err := s.c.SSH("h1", "ss -Hltn 'sport = :9115'")
		if err != nil {
			t.Fatal(err)
		}
		if fields := strings.Fields(out); len(fields) < 4 || fields[3] != "127.0.0.1:9115" || strings.Count(out, "\n") > 1 {
			t.Errorf("listeners on 9115: %q", out)
		}
		if out, _ := s.c.SSH("h2", "systemctl show -p LoadState --value obsbox-blackbox-exporter.service"); strings.TrimSpace(out) != "not-found" {
			t.Errorf("blackbox_exporter on h2, which has no prometheus role: %q", out)
		}
		out, err = s.c.SSH("h1", "systemd-analyze security obsbox-blackbox-exporter.service | tail -n1")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no score in %q", out)
		}
		if score, _ := strconv.ParseFloat(m[1], 64); score > 2.0 {
			t.Errorf("obsbox-blackbox-exporter.service scores %.1f, above 2.0", score)
		}
	})

	t.Run("probe_success is 1 and 0 within two intervals", func(t *testing.T) {
		// Two 5s intervals after Prometheus's reload, plus a few seconds for the query to see them.
		eventually(t, 15*time.Second, "probe results", func() error {
			for probe, want := range map[string]map[string]string{"web": {up: "1"}, "dead": {down: "0"}, "ping": {h2: "1"}} {
				got, err := probeValue(prom, probe)
				if err != nil {
					return err
				}
				for inst, v := range want {
					if got[inst] != v {
						return fmt.Errorf("probe %s: %v, want %s = %s", probe, got, inst, v)
					}
				}
			}
			return nil
		})
		t.Logf("probe results %.1fs after the apply", time.Since(applied).Seconds())
	})

	t.Run("ProbeFailed pages through the webhook", func(t *testing.T) {
		eventually(t, 90*time.Second, "ProbeFailed at the webhook", func() error {
			if hook.firing(map[string]string{"alertname": "ProbeFailed", "severity": "page", "probe": "dead", "instance": down, "team": "e2e"}) {
				return nil
			}
			return fmt.Errorf("no firing ProbeFailed for %s yet", down)
		})
		if hook.firing(map[string]string{"alertname": "ProbeFailed", "probe": "web"}) {
			t.Error("ProbeFailed fired for the probe that succeeds")
		}
	})

	t.Run("second apply changes nothing", func(t *testing.T) {
		pids := s.mainPIDs()
		r := s.obsbox("apply", "--json")
		if r.code != 0 {
			t.Fatalf("second apply: %s", r)
		}
		for _, h := range parseReport(t, r).Hosts {
			if len(h.Actions) != 0 || h.Uploaded != 0 {
				t.Errorf("%s: actions %v, uploaded %d bytes", h.Host, h.Actions, h.Uploaded)
			}
		}
		if after := s.mainPIDs(); fmt.Sprint(after) != fmt.Sprint(pids) {
			t.Errorf("units restarted: %v -> %v", pids, after)
		}
	})

	t.Run("uninstall leaves the hosts as before", func(t *testing.T) {
		s.uninstallAll(t)
		after, _ := s.snapshot()
		sameHosts(t, "after uninstall", before, after)
	})
}
