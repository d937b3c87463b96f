//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// promVersion reads the running Prometheus's version from its build info.
func promVersion(prom string) string {
	var bi struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := getJSON(prom+"/api/v1/status/buildinfo", &bi); err != nil {
		return err.Error()
	}
	return strings.SplitN(bi.Data.Version, "+", 2)[0]
}

// notifications counts the firing alerts called name the webhook received.
func (w *webhook) notifications(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.alerts {
		l, _ := a["labels"].(map[string]any)
		if a["status"] == "firing" && l["alertname"] == name {
			n++
		}
	}
	return n
}

// arrivals returns when firing alerts called name reached the webhook.
func (w *webhook) arrivals(name string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for i, a := range w.alerts {
		l, _ := a["labels"].(map[string]any)
		if a["status"] == "firing" && l["alertname"] == name {
			out = append(out, w.at[i])
		}
	}
	return out
}

// TestUpgradeMajor is issue 13's acceptance for the 2 → 3 upgrade, the
// downgrade floor, Alertmanager's and node_exporter's upgrades, and
// upgrades that are all or nothing before they start.
func TestUpgradeMajor(t *testing.T) {
	s := newStack(t, 2)
	hook := startWebhook(t)
	s.webhook = hook.url
	os.MkdirAll(filepath.Join(s.dir, "rules"), 0o755)
	// A page that fires throughout: its one notification must not repeat
	// after Alertmanager's upgrade (the notification log is kept).
	os.WriteFile(filepath.Join(s.dir, "rules", "page.yml"), []byte(
		"groups:\n- name: e2e\n  rules:\n  - alert: E2EPage\n    expr: vector(1)\n    labels: {severity: page}\n"), 0o644)
	// Watchdog every 10s to the webhook: a dead man's switch must see no gap
	// while Prometheus moves from 2 to 3.
	const watchdogEvery = 10 * time.Second
	s.writeInventory(invData{Prometheus: "2.53.3", Alertmanager: "0.27.0", NodeExporter: "1.8.2", RuleFiles: true, Watchdog: "10s"})
	h1 := s.c.Hosts[0].Address
	prom, am := "http://"+h1+":9090", "http://"+h1+":9093"
	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	eventually(t, 60*time.Second, "a sample of up{instance=\"h2\"}", func() error {
		_, err := queryAt(prom, `up{instance="h2"}`, time.Now())
		return err
	})
	eventually(t, 120*time.Second, "E2EPage at the webhook", func() error {
		if hook.notifications("E2EPage") == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	before := time.Now().Add(-5 * time.Second)
	body := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"Test","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"e2e","comment":"before upgrade"}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
	resp, err := http.Post(am+"/api/v2/silences", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("creating a silence: %v %v", err, resp)
	}
	var sil struct {
		ID string `json:"silenceID"`
	}
	jsonDecode(resp, &sil)

	unchanged := func(t *testing.T, what string, pids map[string]string, inv []byte) {
		t.Helper()
		if after := s.mainPIDs(); fmt.Sprint(after) != fmt.Sprint(pids) {
			t.Errorf("%s: MainPIDs changed:\nbefore %v\nafter  %v", what, pids, after)
		}
		if inv != nil {
			if now, _ := os.ReadFile(s.inv); !bytes.Equal(now, inv) {
				t.Errorf("%s: the inventory changed:\n%s", what, now)
			}
		}
	}

	t.Run("alertmanager 0.27 → 0.35 and node_exporter 1.8.2 → 1.12.1 keep silences and the notification log", func(t *testing.T) {
		sent := hook.notifications("E2EPage")
		r := s.obsbox("upgrade", "alertmanager=0.35.0", "node_exporter=1.12.1")
		if r.code != 0 {
			t.Fatalf("upgrade: %s", r)
		}
		s.allNodeExporters(t, "1.12.1")
		var status struct {
			VersionInfo map[string]string `json:"versionInfo"`
		}
		if err := getJSON(am+"/api/v2/status", &status); err != nil || status.VersionInfo["version"] != "0.35.0" {
			t.Errorf("alertmanager version %v (%v), want 0.35.0", status.VersionInfo, err)
		}
		var silence map[string]any
		if err := getJSON(am+"/api/v2/silence/"+sil.ID, &silence); err != nil || silence["status"] == nil {
			t.Errorf("the silence made before the upgrade is gone: %v %v", err, silence)
		}
		// Alertmanager keeps no alerts across a restart: Prometheus sends
		// E2EPage again within its resend delay (1m) — the alert is not lost.
		eventually(t, 120*time.Second, "E2EPage active in Alertmanager again", func() error {
			var alerts []map[string]any
			if err := getJSON(am+"/api/v2/alerts?filter="+urlEscape(`alertname="E2EPage"`), &alerts); err != nil || len(alerts) == 0 {
				return fmt.Errorf("%v %v", err, alerts)
			}
			return nil
		})
		// group_wait is 30s: with its notification log lost, Alertmanager
		// would page again by then.
		time.Sleep(40 * time.Second)
		if n := hook.notifications("E2EPage"); n != sent {
			t.Errorf("E2EPage was notified %d more times after the upgrade: the notification log was lost", n-sent)
		}
	})

	var promUpgradesFrom time.Time
	t.Run("prometheus 2.53.3 → 3.5.3 is planned as a major upgrade and keeps the TSDB", func(t *testing.T) {
		eventually(t, 60*time.Second, "Watchdog at the webhook", func() error {
			if len(hook.arrivals("Watchdog")) == 0 {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		promUpgradesFrom = time.Now()
		r := s.obsbox("upgrade", "prometheus=3.5.3")
		if r.code != 0 {
			t.Fatalf("upgrade: %s", r)
		}
		t.Logf("the major upgrade's preview:\n%s", r.stdout)
		if !strings.Contains(r.stdout, "major upgrade 2.53.3 → 3.5.3") || !strings.Contains(r.stdout, "below 2.55.0 is refused") {
			t.Errorf("the preview should name the major upgrade:\n%s", r.stdout)
		}
		if v := promVersion(prom); v != "3.5.3" {
			t.Errorf("prometheus runs %s, want 3.5.3", v)
		}
		if _, err := queryAt(prom, `up{instance="h2"}`, before); err != nil {
			t.Errorf("a series from before the upgrade is not queryable: %v", err)
		}
	})

	t.Run("rollback from 3.5.3 to 2.53.3 is refused before anything is touched", func(t *testing.T) {
		pids, inv := s.mainPIDs(), must(os.ReadFile(s.inv))
		r := s.obsbox("rollback", "prometheus")
		t.Logf("the refused rollback said:\n%s", r)
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "cannot read a TSDB") || !strings.Contains(r.stdout+r.stderr, "2.55") {
			t.Errorf("rollback to 2.53.3 should be refused naming the reason: %s", r)
		}
		unchanged(t, "refused rollback", pids, inv)
		if v := promVersion(prom); v != "3.5.3" {
			t.Errorf("prometheus runs %s, want 3.5.3", v)
		}
	})

	t.Run("3.5.3 → 3.16.0 keeps the series from before 3.x; rollback returns to 3.5.3", func(t *testing.T) {
		if r := s.obsbox("upgrade", "prometheus=3.16.0"); r.code != 0 {
			t.Fatalf("upgrade: %s", r)
		}
		if v := promVersion(prom); v != "3.16.0" {
			t.Errorf("prometheus runs %s, want 3.16.0", v)
		}
		if _, err := queryAt(prom, `up{instance="h2"}`, before); err != nil {
			t.Errorf("a series from before the first upgrade is not queryable after the last: %v", err)
		}
		var silence map[string]any
		if err := getJSON(am+"/api/v2/silence/"+sil.ID, &silence); err != nil {
			t.Errorf("the silence is gone: %v", err)
		}
		if r := s.obsbox("rollback", "prometheus"); r.code != 0 {
			t.Fatalf("rollback: %s", r)
		}
		if v := promVersion(prom); v != "3.5.3" {
			t.Errorf("prometheus runs %s after rollback, want 3.5.3", v)
		}
		if _, err := queryAt(prom, `up{instance="h2"}`, before); err != nil {
			t.Errorf("a series from before the upgrades is not queryable after the rollback: %v", err)
		}
	})

	t.Run("Watchdog kept arriving through the Prometheus upgrades and the rollback", func(t *testing.T) {
		if promUpgradesFrom.IsZero() {
			t.Skip("the upgrades did not run")
		}
		time.Sleep(2 * watchdogEvery) // one more after the last restart
		var times []time.Time
		for _, at := range hook.arrivals("Watchdog") {
			if !at.Before(promUpgradesFrom.Add(-2 * watchdogEvery)) {
				times = append(times, at)
			}
		}
		// Alertmanager re-sends on its group_interval tick once repeat_interval
		// has passed, so two intervals apart is normal; a third is slack.
		limit := 3 * watchdogEvery
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap > limit {
				t.Errorf("no Watchdog for %s (at %s): a dead man's switch would have paged", gap.Round(time.Second), times[i-1].Format(time.TimeOnly))
			}
		}
		if last := times[len(times)-1]; time.Since(last) > limit {
			t.Errorf("no Watchdog since %s", last.Format(time.TimeOnly))
		}
		t.Logf("%d Watchdog notifications through the upgrades", len(times))
	})

	t.Run("apply with versions edited to 2.53.3 is refused on every host", func(t *testing.T) {
		pids := s.mainPIDs()
		s.writeInventory(invData{Prometheus: "2.53.3", Alertmanager: "0.35.0", NodeExporter: "1.12.1", RuleFiles: true})
		r := s.obsbox("apply")
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "cannot read a TSDB") {
			t.Errorf("apply to 2.53.3 should be refused naming the reason: %s", r)
		}
		unchanged(t, "refused apply", pids, nil)
		s.writeInventory(invData{Prometheus: "3.5.3", Alertmanager: "0.35.0", NodeExporter: "1.12.1", RuleFiles: true})
	})

	t.Run("a version the offline cache lacks changes nothing", func(t *testing.T) {
		src := must(os.ReadFile(s.inv))
		src = bytes.Replace(src, []byte("bundles {\n"), []byte("bundles {\n  offline = true\n"), 1)
		os.WriteFile(s.inv, src, 0o644)
		pids := s.mainPIDs()
		r := s.obsbox("upgrade", "prometheus=3.99.0", "alertmanager=0.99.0")
		out := r.stdout + r.stderr
		t.Logf("the upgrade to versions not cached said:\n%s", r)
		if r.code == 0 || !strings.Contains(out, "prometheus-3.99.0.linux-amd64.tar.gz") || !strings.Contains(out, "alertmanager-0.99.0.linux-amd64.tar.gz") ||
			!strings.Contains(out, "obsbox bundle import") {
			t.Errorf("the upgrade should fail naming every missing bundle and how to get it: %s", r)
		}
		unchanged(t, "missing bundle", pids, src)
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func jsonDecode(resp *http.Response, v any) {
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
}
