//go:build e2e

package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pages counts the firing notifications of alert name for instance that reached the webhook.
func (w *webhook) pages(name, instance string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.alerts {
		l, _ := a["labels"].(map[string]any)
		if a["status"] == "firing" && l["alertname"] == name && l["instance"] == instance {
			n++
		}
	}
	return n
}

// exactlyOnce waits until instance's HostDown reached the webhook, then long
// enough for every other Alertmanager to have sent it too (group_wait 30s
// plus each member's 15s peer wait) had the cluster not shared that it was sent.
// meanwhile runs in that wait.
func exactlyOnce(t *testing.T, hook *webhook, instance string, meanwhile func()) {
	t.Helper()
	pageArrives(t, hook, instance)
	arrived := time.Now()
	meanwhile()
	time.Sleep(time.Until(arrived.Add(60 * time.Second)))
	if n := hook.pages("HostDown", instance); n != 1 {
		t.Errorf("HostDown for %s reached the webhook %d times, want exactly once", instance, n)
	}
}

// pageArrives waits until instance's HostDown reached the webhook.
func pageArrives(t *testing.T, hook *webhook, instance string) {
	t.Helper()
	eventually(t, 150*time.Second, "HostDown for "+instance+" at the webhook", func() error {
		if hook.pages("HostDown", instance) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}

// firingOn waits until the Prometheus at promURL fires an alert with these labels.
func firingOn(t *testing.T, promURL string, labels map[string]string) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("%v firing on %s", labels, promURL), func() error {
		alerts, err := firingAlerts(promURL)
		if err != nil {
			return err
		}
	next:
		for _, a := range alerts {
			for k, v := range labels {
				if a[k] != v {
					continue next
				}
			}
			return nil
		}
		return fmt.Errorf("firing: %v", alerts)
	})
}

// bootNames matches the per-boot part of systemd's PrivateTmp folder names.
var bootNames = regexp.MustCompile(`(/var/tmp/systemd-private-)[0-9a-f]{32}(-\S+\.service)-[A-Za-z0-9]{6}`)

// giveRoles adds a roles line to host name's block in the stack's inventory.
func giveRoles(t *testing.T, s *stack, name, roles string) {
	t.Helper()
	b, err := os.ReadFile(s.inv)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^host "` + regexp.QuoteMeta(name) + `" \{\n`)
	loc := re.FindIndex(b)
	if loc == nil {
		t.Fatalf("no block for %s in the inventory:\n%s", name, b)
	}
	b = append(b[:loc[1]:loc[1]], append([]byte("  roles   = "+roles+"\n"), b[loc[1]:]...)...)
	if err := os.WriteFile(s.inv, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHA is issue 15's acceptance for Prometheus replicas and the
// Alertmanager cluster: h1 and h2 prometheus + alertmanager, h3 alertmanager
// + grafana, h4 and h5 plain; h6 joins by add-host.
func TestHA(t *testing.T) {
	s := newStack(t, 6)
	hook := startWebhook(t)
	s.webhook = hook.url
	before, _ := s.snapshot()

	// Watchdog every 10s to the webhook; the HA rules' for shortened so the
	// test sees them fire (HostDown's 10s comes with the e2e inventory).
	s.writeInventory(invData{Hosts: s.c.Hosts[:5], Watchdog: "10s", Rules: `  rule "PrometheusReplicaDown" { for = "20s" }
  rule "AlertmanagerClusterDegraded" { for = "20s" }`})
	src, err := os.ReadFile(s.inv)
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte(`roles   = ["prometheus", "alertmanager", "grafana"]`), []byte(`roles   = ["prometheus", "alertmanager"]`), 1)
	if err := os.WriteFile(s.inv, src, 0o644); err != nil {
		t.Fatal(err)
	}
	giveRoles(t, s, "h2", `["prometheus", "alertmanager"]`)
	// h3 also keeps the history: both replicas remote-write to its VictoriaMetrics.
	giveRoles(t, s, "h3", `["alertmanager", "victoriametrics", "grafana"]`)

	addr := map[string]string{}
	for _, h := range s.c.Hosts {
		addr[h.Name] = h.Address
	}
	prom := func(h string) string { return "http://" + addr[h] + ":9090" }
	am := func(h string) string { return "http://" + addr[h] + ":9093" }
	proms, ams := []string{"h1", "h2"}, []string{"h1", "h2", "h3"}

	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("first apply: %s", r)
	}

	clusterOf := func(t *testing.T, members []string, n int, version string) {
		t.Helper()
		eventually(t, 90*time.Second, fmt.Sprintf("every Alertmanager of %v sees %d peers", members, n), func() error {
			for _, h := range members {
				st, err := alertmanagerStatus(am(h))
				if err != nil {
					return err
				}
				if st.Cluster != "ready" || st.Peers != n || (version != "" && st.Version != version) {
					return fmt.Errorf("%s: %+v", h, st)
				}
			}
			return nil
		})
	}

	want := []string{"node/h1", "node/h2", "node/h3", "node/h4", "node/h5", "prometheus/h1", "prometheus/h2",
		"alertmanager/h1", "alertmanager/h2", "alertmanager/h3", "grafana/h3", "victoriametrics/h3"}
	// onePerTarget: h3's VictoriaMetrics answers `up` at `at` with one series
	// per target: the two replicas' identical copies are one. newer, when
	// set, is a time every target's newest sample must be after.
	onePerTarget := func(at, newer time.Time) error {
		q := "up"
		if !newer.IsZero() {
			q = "timestamp(up)"
		}
		got, err := querySeries(vmURL(addr["h3"]), q, at)
		if err != nil {
			return err
		}
		seen := map[string]int{}
		for _, sr := range got {
			seen[sr.Metric["job"]+"/"+sr.Metric["instance"]]++
			if ts, _ := strconv.ParseFloat(fmt.Sprint(sr.Value[1]), 64); !newer.IsZero() && ts <= float64(newer.Unix()) {
				return fmt.Errorf("%s/%s: newest sample at %.0f, not after %d", sr.Metric["job"], sr.Metric["instance"], ts, newer.Unix())
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("%d up series in VictoriaMetrics, want %d: %v", len(got), len(want), seen)
		}
		for _, w := range want {
			if seen[w] != 1 {
				return fmt.Errorf("%s has %d series: %v", w, seen[w], seen)
			}
		}
		return nil
	}
	var deduplicated time.Time // when VictoriaMetrics first held one series per target

	if !t.Run("every target up on both replicas; the Alertmanager cluster has 3 members", func(t *testing.T) {
		for _, p := range proms {
			eventually(t, 120*time.Second, "every target up on "+p, func() error {
				got, err := activeTargets(prom(p))
				if err != nil {
					return err
				}
				if len(got) != len(want) {
					return fmt.Errorf("targets %v, want %v", got, want)
				}
				for _, w := range want {
					if got[w] != "up" {
						return fmt.Errorf("%s is %q: %v", w, got[w], got)
					}
				}
				return nil
			})
		}
		clusterOf(t, ams, 3, "0.27.0")
		eventually(t, 120*time.Second, "one up series per target in VictoriaMetrics", func() error {
			deduplicated = time.Now()
			return onePerTarget(deduplicated, time.Time{})
		})
	}) {
		return
	}

	t.Run("VictoriaMetrics keeps one series per target across a restart of either Prometheus", func(t *testing.T) {
		for _, p := range proms {
			if _, err := s.c.SSH(p, "systemctl restart obsbox-prometheus.service"); err != nil {
				t.Fatal(err)
			}
		}
		restarted := time.Now()
		eventually(t, 120*time.Second, "the series from before the restarts, and new samples, one per target", func() error {
			if err := onePerTarget(deduplicated, time.Time{}); err != nil {
				return fmt.Errorf("before the restarts: %w", err)
			}
			return onePerTarget(time.Now(), restarted)
		})
	})

	t.Run("status and plan show the replicas and the cluster", func(t *testing.T) {
		r := s.obsbox("status")
		if r.code != 0 {
			t.Fatalf("status: %s", r)
		}
		t.Logf("status:\n%s", r.stdout)
		for _, want := range []string{"Prometheus replicas (2", "Alertmanager cluster (3 members, gossip on port 9094)",
			"h1 (" + addr["h1"] + ", sees 3/3)", "h3 (" + addr["h3"] + ", sees 3/3)"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, r.stdout)
			}
		}
		r = s.obsbox("plan", "--detailed-exitcode")
		if r.code != 0 || !strings.Contains(r.stdout, "Alertmanager cluster (3 members") || !strings.Contains(r.stdout, "No changes.") {
			t.Errorf("plan of the installed fleet: %s", r)
		}
	})

	t.Run("add-host h6: both replicas scrape it without a restart", func(t *testing.T) {
		pids := s.mainPIDs()
		if r := s.obsbox("add-host", "h6", "--address", addr["h6"]); r.code != 0 {
			t.Fatalf("add-host: %s", r)
		}
		for _, p := range proms {
			eventually(t, 90*time.Second, p+" scrapes h6", func() error {
				got, err := nodeTargets(prom(p))
				if err != nil || got["h6"] != "up" {
					return fmt.Errorf("%v %v", got, err)
				}
				return nil
			})
		}
		after := s.mainPIDs()
		for _, p := range proms {
			unit := p + "/obsbox-prometheus.service"
			if pids[unit] == "" || after[unit] != pids[unit] {
				t.Errorf("%s: MainPID %s before add-host, %s after: Prometheus restarted", unit, pids[unit], after[unit])
			}
		}
	})

	t.Run("rolling Alertmanager upgrade 0.27.0 → 0.35.0 loses no silence and no page", func(t *testing.T) {
		body := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"E2ESilenced","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"e2e","comment":"before the upgrade"}`,
			time.Now().UTC().Format(time.RFC3339), time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
		var sil struct {
			ID string `json:"silenceID"`
		}
		if err := postJSON(am("h1")+"/api/v2/silences", body, &sil); err != nil || sil.ID == "" {
			t.Fatalf("creating a silence on h1: %v", err)
		}
		silenced := func(what string) {
			eventually(t, 30*time.Second, "the silence on every member "+what, func() error {
				for _, h := range ams {
					var got map[string]any
					if err := getJSON(am(h)+"/api/v2/silence/"+sil.ID, &got); err != nil {
						return fmt.Errorf("%s: %v", h, err)
					}
					if st, _ := got["status"].(map[string]any); st["state"] != "active" {
						return fmt.Errorf("%s: %v", h, got)
					}
				}
				return nil
			})
		}
		silenced("before the upgrade")

		// A page that fires throughout (h4), and one that starts during the upgrade (h6).
		if _, err := s.c.SSH("h4", "systemctl stop obsbox-node-exporter.service"); err != nil {
			t.Fatal(err)
		}
		// Once h4's page is out, the upgrade starts; that it went out once is
		// checked after it, when h6's wait has given every member time to repeat it.
		pageArrives(t, hook, "h4")

		done := make(chan result, 1)
		go func() { done <- s.obsbox("upgrade", "alertmanager=0.35.0") }()
		deadline := time.Now().Add(5 * time.Minute)
	wait:
		for time.Now().Before(deadline) {
			for _, h := range ams {
				if st, err := alertmanagerStatus(am(h)); err == nil && st.Version == "0.35.0" {
					break wait
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		if _, err := s.c.SSH("h6", "systemctl stop obsbox-node-exporter.service"); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.code != 0 {
			t.Fatalf("upgrade: %s", r)
		}
		if n := strings.Count(r.stdout+r.stderr, "alertmanager upgraded and healthy"); n != 3 {
			t.Errorf("%d members upgraded, want 3: %s", n, r)
		}
		clusterOf(t, ams, 3, "0.35.0")
		silenced("after the upgrade")
		exactlyOnce(t, hook, "h6", func() {})
		if n := hook.pages("HostDown", "h4"); n != 1 {
			t.Errorf("HostDown for h4, firing through the upgrade, reached the webhook %d times: a member lost the notification log", n)
		}
		for _, h := range []string{"h4", "h6"} {
			if _, err := s.c.SSH(h, "systemctl start obsbox-node-exporter.service"); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("h1 powered off: its page once, Watchdog still arrives, PrometheusReplicaDown on h2", func(t *testing.T) {
		off := time.Now()
		if err := s.c.StopHost("h1"); err != nil {
			t.Fatal(err)
		}
		exactlyOnce(t, hook, "h1", func() {
			firingOn(t, prom("h2"), map[string]string{"alertname": "PrometheusReplicaDown", "instance": "h1", "severity": "ticket"})
		})
		var since []time.Time
		for _, at := range hook.arrivals("Watchdog") {
			if at.After(off.Add(30 * time.Second)) {
				since = append(since, at)
			}
		}
		if len(since) < 2 {
			t.Errorf("%d Watchdog notifications since 30s after h1 went off, want a steady heartbeat", len(since))
		}
	})

	t.Run("Alertmanager on h2 stopped too: h5's page still arrives once", func(t *testing.T) {
		if _, err := s.c.SSH("h2", "systemctl stop obsbox-alertmanager.service"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.c.SSH("h5", "systemctl stop obsbox-node-exporter.service"); err != nil {
			t.Fatal(err)
		}
		exactlyOnce(t, hook, "h5", func() {
			firingOn(t, prom("h2"), map[string]string{"alertname": "AlertmanagerClusterDegraded", "instance": "h3"})
		})
	})

	t.Run("h1 back, h6 joins the cluster: every member gets its new peers in the same run, one at a time", func(t *testing.T) {
		if err := s.c.StartHost("h1"); err != nil {
			t.Fatal(err)
		}
		giveRoles(t, s, "h6", `["alertmanager"]`)
		r := s.obsbox("apply")
		if r.code != 0 {
			t.Fatalf("apply: %s", r)
		}
		t.Logf("apply:\n%s", r.stdout)
		out := r.stdout + r.stderr
		for _, h := range []string{"h1", "h3"} {
			if !strings.Contains(out, h+": alertmanager restarted and back in its cluster of 4") {
				t.Errorf("%s's Alertmanager did not restart in its turn with the new peer: %s", h, r)
			}
		}
		clusterOf(t, append(ams, "h6"), 4, "0.35.0")
	})

	t.Run("uninstall leaves every host as it was", func(t *testing.T) {
		since := time.Now().Unix()
		s.uninstallAll(t)
		// The members stop one at a time, so each one's leave reaches peers
		// that still listen.
		for _, h := range append(ams, "h6") {
			out, err := s.c.SSH(h, fmt.Sprintf("journalctl -q --no-pager --since @%d | grep 'unable to leave gossip mesh' || true", since))
			if err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("%s: an Alertmanager could not leave its cluster during uninstall: %v %s", h, err, out)
			}
		}
		after, _ := s.snapshot()
		// h1 was rebooted: systemd names the private /var/tmp of the host's
		// own units (logind) anew at each boot. The unit's name stays, so a
		// leftover of an obsbox unit would still show.
		for h := range after {
			before[h], after[h] = bootNames.ReplaceAllString(before[h], "$1<boot>$2"), bootNames.ReplaceAllString(after[h], "$1<boot>$2")
		}
		sameHosts(t, "after uninstall", before, after)
	})
}
