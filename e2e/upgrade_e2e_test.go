//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
)

// nodeExporterVersion reads node_exporter_build_info's version on a host.
func nodeExporterVersion(addr string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + ":9100/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	m := regexp.MustCompile(`node_exporter_build_info\{[^}]*version="([^"]*)"`).FindStringSubmatch(b.String())
	if m == nil {
		return "", fmt.Errorf("no node_exporter_build_info at %s", addr)
	}
	return strings.TrimSuffix(strings.SplitN(m[1], "+", 2)[0], ""), nil
}

func (s *stack) allNodeExporters(t *testing.T, want string) {
	t.Helper()
	for _, h := range s.c.Hosts {
		v, err := nodeExporterVersion(h.Address)
		if err != nil || v != want {
			t.Errorf("%s: node_exporter version %q (%v), want %s", h.Name, v, err, want)
		}
	}
}

// TestUpgrade is issue 6's acceptance: real upgrades, a broken release rolled
// back, an interrupted rollout resumed, and rollback.
func TestUpgrade(t *testing.T) {
	s := newStack(t, 3)
	s.webhook = "http://" + harness.BridgeAddress() + ":1/"
	s.writeInventory(invData{NodeExporter: "1.5.0", Alertmanager: "0.25.0"})
	h1 := s.c.Hosts[0].Address
	prom, am := "http://"+h1+":9090", "http://"+h1+":9093"
	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	s.allNodeExporters(t, "1.5.0")

	t.Run("upgrade keeps silences and series", func(t *testing.T) {
		// A silence and a scraped series from before the upgrade.
		body := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"Test","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"e2e","comment":"before upgrade"}`,
			time.Now().UTC().Format(time.RFC3339), time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
		resp, err := http.Post(am+"/api/v2/silences", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("creating a silence: %v %v", err, resp)
		}
		var sil struct {
			ID string `json:"silenceID"`
		}
		json.NewDecoder(resp.Body).Decode(&sil)
		resp.Body.Close()
		eventually(t, 60*time.Second, "a sample of up{instance=\"h2\"}", func() error {
			_, err := queryAt(prom, `up{instance="h2"}`, time.Now())
			return err
		})
		before := time.Now()

		r := s.obsbox("upgrade", "node_exporter=1.8.2", "alertmanager=0.27.0")
		if r.code != 0 {
			t.Fatalf("upgrade: %s", r)
		}
		s.allNodeExporters(t, "1.8.2")
		var status struct {
			VersionInfo map[string]string `json:"versionInfo"`
		}
		if err := getJSON(am+"/api/v2/status", &status); err != nil || status.VersionInfo["version"] != "0.27.0" {
			t.Errorf("alertmanager version %v (%v), want 0.27.0", status.VersionInfo, err)
		}
		var silence map[string]any
		if err := getJSON(am+"/api/v2/silence/"+sil.ID, &silence); err != nil {
			t.Errorf("the silence made before the upgrade is gone: %v", err)
		}
		if _, err := queryAt(prom, `up{instance="h2"}`, before); err != nil {
			t.Errorf("a series from before the upgrade is not queryable: %v", err)
		}
		src, _ := os.ReadFile(s.inv)
		if !strings.Contains(string(src), `node_exporter = "1.8.2"`) || !strings.Contains(string(src), "# e2e inventory") {
			t.Errorf("the inventory should record the new versions and keep its comments:\n%s", src)
		}
	})

	t.Run("rollback returns to the previous version", func(t *testing.T) {
		r := s.obsbox("rollback", "node_exporter")
		if r.code != 0 {
			t.Fatalf("rollback: %s", r)
		}
		s.allNodeExporters(t, "1.5.0")
		src, _ := os.ReadFile(s.inv)
		if !strings.Contains(string(src), `node_exporter = "1.5.0"`) {
			t.Errorf("the inventory should record the version rolled back to")
		}
	})

	t.Run("a release that does not start is rolled back on the first host, the rest untouched", func(t *testing.T) {
		pids := s.mainPIDs()
		r := s.obsbox("upgrade", "node_exporter=9.9.9")
		if r.code != 1 {
			t.Fatalf("upgrade to a broken release should exit 1: %s", r)
		}
		out := r.stdout + r.stderr
		t.Logf("the failed upgrade said:\n%s", out)
		if !strings.Contains(out, "h1") || !strings.Contains(out, "node_exporter") || !regexpMatch(`failed the (unit|health|version) check`, out) {
			t.Errorf("the error should name the host, the component and the failed check: %s", r)
		}
		v, err := nodeExporterVersion(h1)
		if err != nil || v != "1.5.0" {
			t.Errorf("h1 should run 1.5.0 again: %q %v", v, err)
		}
		eventually(t, 60*time.Second, "h1's target up again", func() error {
			got, err := nodeTargets(prom)
			if err != nil || got["h1"] != "up" {
				return fmt.Errorf("%v %v", got, err)
			}
			return nil
		})
		after := s.mainPIDs()
		for _, h := range []string{"h2", "h3"} {
			k := h + "/obsbox-node-exporter.service"
			if after[k] != pids[k] {
				t.Errorf("%s was restarted", k)
			}
		}
	})

	t.Run("an upgrade killed half way is finished by apply", func(t *testing.T) {
		cmd := exec.Command(obsboxBin(t), "-i", s.inv, "--no-progress", "upgrade", "node_exporter=1.8.2")
		cmd.Env = append(os.Environ(), s.env()...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it once the first host runs the new version, before the last does.
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if v, _ := nodeExporterVersion(h1); v == "1.8.2" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("killed upgrade printed:\n%s", out.String())
		if v, _ := nodeExporterVersion(s.c.Hosts[2].Address); v == "1.8.2" {
			t.Fatalf("the kill came too late to test anything: h3 was already upgraded")
		}
		pids := s.mainPIDs()
		r := s.obsbox("apply")
		if r.code != 0 {
			t.Fatalf("apply after the kill: %s", r)
		}
		s.allNodeExporters(t, "1.8.2")
		if after := s.mainPIDs(); after["h1/obsbox-node-exporter.service"] != pids["h1/obsbox-node-exporter.service"] {
			t.Errorf("h1 was upgraded before the kill and must not restart again")
		}
	})
}

// queryAt runs an instant query and fails when it returns no sample.
func queryAt(prom, q string, at time.Time) (string, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	url := fmt.Sprintf("%s/api/v1/query?query=%s&time=%d", prom, urlEscape(q), at.Unix())
	if err := getJSON(url, &resp); err != nil {
		return "", err
	}
	if len(resp.Data.Result) == 0 {
		return "", fmt.Errorf("no sample for %s at %s", q, at.Format(time.RFC3339))
	}
	return string(resp.Data.Result[0]), nil
}
