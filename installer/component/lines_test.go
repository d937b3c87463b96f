package component

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/pki"
	"github.com/obsbox/obsbox/internal/golden"
)

// releaseLines are the release lines obsbox renders for (SPEC.md
// "Versions"), each with the release the e2e cache holds for it; docs marks
// a line checked against its documentation only (no bundle is built here).
var releaseLines = []struct {
	comp, line, version string
	docs                bool
}{
	{catalog.Prometheus, "2.42", "2.42.0", false},
	{catalog.Prometheus, "2.53", "2.53.3", false},
	{catalog.Prometheus, "3.5", "3.5.3", false},
	{catalog.Prometheus, "3.16", "3.16.0", false},
	{catalog.Alertmanager, "0.25", "0.25.0", false},
	{catalog.Alertmanager, "0.27", "0.27.0", false},
	{catalog.Alertmanager, "0.35", "0.35.0", false},
	{catalog.NodeExporter, "1.5", "1.5.0", false},
	{catalog.NodeExporter, "1.8", "1.8.2", false},
	{catalog.NodeExporter, "1.12", "1.12.1", false},
	{catalog.BlackboxExporter, "0.24", "0.24.0", true},
	{catalog.BlackboxExporter, "0.27", "0.27.0", false},
	// Grafana cannot run here: checked against its documentation only.
	{catalog.Grafana, "11", "11.2.2", true},
	{catalog.Grafana, "12", "12.0.0", true},
	{catalog.Grafana, "13", "13.0.0", true},
	// 1.93 (the oldest LTS line of 1.9x) is rendered only, no 1.9x binary is
	// built here; the two newest are checked against their -help (e2e bundles).
	{catalog.VictoriaMetrics, "1.93", "1.93.0", true},
	{catalog.VictoriaMetrics, "1.150", "1.150.0", false},
	{catalog.VictoriaMetrics, "1.151", "1.151.0", false},
}

// linesInv has what every line renders differently, if at all: two
// Alertmanagers (cluster flags), a user scrape job and a probe.
const linesInv = `host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager"]
}
host "mon-2" {
  address = "10.0.0.6"
  roles   = ["alertmanager"]
}
prometheus {
  retention = "30d"
  scrape "app" {
    targets = ["10.0.1.10:8080"]
  }
}
alertmanager {
  receiver "ops" {
    webhook { url = "http://10.0.0.9:9999/hook" }
  }
}
probe "shop" {
  module  = "http_2xx"
  targets = ["http://10.0.1.10:8080/health"]
}
`

func lineSpec(t *testing.T, comp, version string) *Spec {
	t.Helper()
	inv := loadProbeInv(t, linesInv)
	sec, cert, _ := lineSecurity(t)
	spec, err := impls[comp].Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: version,
		GrafanaAdminPassword: inventory.NewSecret("admin-pw-123"), GrafanaSecretKey: inventory.NewSecret("k3y-0123456789abcdef"),
		Security: sec, HostCert: cert})
	if err != nil {
		t.Fatalf("%s %s: %v", comp, version, err)
	}
	return spec
}

var execStartRE = regexp.MustCompile(`(?m)^ExecStart=(.*)$`)

func execStart(t *testing.T, s *Spec) []string {
	t.Helper()
	m := execStartRE.FindSubmatch(s.Unit)
	if m == nil {
		t.Fatalf("%s: no ExecStart in the unit", s.Component)
	}
	return strings.Fields(string(m[1]))
}

// writeConfig puts the spec's files into dir as they land in the config folder.
func writeConfig(t *testing.T, s *Spec, dir string) {
	t.Helper()
	for _, f := range s.Files {
		rel := strings.TrimPrefix(f.Path, catalog.ConfigDir(s.Component)+"/")
		promWriteFile(t, filepath.Join(dir, rel), f.Content)
	}
}

func promWriteFile(t *testing.T, file string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIssue13_RenderPerReleaseLine: one golden per release line of the
// unit's command line and every configuration file; Prometheus 3.x jobs keep
// 2.x's scrape of targets without a proper Content-Type.
func TestIssue13_RenderPerReleaseLine(t *testing.T) {
	for _, l := range releaseLines {
		t.Run(l.comp+"-"+l.line, func(t *testing.T) {
			s := lineSpec(t, l.comp, l.version)
			dir := filepath.Join("testdata", "lines", l.comp+"-"+l.line)
			golden.Check(t, filepath.Join(dir, "ExecStart"), []byte(strings.Join(execStart(t, s), "\n")+"\n"))
			for _, f := range s.Files {
				rel := strings.TrimPrefix(f.Path, catalog.ConfigDir(s.Component)+"/")
				golden.Check(t, filepath.Join(dir, strings.ReplaceAll(rel, "/", "_")), f.Content)
			}
			if l.comp != catalog.Prometheus {
				return
			}
			for _, f := range s.Files {
				if path.Base(f.Path) != "prometheus.yml" {
					continue
				}
				jobs, fallbacks := bytes.Count(f.Content, []byte("job_name:")), bytes.Count(f.Content, []byte("fallback_scrape_protocol: 'PrometheusText0.0.4'"))
				// One file for both majors: a failed gate switches a 3.x back to 2.x on it.
				want := 0
				if jobs == 0 || fallbacks != want {
					t.Errorf("%s: %d jobs, %d with fallback_scrape_protocol, want %d", l.line, jobs, fallbacks, want)
				}
			}
		})
	}
}

// lineTool finds the real tool of a release line: $OBSBOX_<TOOL>_<LINE>
// (e.g. OBSBOX_PROMTOOL_3_16, set by make test-unit), else the e2e cache's
// <tool>-<version>. Without it the line's check is skipped, or fails when CI=true.
func lineTool(t *testing.T, tool, line, version string) string {
	t.Helper()
	env := "OBSBOX_" + strings.ToUpper(tool) + "_" + strings.ReplaceAll(line, ".", "_")
	p := os.Getenv(env)
	if p == "" {
		p = "/var/cache/obsbox-e2e/bin/" + tool + "-" + version
	}
	if _, err := os.Stat(p); err != nil {
		lineMissing(t, fmt.Sprintf("no %s for %s (set %s or build %s): %v", tool, line, env, p, err))
	}
	return p
}

func lineMissing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func runTool(t *testing.T, dir, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestIssue13_RealToolsAcceptEveryLine: each line's files pass that line's
// own promtool / amtool; a Prometheus 3.x file is refused by 2.53's promtool,
// so the version really decides what may be written.
func TestIssue13_RealToolsAcceptEveryLine(t *testing.T) {
	_, _, pair := lineSecurity(t)
	for _, l := range releaseLines {
		var tool string
		var args [][]string
		switch l.comp {
		case catalog.Prometheus:
			tool, args = "promtool", [][]string{{"check", "config", "prometheus.yml"}, {"check", "web-config", "web.yml"}}
		case catalog.Alertmanager:
			tool, args = "amtool", [][]string{{"check-config", "alertmanager.yml"}}
		default:
			continue // blackbox_exporter checks itself: TestIssue13_FlagsExistInEveryLine
		}
		t.Run(l.comp+"-"+l.line, func(t *testing.T) {
			bin := lineTool(t, tool, l.line, l.version)
			dir := t.TempDir()
			writeConfig(t, lineSpec(t, l.comp, l.version), dir)
			promWriteFile(t, filepath.Join(dir, catalog.KeyPairRel), pair)
			for _, a := range args {
				if out, err := runTool(t, dir, bin, a...); err != nil {
					t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(a, " "), err, out)
				}
			}
		})
	}
	t.Run("prometheus-3.x-file-on-2.53", func(t *testing.T) {
		// A failed gate switches 3.x back to 2.x without rewriting the file.
		bin := lineTool(t, "promtool", "2.53", "2.53.3")
		dir := t.TempDir()
		writeConfig(t, lineSpec(t, catalog.Prometheus, "3.16.0"), dir)
		if out, err := runTool(t, dir, bin, "check", "config", "prometheus.yml"); err != nil {
			t.Errorf("promtool 2.53 refuses the 3.x prometheus.yml (%v):\n%s", err, out)
		}
	})
}

// lineBinary extracts a line's main binary from its bundle in the e2e
// mirror ($OBSBOX_E2E_MIRROR, default /var/cache/obsbox-e2e/mirror).
func lineBinary(t *testing.T, comp, version string) string {
	t.Helper()
	mirror := os.Getenv("OBSBOX_E2E_MIRROR")
	if mirror == "" {
		mirror = "/var/cache/obsbox-e2e/mirror"
	}
	c := catalog.Get(comp)
	tarball, _ := c.ReleasePaths(version, "amd64")
	f, err := os.Open(filepath.Join(mirror, tarball))
	if err != nil {
		lineMissing(t, fmt.Sprintf("no %s %s bundle to read its flags from: %v", comp, version, err))
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s: no %s inside", tarball, c.Binaries[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || path.Base(h.Name) != c.Binaries[0] {
			continue
		}
		out := filepath.Join(t.TempDir(), c.Binaries[0])
		w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// TestIssue13_FlagsExistInEveryLine: every flag a line's unit passes is in
// that release's own --help (kingpin prints a boolean as --[no-]name;
// VictoriaMetrics' Go flags are -name).
func TestIssue13_FlagsExistInEveryLine(t *testing.T) {
	for _, l := range releaseLines {
		t.Run(l.comp+"-"+l.line, func(t *testing.T) {
			if l.docs {
				t.Skipf("%s %s: checked against its documentation only", l.comp, l.line)
			}
			s := lineSpec(t, l.comp, l.version)
			bin := lineBinary(t, l.comp, l.version)
			help, err := runTool(t, t.TempDir(), bin, "--help")
			if err != nil {
				t.Fatalf("%s --help: %v\n%s", l.comp, err, help)
			}
			for _, a := range execStart(t, s)[1:] {
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !regexp.MustCompile(`(?m)^\s+--?(\[no-\])?` + regexp.QuoteMeta(name) + `[=\s]`).MatchString(help) {
					t.Errorf("%s %s: --%s is not in its --help", l.comp, l.version, name)
				}
			}
			if l.comp == catalog.BlackboxExporter {
				dir := t.TempDir()
				writeConfig(t, s, dir)
				if out, err := runTool(t, dir, bin, "--config.check", "--config.file=blackbox.yml"); err != nil {
					t.Errorf("blackbox_exporter %s --config.check: %v\n%s", l.version, err, out)
				}
			}
		})
	}
}

// lineSecurity is the default security every line renders with: TLS and
// basic auth. Goldens get a fixed certificate text and hash (stable across
// runs); realPair is a real key and certificate for mon-1 from a CA made
// for the test, for the tools that load it.
func lineSecurity(t *testing.T) (sec Security, goldenCert, realPair []byte) {
	t.Helper()
	lineSecOnce.Do(func() {
		ca, err := pki.Ephemeral(time.Now())
		if err != nil {
			panic(err)
		}
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
		cert, err := ca.Sign(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			pki.Subject{Name: "mon-1", Address: "10.0.0.5"}, 90*24*time.Hour, time.Now())
		if err != nil {
			panic(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(k)
		linePair = append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert...)
	})
	sec = Security{TLS: true, BasicAuth: true, CABundle: []byte("-----BEGIN CERTIFICATE-----\nTEST CA\n-----END CERTIFICATE-----\n"),
		Password: inventory.NewSecret("web-pw-0123456789"), Hash: "$2a$10$abcdefghijklmnopqrstuuQeQzcXWxIlnA0mi8TGaf9yWr2NqEaW."}
	return sec, []byte("-----BEGIN CERTIFICATE-----\nTEST HOST CERT\n-----END CERTIFICATE-----\n"), linePair
}

var (
	lineSecOnce sync.Once
	linePair    []byte
)
