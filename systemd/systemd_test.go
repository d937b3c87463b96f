package systemd

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/internal/golden"
)

// sampleUnits are the units as the installer fills them in on a host.
func sampleUnits() map[string]Unit {
	return map[string]Unit{
		catalog.Prometheus: {
			Description: "Prometheus monitoring server (obsbox)",
			User:        "obsbox-prometheus",
			Group:       "obsbox-prometheus",
			ExecStart: []string{
				"/opt/obsbox/prometheus/current/prometheus",
				"--config.file=/etc/obsbox/prometheus/prometheus.yml",
				"--storage.tsdb.path=/var/lib/obsbox/prometheus",
				"--storage.tsdb.retention.time=30d",
				"--web.listen-address=:9090",
			},
			WorkingDirectory: "/var/lib/obsbox/prometheus",
			ReadWritePaths:   []string{"/var/lib/obsbox/prometheus"},
		},
		catalog.Alertmanager: {
			Description: "Prometheus Alertmanager (obsbox)",
			User:        "obsbox-alertmanager",
			Group:       "obsbox-alertmanager",
			ExecStart: []string{
				"/opt/obsbox/alertmanager/current/alertmanager",
				"--config.file=/etc/obsbox/alertmanager/alertmanager.yml",
				"--storage.path=/var/lib/obsbox/alertmanager",
				"--web.listen-address=:9093",
				"--cluster.listen-address=:9094",
			},
			WorkingDirectory: "/var/lib/obsbox/alertmanager",
			ReadWritePaths:   []string{"/var/lib/obsbox/alertmanager"},
		},
		catalog.Grafana: {
			Description: "Grafana (obsbox)",
			User:        "obsbox-grafana",
			Group:       "obsbox-grafana",
			ExecStart: []string{
				"/opt/obsbox/grafana/current/bin/grafana",
				"server",
				"--homepath=/opt/obsbox/grafana/current",
				"--config=/etc/obsbox/grafana/grafana.ini",
			},
			WorkingDirectory: "/var/lib/obsbox/grafana",
			ReadWritePaths:   []string{"/var/lib/obsbox/grafana"},
		},
		catalog.NodeExporter: {
			Description: "Prometheus node_exporter (obsbox)",
			User:        "obsbox-node-exporter",
			Group:       "obsbox-node-exporter",
			ExecStart: []string{
				"/opt/obsbox/node_exporter/current/node_exporter",
				"--web.listen-address=:9100",
				"--collector.systemd",
				"--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys)($|/)",
			},
			Environment: map[string]string{"GOMAXPROCS": "1"},
		},
		catalog.VictoriaMetrics: {
			Description: "VictoriaMetrics long-term storage (obsbox)",
			User:        "obsbox-victoriametrics",
			Group:       "obsbox-victoriametrics",
			ExecStart: []string{
				"/opt/obsbox/victoriametrics/current/victoria-metrics-prod",
				"-storageDataPath=/var/lib/obsbox/victoriametrics",
				"-retentionPeriod=12",
				"-dedup.minScrapeInterval=15s",
				"-httpListenAddr=:8428",
			},
			WorkingDirectory: "/var/lib/obsbox/victoriametrics",
			ReadWritePaths:   []string{"/var/lib/obsbox/victoriametrics"},
		},
		catalog.BlackboxExporter: {
			Description: "Prometheus blackbox_exporter (obsbox)",
			User:        "obsbox-blackbox-exporter",
			Group:       "obsbox-blackbox-exporter",
			ExecStart: []string{
				"/opt/obsbox/blackbox_exporter/current/blackbox_exporter",
				"--config.file=/etc/obsbox/blackbox_exporter/blackbox.yml",
				"--web.listen-address=127.0.0.1:9115",
			},
		},
	}
}

func TestRenderGolden(t *testing.T) {
	for name, u := range sampleUnits() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(name, u)
			if err != nil {
				t.Fatal(err)
			}
			unit := catalog.UnitName(name)
			golden.Check(t, filepath.Join("testdata", unit), got)
		})
	}
}

// TestComponentSettings pins what differs between the units on purpose.
func TestComponentSettings(t *testing.T) {
	tests := []struct {
		component string
		want      []string
		dontWant  []string
	}{
		{catalog.Prometheus,
			[]string{"ExecReload=/bin/kill -HUP $MAINPID", "TimeoutStopSec=5min", "ProtectHome=yes", "ProtectClock=yes", "ProtectProc=invisible"},
			[]string{"ProcSubset="}},
		{catalog.Alertmanager,
			[]string{"ExecReload=/bin/kill -HUP $MAINPID", "ProtectHome=yes", "ProtectClock=yes", "ProtectProc=invisible"},
			[]string{"ProcSubset="}},
		{catalog.Grafana,
			[]string{"ProtectHome=yes", "ProtectClock=yes", "ProtectProc=invisible", "ProcSubset=pid"},
			[]string{"ExecReload="}},
		{catalog.NodeExporter,
			[]string{"ProtectHome=read-only", "SystemCallFilter=adjtimex", "SystemCallErrorNumber=EPERM"},
			[]string{"ExecReload=", "ProtectClock=", "ProtectProc=", "ProcSubset=", "ReadWritePaths="}},
		{catalog.VictoriaMetrics,
			[]string{"ProtectHome=yes", "ProtectClock=yes", "ProtectProc=invisible", "TimeoutStopSec=5min", "ReadWritePaths=/var/lib/obsbox/victoriametrics", "SystemCallFilter=mincore"},
			[]string{"ExecReload=", "ProcSubset="}},
		// ICMP needs raw sockets and nothing more; the capability must reach the
		// host's network namespace, so no private user namespace.
		{catalog.BlackboxExporter,
			[]string{"ExecReload=/bin/kill -HUP $MAINPID", "CapabilityBoundingSet=CAP_NET_RAW", "AmbientCapabilities=CAP_NET_RAW", "PrivateUsers=no", "ProtectHome=yes", "NoNewPrivileges=yes"},
			[]string{"ReadWritePaths=", "CapabilityBoundingSet=CAP_NET_ADMIN"}},
	}
	for _, tt := range tests {
		t.Run(tt.component, func(t *testing.T) {
			b, err := Render(tt.component, sampleUnits()[tt.component])
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(b), "\n")
			has := func(prefix string) bool {
				for _, l := range lines {
					if strings.HasPrefix(l, prefix) {
						return true
					}
				}
				return false
			}
			for _, w := range tt.want {
				if !has(w) {
					t.Errorf("unit lacks %q", w)
				}
			}
			for _, w := range tt.dontWant {
				if has(w) {
					t.Errorf("unit has %q, which this component must not", w)
				}
			}
			if got := catalog.Get(tt.component).Reload; got != has("ExecReload=") {
				t.Errorf("catalog Reload of %q = %v, but the unit's ExecReload= presence is %v", tt.component, got, !got)
			}
		})
	}
}

func TestQuoteExecArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--web.listen-address=:9100", "--web.listen-address=:9100"},
		{"/opt/obsbox/prometheus/current/prometheus", "/opt/obsbox/prometheus/current/prometheus"},
		{"", `""`},
		{"two words", `"two words"`},
		{"100%", `"100%%"`},
		{"$HOME", `"$$HOME"`},
		{"${X}", `"$${X}"`},
		{`back\slash`, `"back\\slash"`},
		{`say "hi"`, `"say \"hi\""`},
		{"it's", `"it's"`},
		{";", `";"`},
		{"line\nbreak", `"line\nbreak"`},
		{"tab\there", `"tab\there"`},
		{"bell\a", `"bell\x07"`},
		{"@first", `"@first"`},
		{"^/(dev|proc)($|/)", `"^/(dev|proc)($$|/)"`},
		{"ünïcode", `"ünïcode"`},
	}
	for _, tt := range tests {
		got, err := QuoteExecArg(tt.in)
		if err != nil {
			t.Errorf("QuoteExecArg(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("QuoteExecArg(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"nul\x00byte", "bad\xffutf8"} {
		if _, err := QuoteExecArg(bad); err == nil {
			t.Errorf("QuoteExecArg(%q) succeeded, want an error", bad)
		}
	}
}

func TestEnvironmentQuoting(t *testing.T) {
	u := sampleUnits()[catalog.Prometheus]
	u.Environment = map[string]string{"B": "a b", "A": "50%", "C": "$x"}
	b, err := Render(catalog.Prometheus, u)
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by name; "$" means nothing in Environment=, "%" does.
	want := "Environment=\"A=50%%\"\nEnvironment=\"B=a b\"\nEnvironment=\"C=$x\"\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("unit does not contain\n%s\ngot:\n%s", want, b)
	}
}

func TestRenderRejects(t *testing.T) {
	tests := []struct {
		name      string
		component string
		change    func(*Unit)
		wantErr   string
	}{
		{"unknown component", "loki", func(*Unit) {}, `unknown component "loki"`},
		{"no description", catalog.Prometheus, func(u *Unit) { u.Description = "" }, "Description is empty"},
		{"newline in description", catalog.Prometheus, func(u *Unit) { u.Description = "a\nb" }, "control character"},
		{"bad user", catalog.Prometheus, func(u *Unit) { u.User = "Root Admin" }, `User "Root Admin"`},
		{"bad group", catalog.Prometheus, func(u *Unit) { u.Group = "" }, `Group ""`},
		{"no exec", catalog.Prometheus, func(u *Unit) { u.ExecStart = nil }, "ExecStart is empty"},
		{"relative binary", catalog.Prometheus, func(u *Unit) { u.ExecStart = []string{"prometheus"} }, "ExecStart[0]"},
		{"nul in arg", catalog.Prometheus, func(u *Unit) { u.ExecStart = append(u.ExecStart, "a\x00") }, "ExecStart[5]"},
		{"relative working dir", catalog.Prometheus, func(u *Unit) { u.WorkingDirectory = "data" }, "WorkingDirectory"},
		{"unclean path", catalog.Prometheus, func(u *Unit) { u.ReadWritePaths = []string{"/var/lib/../lib/x"} }, "not a clean path"},
		{"space in path", catalog.Prometheus, func(u *Unit) { u.ReadWritePaths = []string{"/var/lib/my data"} }, "ReadWritePaths[0]"},
		{"root writable", catalog.Prometheus, func(u *Unit) { u.ReadWritePaths = []string{"/"} }, "undo ProtectSystem"},
		{"specifier in path", catalog.Prometheus, func(u *Unit) { u.ReadOnlyPaths = []string{"/etc/%h"} }, "ReadOnlyPaths[0]"},
		{"bad env name", catalog.Prometheus, func(u *Unit) { u.Environment = map[string]string{"A-B": "x"} }, `"A-B" is not a valid variable name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := sampleUnits()[catalog.Prometheus]
			tt.change(&u)
			_, err := Render(tt.component, u)
			if err == nil {
				t.Fatalf("Render succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestUnknownComponent(t *testing.T) {
	if _, err := Render("node-exporter", sampleUnits()[catalog.NodeExporter]); err == nil {
		t.Error(`Render("node-exporter") succeeded; component names use an underscore`)
	}
}

// maxExposure is the highest `systemd-analyze security` score a unit may have.
const maxExposure = 2.0

var overallLine = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// TestSecurityExposure scores every rendered unit with systemd's own analyzer,
// offline (no host and no binaries needed), and fails above maxExposure or on
// any parse warning, such as an unknown key or bad quoting.
func TestSecurityExposure(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipOrFail(t, "systemd-analyze not found: install systemd (252 or newer) to score the units")
	}
	if out, err := exec.Command(analyze, "security", "--help").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("--offline")) {
		skipOrFail(t, "this systemd-analyze has no --offline (needs systemd 250 or newer)")
	}
	dir := t.TempDir()
	for _, c := range catalog.Names() {
		t.Run(c, func(t *testing.T) {
			b, err := Render(c, sampleUnits()[c])
			if err != nil {
				t.Fatal(err)
			}
			name := catalog.UnitName(c)
			file := filepath.Join(dir, name)
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			threshold := strconv.Itoa(int(maxExposure * 10))
			cmd := exec.Command(analyze, "security", "--offline=true", "--no-pager", "--threshold="+threshold, file)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			m := overallLine.FindSubmatch(stdout.Bytes())
			if m == nil {
				t.Fatalf("no overall exposure line in systemd-analyze output (err %v):\n%s\n%s", runErr, stdout.String(), stderr.String())
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			t.Logf("%s: exposure %.1f", name, score)
			if score > maxExposure {
				t.Errorf("%s scores %.1f, above %.1f:\n%s", name, score, maxExposure, failing(stdout.String()))
			}
			var exitErr *exec.ExitError
			if runErr != nil && !errors.As(runErr, &exitErr) {
				t.Fatalf("running systemd-analyze: %v", runErr)
			}
			if runErr != nil && score <= maxExposure {
				t.Errorf("systemd-analyze failed (%v) although the score %.1f is within the threshold:\n%s", runErr, score, stderr.String())
			}
			if s := strings.TrimSpace(stderr.String()); s != "" {
				t.Errorf("systemd-analyze warned while parsing %s:\n%s", name, s)
			}
		})
	}
}

// failing keeps the analyzer's lines that add exposure.
func failing(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "✗") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
