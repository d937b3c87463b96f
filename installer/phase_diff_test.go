package installer

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/templates"
)

const (
	slackToken   = "https://hooks.slack.com/services/T000/B000/SLACKTOKEN123"
	hookURL      = "http://10.0.0.9:5001/HOOKSECRET"
	pdKey        = "PDROUTINGKEY0123456789"
	smtpPassword = "SMTPPASSWORD42"
	rwURL        = "https://rw.example.com/push?token=RWURLSECRET"
	rwPassword   = "RWPASSWORD77"
	adminPass    = "ADMINPASS99"
)

var fixtureSecrets = []string{slackToken, "SLACKTOKEN123", hookURL, "HOOKSECRET", pdKey, smtpPassword, rwURL, "RWURLSECRET", rwPassword, adminPass}

const secretInventory = `
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
}
grafana { admin_password = "ADMINPASS99" }
prometheus {
  remote_write "longterm" {
    url      = "https://rw.example.com/push?token=RWURLSECRET"
    username = "prometheus"
    password = "RWPASSWORD77"
  }
}
alertmanager {
  receiver "team" {
    slack {
      api_url = "https://hooks.slack.com/services/T000/B000/SLACKTOKEN123"
      channel = "#alerts"
    }
  }
  receiver "hook" {
    webhook { url = "http://10.0.0.9:5001/HOOKSECRET" }
  }
  receiver "oncall" {
    pagerduty { routing_key = "PDROUTINGKEY0123456789" }
  }
  receiver "mail" {
    email {
      to            = "ops@example.com"
      from          = "am@example.com"
      smarthost     = "smtp.example.com:587"
      auth_username = "am@example.com"
      auth_password = "SMTPPASSWORD42"
    }
  }
  route {
    severity = "page"
    receiver = "oncall"
  }
  default_receiver = "team"
}
`

// noURLInventory has no receiver with a secret left: the last URL receiver is gone.
const noURLInventory = `
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
}
grafana { admin_password = "ADMINPASS99" }
alertmanager {
  receiver "mail" {
    email {
      to        = "ops@example.com"
      from      = "am@example.com"
      smarthost = "smtp.example.com:587"
    }
  }
  default_receiver = "mail"
}
`

// specFile renders component c for mon-1 and returns its file at path.
func specFile(t *testing.T, src, c, path string) component.File {
	t.Helper()
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags.Error())
	}
	pw, err := inv.GrafanaAdminPassword()
	if err != nil {
		t.Fatal(err)
	}
	var impl component.Component
	for _, x := range component.All() {
		if x.Name() == c {
			impl = x
		}
	}
	s, err := impl.Spec(&component.Context{Inv: inv, Host: inv.Host("mon-1"), Version: inv.Versions[c], GrafanaAdminPassword: pw, GrafanaSecretKey: inventory.NewSecret("GRAFANASECRETKEY77")})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("%s has no file %s", c, path)
	return component.File{}
}

func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range fixtureSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, text)
		}
	}
}

// printed returns the plan as WritePlan prints it and as --json encodes it.
func printed(t *testing.T, diffs ...string) (human, js string) {
	t.Helper()
	h := &HostResult{Host: "mon-1", Address: "10.0.0.5", OK: true}
	for _, d := range diffs {
		h.Actions = append(h.Actions, plan.Action{Op: plan.OpChange, Kind: "file", Target: "/etc/obsbox/x", Diff: d})
	}
	rep := &Report{Hosts: []*HostResult{h}}
	var b bytes.Buffer
	rep.WritePlan(&b)
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), string(j)
}

// TestFinding2_OldSideSecretsMasked: the host's alertmanager.yml holds
// secrets the inventory no longer names. Removing the last receiver with a
// URL shows the receivers removed, their secrets masked, in plan and --json.
func TestFinding2_OldSideSecretsMasked(t *testing.T) {
	const am = "/etc/obsbox/alertmanager/alertmanager.yml"
	old := specFile(t, secretInventory, "alertmanager", am)
	now := specFile(t, noURLInventory, "alertmanager", am)
	d := fileDiff(am, string(old.Content), now)
	for _, want := range []string{"-  - name: 'team'", "-      - api_url: " + Masked, "-      - url: " + Masked, "-      - routing_key: " + Masked, "-        auth_password: " + Masked} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	human, js := printed(t, d)
	noSecrets(t, "plan", human)
	noSecrets(t, "plan --json", js)
	var rep Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.Hosts[0].Actions[0].Diff != d {
		t.Errorf("--json does not carry the masked diff (%v)", err)
	}

	// Other secret-holding files: the old side had secrets the new one lacks.
	const prom = "/etc/obsbox/prometheus/prometheus.yml"
	pd := fileDiff(prom, string(specFile(t, secretInventory, "prometheus", prom).Content), specFile(t, noURLInventory, "prometheus", prom))
	if !strings.Contains(pd, "-    url: "+Masked) || !strings.Contains(pd, "-      password: "+Masked) {
		t.Errorf("remote_write removal not shown masked:\n%s", pd)
	}
	noSecrets(t, "prometheus.yml diff", pd)
	human, js = printed(t, d, pd)
	noSecrets(t, "plan", human)
	noSecrets(t, "plan --json", js)
}

// TestFinding2_RouteAndChannelChangesVisible: with secrets in the file, a
// route or channel change still shows; a changed secret shows as changed
// without its value.
func TestFinding2_RouteAndChannelChangesVisible(t *testing.T) {
	const am = "/etc/obsbox/alertmanager/alertmanager.yml"
	old := specFile(t, secretInventory, "alertmanager", am)
	edited := strings.NewReplacer(`channel = "#alerts"`, `channel = "#ops"`, `severity = "page"`, `severity = "ticket"`,
		"SLACKTOKEN123", "SLACKTOKEN456").Replace(secretInventory)
	now := specFile(t, edited, "alertmanager", am)
	d := fileDiff(am, string(old.Content), now)
	for _, want := range []string{"-        channel: '#alerts'", "+        channel: '#ops'", `severity="page"`, `severity="ticket"`,
		"-      - api_url: " + Masked, "+      - api_url: " + MaskedChanged} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "url: "+MaskedChanged) && !strings.Contains(d, "api_url: "+MaskedChanged) {
		t.Errorf("an unchanged secret reads as changed:\n%s", d)
	}
	human, js := printed(t, d)
	noSecrets(t, "plan", human+strings.ReplaceAll(human, "SLACKTOKEN456", "SLACKTOKEN123"))
	noSecrets(t, "plan --json", js)
	if strings.Contains(human+js, "SLACKTOKEN456") {
		t.Errorf("the new Slack token is shown")
	}

	// Only a secret changes: the diff says so and shows nothing else.
	only := specFile(t, strings.Replace(secretInventory, "HOOKSECRET", "HOOKSECRET2", 1), "alertmanager", am)
	if d := fileDiff(am, string(old.Content), only); !strings.Contains(d, "-      - url: "+Masked) || !strings.Contains(d, "+      - url: "+MaskedChanged) {
		t.Errorf("a changed webhook URL is not shown as a masked change:\n%s", d)
	}

	// grafana.ini: a port change shows, the admin password does not.
	gOld := specFile(t, secretInventory, "grafana", templates.GrafanaINIPath)
	gNew := specFile(t, strings.Replace(secretInventory, `grafana { admin_password = "ADMINPASS99" }`, `grafana {
  admin_password = "ADMINPASS99"
  port           = 3001
}`, 1), "grafana", templates.GrafanaINIPath)
	gd := fileDiff(templates.GrafanaINIPath, string(gOld.Content), gNew)
	if !strings.Contains(gd, "+http_port = 3001") {
		t.Errorf("grafana.ini diff:\n%s", gd)
	}
	noSecrets(t, "grafana.ini diff", gd)
	if !strings.Contains(string(gOld.Content), adminPass) {
		t.Fatalf("fixture: grafana.ini lacks the admin password")
	}
}

// TestMaskYAMLStructure covers what an older file on a host may hold: block
// scalars, quoted keys, flow mappings and comments carrying secrets.
func TestMaskYAMLStructure(t *testing.T) {
	keys := map[string]bool{"url": true, "password": true}
	in := "a: 1\n\"url\": 'http://x/SECRET1'\nb:\n  password: |\n    SECRET2\n    SECRET3\n\n  user: bob\nc: {url: 'http://SECRET4'}\n# url: http://SECRET5\nurl:\n"
	got, ok := maskYAML(in, keys, func(string) string { return Masked })
	if !ok {
		t.Fatal("not masked")
	}
	for _, s := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5"} {
		if strings.Contains(got, s) {
			t.Errorf("%s shown:\n%s", s, got)
		}
	}
	for _, want := range []string{"a: 1", "  user: bob", "  password: " + Masked} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
}

// TestFinding14_RetentionFlagDiffAndNotesPrinted: a shorter retention shows
// the unit's ExecStart change and the warning, in plan and in --json.
func TestFinding14_RetentionFlagDiffAndNotesPrinted(t *testing.T) {
	spec := func(retention string) *component.Spec {
		src := strings.Replace(noURLInventory, `grafana {`, `prometheus { retention = "`+retention+`" }
grafana {`, 1)
		inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		s, err := component.Prometheus{}.Spec(&component.Context{Inv: inv, Host: inv.Host("mon-1"), Version: inv.Versions["prometheus"]})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unitPath := catalog.UnitPath("prometheus")
	f, ok := diffFiles([]*component.Spec{spec("7d")})[unitPath]
	if !ok {
		t.Fatalf("the unit is not among the files plan diffs")
	}
	old := spec("30d").Unit
	d := fileDiff(unitPath, string(old), f)
	if !strings.Contains(d, "-ExecStart=") || !strings.Contains(d, "--storage.tsdb.retention.time=30d") || !strings.Contains(d, "--storage.tsdb.retention.time=7d") {
		t.Errorf("unit diff lacks the retention flag change:\n%s", d)
	}
	h := &HostResult{Host: "mon-1", Address: "10.0.0.5", OK: true,
		Actions: []plan.Action{{Op: plan.OpChange, Kind: "file", Target: unitPath, Diff: d}},
		Notes:   plan.UnitChangeNotes("prometheus", old, f.Content)}
	rep := &Report{Hosts: []*HostResult{h}}
	var b bytes.Buffer
	rep.WritePlan(&b)
	if !strings.Contains(b.String(), "! WARNING: retention changes from 30d to 7d") {
		t.Errorf("plan does not print the warning:\n%s", b.String())
	}
	j, _ := json.Marshal(rep)
	if !strings.Contains(string(j), `"notes":[{"level":"warning","component":"prometheus","text":"retention changes from 30d to 7d`) {
		t.Errorf("--json lacks the note: %s", j)
	}
}
