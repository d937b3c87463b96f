//go:build e2e

package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// previousRelease is the last obsbox commit before TLS became the default:
// what today's users run.
const previousRelease = "3c7543e"

// previousObsbox builds that release once into the e2e cache.
func previousObsbox(t *testing.T) string {
	t.Helper()
	bin := "/var/cache/obsbox-e2e/bin/obsbox-" + previousRelease
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	src := t.TempDir()
	repo, _ := filepath.Abs("..")
	for _, args := range [][]string{
		{"git", "-C", repo, "worktree", "add", "--detach", src + "/tree", previousRelease},
		{"go", "build", "-C", src + "/tree", "-trimpath", "-ldflags", "-X main.version=" + previousRelease, "-o", bin + ".tmp", "./cmd/obsbox"},
		{"git", "-C", repo, "worktree", "remove", "--force", src + "/tree"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestSecurityConversion is issue 14's acceptance for today's installs: a
// stack the previous release installed in clear text converts on apply,
// with its series and silences kept and Watchdog still arriving.
func TestSecurityConversion(t *testing.T) {
	old := previousObsbox(t)
	s := newStack(t, 2)
	hook := startWebhook(t)
	s.webhook = hook.url
	s.writeInventory(invData{Prometheus: "3.16.0", Alertmanager: "0.35.0", NodeExporter: "1.12.1", Watchdog: "10s"})
	useStackDir("") // the old stack speaks plain http
	cmd := exec.Command(old, "-i", s.inv, "--no-progress", "apply")
	cmd.Env = append(os.Environ(), s.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("previous obsbox apply: %v\n%s", err, out)
	}
	h1 := s.c.Hosts[0]
	prom, am := "http://"+h1.Address+":9090", "http://"+h1.Address+":9093"
	eventually(t, 90*time.Second, "clear-text targets up", func() error {
		var tr targetsResponse
		if err := getJSON(prom+"/api/v1/targets", &tr); err != nil {
			return err
		}
		for _, at := range tr.Data.ActiveTargets {
			if at.Health != "up" {
				return fmt.Errorf("%s %s", at.Labels["instance"], at.Health)
			}
		}
		return nil
	})
	eventually(t, 60*time.Second, "Watchdog at the webhook", func() error {
		if len(hook.arrivals("Watchdog")) < 2 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	var sil struct {
		ID string `json:"silenceID"`
	}
	body := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"Test","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"e2e","comment":"before TLS"}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
	if err := postJSON(am+"/api/v2/silences", body, &sil); err != nil {
		t.Fatal(err)
	}
	seriesAt := time.Now().Add(-5 * time.Second)

	// A run for one plain host first: h1 (Prometheus) would take part for its
	// targets only, rendered https while nothing speaks it yet. It refuses,
	// and so h2 is not touched either.
	if r := s.obsbox("apply", "--hosts", "h2"); r.code != 1 || !strings.Contains(r.stdout, "predates TLS") || !strings.Contains(r.stdout, "h2 failed") {
		t.Errorf("apply --hosts h2 on the clear-text stack: %s", r)
	}
	if out, err := s.c.SSH("h2", "ls /etc/obsbox/tls 2>&1; ls /etc/obsbox/node_exporter 2>&1; true"); err != nil || !strings.Contains(out, "No such file") || strings.Contains(out, "web.yml") {
		t.Errorf("h2 was changed by the refused run: %v\n%s", err, out)
	}

	// This release converts the stack.
	useStackDir(s.dir)
	convStart := time.Now()
	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("converting apply: %s", r)
	}
	convEnd := time.Now()
	eventually(t, 90*time.Second, "every target up over https", func() error { return allTargetsUp("http://" + h1.Address + ":9090") })

	t.Run("series and silences kept", func(t *testing.T) {
		v, err := queryAt(prom, `count(up{job="node"})`, seriesAt)
		if err != nil || v == "" || v == "0" {
			t.Errorf("series from before the conversion: %q %v", v, err)
		}
		var sils []struct {
			ID     string                 `json:"id"`
			Status struct{ State string } `json:"status"`
		}
		if err := getJSON(am+"/api/v2/silences", &sils); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range sils {
			found = found || (x.ID == sil.ID && x.Status.State == "active")
		}
		if !found {
			t.Errorf("silence %s is gone after the conversion: %+v", sil.ID, sils)
		}
	})

	t.Run("Watchdog keeps arriving", func(t *testing.T) {
		time.Sleep(35 * time.Second)
		var prev time.Time
		// Gaps that end before the conversion are the previous release's
		// own cadence (it sent every second interval), not the conversion's.
		for _, at := range hook.arrivals("Watchdog") {
			if at.Before(convStart) {
				prev = at
				continue
			}
			if !prev.IsZero() && at.Sub(prev) > 20*time.Second {
				t.Errorf("Watchdog gap of %s around the conversion (%s to %s; apply ran %s to %s)", at.Sub(prev).Round(time.Second),
					prev.Format(time.TimeOnly), at.Format(time.TimeOnly), convStart.Format(time.TimeOnly), convEnd.Format(time.TimeOnly))
			}
			prev = at
		}
		if time.Since(prev) > 20*time.Second {
			t.Errorf("no Watchdog since %s", prev.Format(time.TimeOnly))
		}
	})

	t.Run("second apply changes nothing", func(t *testing.T) {
		r := s.obsbox("--json", "apply")
		rep := parseReport(t, r)
		for _, h := range rep.Hosts {
			if len(h.Actions) != 0 {
				t.Errorf("%s: %v", h.Host, h.Actions)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
			t.Errorf("a key was printed")
		}
	})
}
