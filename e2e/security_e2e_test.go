//go:build e2e

package e2e_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// endpoints lists every endpoint obsbox installs on the stack's hosts
// (blackbox_exporter listens on the Prometheus host's loopback only).
func (s *stack) endpoints() map[string]string {
	out := map[string]string{}
	for i, h := range s.c.Hosts {
		out[h.Name+"/node_exporter"] = h.Address + ":9100"
		if i == 0 {
			out[h.Name+"/prometheus"] = h.Address + ":9090"
			out[h.Name+"/alertmanager"] = h.Address + ":9093"
			out[h.Name+"/grafana"] = h.Address + ":3000"
		}
	}
	return out
}

// servedCert is the leaf certificate the endpoint at addr presents.
func servedCert(t *testing.T, dir, addr string) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	b, err := os.ReadFile(filepath.Join(dir, "obsbox-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(b)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:8])
}

// allTargetsUp checks every active target of Prometheus is up, over https.
func allTargetsUp(prom string) error {
	var tr targetsResponse
	if err := getJSON(prom+"/api/v1/targets", &tr); err != nil {
		return err
	}
	if len(tr.Data.ActiveTargets) == 0 {
		return fmt.Errorf("no targets")
	}
	for _, at := range tr.Data.ActiveTargets {
		if at.Health != "up" {
			return fmt.Errorf("%s %s is %s: %s", at.Labels["job"], at.Labels["instance"], at.Health, at.LastError)
		}
		if !strings.HasPrefix(at.ScrapeURL, "https://") {
			return fmt.Errorf("%s is scraped over %s", at.Labels["instance"], at.ScrapeURL)
		}
	}
	return nil
}

// TestSecurity is issue 14's acceptance on a fresh install: every endpoint
// https with basic auth, certificates from obsbox's CA, a no-op second
// apply, and both rotations without a stop.
func TestSecurity(t *testing.T) {
	s := newStack(t, 2)
	hook := startWebhook(t)
	s.webhook = hook.url
	s.writeInventory(invData{Prometheus: "3.16.0", Alertmanager: "0.35.0", NodeExporter: "1.12.1",
		Extra: `probe "self" {
  module  = "tcp_connect"
  targets = ["` + s.c.Hosts[1].Address + `:22"]
}`})
	first := s.obsbox("apply")
	if first.code != 0 {
		t.Fatalf("apply: %s", first)
	}
	h1 := s.c.Hosts[0]
	prom := "http://" + h1.Address + ":9090"
	password, err := os.ReadFile(filepath.Join(s.dir, ".obsbox-web-password"))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(password))

	t.Run("controller files private", func(t *testing.T) {
		for _, f := range []string{"obsbox-ca.key", ".obsbox-web-password"} {
			fi, err := os.Stat(filepath.Join(s.dir, f))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
			}
		}
		if !strings.Contains(first.stdout, "obsbox-ca.crt") || !strings.Contains(first.stdout, ".obsbox-web-password") {
			t.Errorf("apply's end names no CA file or password file:\n%s", first.stdout)
		}
	})

	t.Run("every endpoint https with basic auth", func(t *testing.T) {
		eventually(t, 60*time.Second, "every endpoint answering", func() error {
			for name, addr := range s.endpoints() {
				path := "/metrics"
				if strings.HasSuffix(name, "/grafana") {
					path = "/api/org"
				}
				// Plain http fails.
				if resp, err := plainClient().Get("http://" + addr + path); err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return fmt.Errorf("%s answers plain http with 200: %.80s", name, body)
					}
				}
				// The CA but no credentials: 401.
				resp, err := caClient(s.dir).Get("https://" + addr + path)
				if err != nil {
					return fmt.Errorf("%s over https: %v", name, err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					return fmt.Errorf("%s without credentials: %s, want 401", name, resp.Status)
				}
				// With credentials: 200.
				req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
				if strings.HasSuffix(name, "/grafana") {
					req.SetBasicAuth("admin", "e2e-admin-pw")
				} else {
					req.SetBasicAuth("obsbox", pw)
				}
				resp, err = caClient(s.dir).Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("%s with credentials: %s", name, resp.Status)
				}
			}
			resp, err := caClient(s.dir).Get("https://" + h1.Address + ":3000/api/health")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("grafana /api/health: %s, want 200 without credentials", resp.Status)
			}
			return nil
		})
		// blackbox_exporter on h1's loopback, asked from h1 itself.
		out, err := s.c.SSH(h1.Name, "curl -s -o /dev/null -w '%{http_code}' --cacert /etc/obsbox/prometheus/tls/ca.crt --resolve "+h1.Name+":9115:127.0.0.1 https://"+h1.Name+":9115/metrics; echo; curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9115/metrics || true")
		if err != nil || !strings.HasPrefix(out, "401") || strings.Contains(out, "\n200") {
			t.Errorf("blackbox_exporter on loopback: https without credentials and plain http answered %q (%v); want 401 and no 200", out, err)
		}
	})

	t.Run("openssl verifies chain and host name", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Skip("no openssl on the controller")
		}
		for name, addr := range s.endpoints() {
			host := strings.Split(name, "/")[0]
			cmd := exec.Command("openssl", "s_client", "-connect", addr, "-CAfile", filepath.Join(s.dir, "obsbox-ca.crt"),
				"-verify_return_error", "-verify_hostname", host)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
				t.Errorf("openssl s_client %s (%s): %v\n%s", addr, host, err, out)
			}
		}
	})

	t.Run("every target up over https", func(t *testing.T) {
		eventually(t, 90*time.Second, "all targets up", func() error { return allTargetsUp(prom) })
	})

	t.Run("key files on the hosts", func(t *testing.T) {
		out, err := s.c.SSH(h1.Name, "stat -c '%n %a %U:%G' /etc/obsbox/tls/host.key /etc/obsbox/*/tls/server.pem")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			switch {
			case strings.HasSuffix(f[0], "host.key") && (f[1] != "600" || f[2] != "root:root"):
				t.Errorf("%s, want 600 root:root", line)
			case strings.HasSuffix(f[0], "server.pem") && (f[1] != "640" || !strings.HasPrefix(f[2], "root:obsbox-")):
				t.Errorf("%s, want 640 root:obsbox-<component>", line)
			}
		}
	})

	t.Run("second apply changes nothing", func(t *testing.T) {
		before := s.mainPIDs()
		r := s.obsbox("--json", "apply")
		if r.code != 0 {
			t.Fatalf("second apply: %s", r)
		}
		rep := parseReport(t, r)
		for _, h := range rep.Hosts {
			if len(h.Actions) != 0 || h.Uploaded != 0 {
				t.Errorf("%s: second apply did %d actions, %d bytes: %+v", h.Host, len(h.Actions), h.Uploaded, h.Actions)
			}
		}
		if after := s.mainPIDs(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("MainPIDs changed: %v -> %v", before, after)
		}
	})

	t.Run("no service user can steer what root writes", func(t *testing.T) {
		// Every folder holding a path obsbox made is root's, writable by
		// root alone: else its owner could swap what root writes there for
		// a link between two of the script's commands.
		for _, h := range s.c.Hosts {
			raw, err := s.c.SSH(h.Name, "cat /var/lib/obsbox/record.json")
			if err != nil {
				t.Fatal(err)
			}
			var rec struct{ Paths, Trees []string }
			if err := json.Unmarshal([]byte(raw), &rec); err != nil || len(rec.Paths) == 0 {
				t.Fatalf("%s: record: %v\n%s", h.Name, err, raw)
			}
			seen := map[string]bool{}
			var folders []string
			for _, p := range append(rec.Paths, rec.Trees...) {
				if d := filepath.Dir(p); !seen[d] {
					seen[d] = true
					folders = append(folders, shQuote(d))
				}
			}
			out, err := s.c.SSH(h.Name, "stat -c '%n %U %a' "+strings.Join(folders, " "))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Fields(line)
				var mode int
				fmt.Sscanf(f[2], "%o", &mode)
				if f[1] != "root" || mode&0o022 != 0 {
					t.Errorf("%s: %s holds paths obsbox wrote as root, but is %s's with mode %s", h.Name, f[0], f[1], f[2])
				}
			}
		}
		// The swap that made root overwrite a file of node_exporter's user's
		// choosing: that user owned the folder around the textfile folder.
		if _, err := s.c.SSH(h1.Name, "printf precious > /root/victim && chmod 600 /root/victim"); err != nil {
			t.Fatal(err)
		}
		out, _ := s.c.SSH(h1.Name, `setpriv --reuid=obsbox-node-exporter --regid=obsbox-node-exporter --clear-groups sh -c 'cd /var/lib/obsbox/node_exporter && mv textfile textfile.old && mkdir textfile && ln -s /root/victim textfile/obsbox-certificates.prom.obsbox-tmp' 2>&1; echo rc=$?`)
		if !strings.Contains(out, "Permission denied") || strings.Contains(out, "rc=0") {
			t.Errorf("node_exporter's user could move the textfile folder aside:\n%s", out)
		}
		if r := s.obsbox("apply"); r.code != 0 {
			t.Fatalf("apply: %s", r)
		}
		if out, err := s.c.SSH(h1.Name, "stat -c '%a %U' /root/victim; cat /root/victim; rm -f /root/victim"); err != nil || strings.TrimSpace(out) != "600 root\nprecious" {
			t.Errorf("/root/victim after the apply (want 600 root, precious): %q %v", out, err)
		}
	})

	t.Run("a page reaches the webhook", func(t *testing.T) {
		if _, err := s.c.SSH(s.c.Hosts[1].Name, "systemctl stop obsbox-node-exporter"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 90*time.Second, "HostDown at the webhook", func() error {
			if !hook.firing(map[string]string{"alertname": "HostDown", "instance": s.c.Hosts[1].Name}) {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		if r := s.obsbox("apply"); r.code != 0 {
			t.Fatalf("apply: %s", r)
		}
		eventually(t, 60*time.Second, "all targets up", func() error { return allTargetsUp(prom) })
	})

	rotate := func(t *testing.T, args ...string) {
		t.Helper()
		before := s.mainPIDs()
		served := map[string]string{}
		for name, addr := range s.endpoints() {
			served[name] = fingerprint(servedCert(t, s.dir, addr))
		}
		// Watch the targets the whole time the rotation runs.
		stop := make(chan struct{})
		downs := make(chan string, 100)
		go func() {
			for {
				select {
				case <-stop:
					close(downs)
					return
				case <-time.After(2 * time.Second):
					if err := allTargetsUp(prom); err != nil {
						downs <- err.Error()
					}
				}
			}
		}()
		r := s.obsbox(append([]string{"certs", "rotate"}, args...)...)
		time.Sleep(12 * time.Second) // two scrape intervals after the last change
		close(stop)
		for d := range downs {
			t.Errorf("during certs rotate %v: %s", args, d)
		}
		if r.code != 0 {
			t.Fatalf("certs rotate %v: %s", args, r)
		}
		after := s.mainPIDs()
		for k, v := range before {
			if (strings.Contains(k, "prometheus") || strings.Contains(k, "node-exporter")) && after[k] != v {
				t.Errorf("%s restarted: MainPID %s -> %s", k, v, after[k])
			}
		}
		eventually(t, 30*time.Second, "new certificates served", func() error {
			for name, addr := range s.endpoints() {
				if fp := fingerprint(servedCert(t, s.dir, addr)); fp == served[name] {
					return fmt.Errorf("%s still serves %s", name, fp)
				}
			}
			return nil
		})
		for _, out := range []string{r.stdout, r.stderr} {
			if strings.Contains(out, pw) || strings.Contains(out, "$2a$") || strings.Contains(out, "PRIVATE KEY") {
				t.Errorf("certs rotate printed a secret:\n%s", out)
			}
		}
	}
	t.Run("certs rotate", func(t *testing.T) { rotate(t) })
	t.Run("certs rotate --ca", func(t *testing.T) {
		oldCA, _ := os.ReadFile(filepath.Join(s.dir, "obsbox-ca.crt"))
		rotate(t, "--ca")
		newCA, _ := os.ReadFile(filepath.Join(s.dir, "obsbox-ca.crt"))
		if string(oldCA) == string(newCA) {
			t.Errorf("obsbox-ca.crt did not change")
		}
		if _, err := os.Stat(filepath.Join(s.dir, "obsbox-ca.previous.crt")); err == nil {
			t.Errorf("the old CA is still trusted after every host moved")
		}
	})

	t.Run("certs lists every certificate", func(t *testing.T) {
		r := s.obsbox("--json", "certs")
		if r.code != 0 {
			t.Fatalf("certs: %s", r)
		}
		var rep struct {
			Certificates []struct{ Host, Component, State string } `json:"certificates"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Certificates) < 5 {
			t.Errorf("certs lists %d certificates: %s", len(rep.Certificates), r.stdout)
		}
		for _, c := range rep.Certificates {
			if c.State != "ok" {
				t.Errorf("%s %s: %s", c.Host, c.Component, c.State)
			}
		}
		if strings.Contains(r.stdout, pw) || strings.Contains(first.stdout+first.stderr, pw) {
			t.Errorf("a password was printed")
		}
	})
}
