package hoststate

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// fields joins probe fields as the script prints them, each ended by NUL.
func fields(f ...string) string { return strings.Join(f, "\x00") + "\x00" }

var sampleProbe = fields(
	"@@obsbox arch", "x86_64\n",
	"@@obsbox systemd", "systemd 252 (252.36-1~deb12u1)\n+PAM +AUDIT\n",
	"@@obsbox record", `{"format":1,"paths":["/etc/obsbox"],"trees":["/opt/obsbox/prometheus/2.53.3"],"users":["obsbox-prometheus"],"groups":["obsbox-prometheus"],"units":["obsbox-prometheus.service"],"components":{"prometheus":{"version":"2.53.3"}}}`+"\n",
	"@@obsbox path", "d", "755", "root", "root", "4096", "/opt/obsbox", "",
	"@@obsbox path", "l", "777", "root", "root", "6", "/opt/obsbox/prometheus/current", "2.53.3",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  /etc/obsbox/prometheus/prometheus.yml",
	"@@obsbox path", "f", "640", "root", "obsbox-prometheus", "120", "/etc/obsbox/prometheus/prometheus.yml", "",
	"@@obsbox users", "obsbox-prometheus:x:997:996:obsbox prometheus:/nonexistent:/usr/sbin/nologin\n",
	"@@obsbox groups", "obsbox-prometheus:x:996:\n",
	"@@obsbox units", `Id=obsbox-prometheus.service
LoadState=loaded
ActiveState=active
SubState=running
MainPID=4242
UnitFileState=enabled

Id=obsbox-grafana.service
LoadState=not-found
ActiveState=inactive
SubState=dead
MainPID=0
UnitFileState=
`,
	"@@obsbox exe", "/proc/4242/exe", "/opt/obsbox/prometheus/2.53.3/prometheus",
	"@@obsbox staged", "abc",
	"@@obsbox staged", "def.part",
	"@@obsbox applydir", "/var/tmp/obsbox-apply.b",
	"@@obsbox applydir", "/var/tmp/obsbox-apply.a",
	"@@obsbox end",
)

func TestParseProbe(t *testing.T) {
	s, err := ParseProbe([]byte(sampleProbe))
	if err != nil {
		t.Fatal(err)
	}
	if s.Arch != "x86_64" || s.Systemd != 252 {
		t.Errorf("arch %q systemd %d", s.Arch, s.Systemd)
	}
	if l := s.Path("/opt/obsbox/prometheus/current"); l.Kind != KindLink || l.Target != "2.53.3" {
		t.Errorf("link: %+v", l)
	}
	f := s.Path("/etc/obsbox/prometheus/prometheus.yml")
	if f.Kind != KindFile || f.Mode != 0o640 || f.Group != "obsbox-prometheus" || !strings.HasPrefix(f.SHA256, "0123") {
		t.Errorf("file: %+v", f)
	}
	if s.Path("/nowhere").Kind != KindMissing {
		t.Errorf("missing path should read KindMissing")
	}
	if u := s.Units["obsbox-prometheus.service"]; u.MainPID != 4242 || u.ActiveState != "active" || u.UnitFileState != "enabled" {
		t.Errorf("unit: %+v", u)
	}
	if u := s.Units["obsbox-prometheus.service"]; u.Exe != "/opt/obsbox/prometheus/2.53.3/prometheus" {
		t.Errorf("the running binary comes from /proc/MainPID/exe: %+v", u)
	}
	if u := s.Units["obsbox-grafana.service"]; u.LoadState != "not-found" {
		t.Errorf("unit: %+v", u)
	}
	if !s.Users["obsbox-prometheus"] || s.Users["obsbox-grafana"] {
		t.Errorf("users: %v", s.Users)
	}
	if !s.Staged["abc"] || s.Staged["def.part"] {
		t.Errorf("a .part file is not staged: %v", s.Staged)
	}
	if fmt.Sprint(s.ApplyDirs) != "[/var/tmp/obsbox-apply.a /var/tmp/obsbox-apply.b]" {
		t.Errorf("apply folders: %q", s.ApplyDirs)
	}
	if s.Record.Components["prometheus"].Version != "2.53.3" || !s.Record.Has("/opt/obsbox/prometheus/2.53.3") {
		t.Errorf("record: %+v", s.Record)
	}
}

func TestParseProbeRefusesTruncatedOutput(t *testing.T) {
	cut := sampleProbe[:strings.Index(sampleProbe, "@@obsbox end")]
	if _, err := ParseProbe([]byte(cut)); err == nil {
		t.Fatal("output without its end marker must be refused: a dropped connection is not an empty host")
	}
}

func TestParseRecordRefusesNewerFormat(t *testing.T) {
	if _, err := ParseRecord([]byte(`{"format":99}`)); err == nil || !strings.Contains(err.Error(), "newer obsbox") {
		t.Fatalf("got %v", err)
	}
}

func TestProbeScriptIsValidShellAndReadOnly(t *testing.T) {
	script := ProbeRequest{Users: []string{"obsbox-prometheus"}, Units: []string{"obsbox-prometheus.service"}, StagingDir: "/var/tmp/obsbox-staging-root"}.Script()
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("not valid sh: %v\n%s", err, out)
	}
	for _, w := range []string{"rm ", "mv ", "mkdir", "chmod", "chown", "useradd", "systemctl start", "systemctl restart", ">"} {
		for _, line := range strings.Split(script, "\n") {
			// Redirections to nowhere or to stderr write nothing on the host.
			bare := strings.NewReplacer("2>/dev/null", "", ">/dev/null", "", ">&2", "").Replace(line)
			if strings.Contains(bare, w) {
				t.Errorf("probe must only read; line %q contains %q", line, w)
			}
		}
	}
}

func TestRecordMarshalIsStable(t *testing.T) {
	r := &Record{Paths: []string{"/b", "/a", "/b"}, Components: map[string]ComponentRecord{"x": {Version: "1"}}}
	a, b := string(r.Marshal()), string(r.Marshal())
	if a != b || strings.Index(a, `"/a"`) > strings.Index(a, `"/b"`) || strings.Count(a, `"/b"`) != 1 {
		t.Errorf("record not sorted and deduplicated:\n%s", a)
	}
}
