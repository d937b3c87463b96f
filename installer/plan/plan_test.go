package plan_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/plan"
)

const testInventory = `
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager", "grafana"]
}
host "web-1" { address = "10.0.1.10" }
prometheus { scrape_interval = "15s" }
grafana { admin_password = "s3cret-pw" }
alertmanager {
  receiver "hook" {
    webhook { url = "http://10.0.0.9:5001/" }
  }
  default_receiver = "hook"
}
`

func loadInventory(t *testing.T, src string) *inventory.Inventory {
	t.Helper()
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags.Error())
	}
	return inv
}

func fakeBundle(comp, version string) *bundles.Bundle {
	s := sha256.Sum256([]byte(comp + version))
	return &bundles.Bundle{Component: comp, Version: version, Arch: "amd64", SHA256: hex.EncodeToString(s[:])}
}

// specs builds every component's Spec for the named host.
func specs(t *testing.T, inv *inventory.Inventory, host string) []*component.Spec {
	t.Helper()
	h := inv.Host(host)
	var out []*component.Spec
	for _, c := range component.All() {
		if !c.Runs(inv, h) {
			continue
		}
		v := inv.Versions[c.Name()]
		s, err := c.Spec(&component.Context{Inv: inv, Host: h, Version: v, Bundle: fakeBundle(c.Name(), v),
			GrafanaAdminPassword: inventory.NewSecret("s3cret-pw"), GrafanaSecretKey: inventory.NewSecret("test-secret-key")})
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		out = append(out, s)
	}
	return out
}

func emptyState() *hoststate.State {
	rec, _ := hoststate.ParseRecord(nil)
	return &hoststate.State{Arch: "x86_64", Record: rec, Paths: map[string]hoststate.Path{},
		Users: map[string]bool{}, Groups: map[string]bool{}, Units: map[string]hoststate.Unit{}, Staged: map[string]bool{}}
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// converged is the state of a host after a successful apply of specs.
func converged(specs []*component.Spec, rec *hoststate.Record) *hoststate.State {
	st := emptyState()
	st.Record = rec
	dir := func(p string, mode uint32, owner, group string) {
		st.Paths[p] = hoststate.Path{Kind: hoststate.KindDir, Mode: mode, Owner: owner, Group: group}
	}
	for _, s := range specs {
		c, user := s.Component, catalog.UserName(s.Component)
		st.Users[user], st.Groups[user] = true, true
		dir(catalog.OptRoot, 0o755, "root", "root")
		dir(catalog.BaseDir(c), 0o755, "root", "root")
		dir(catalog.ConfigRoot, 0o755, "root", "root")
		dir(catalog.ConfigDir(c), 0o750, "root", user)
		dir(catalog.DataRoot, 0o755, "root", "root")
		df := s.DataFolder()
		dir(df.Path, df.Mode, df.Owner, df.Group)
		for _, d := range s.Dirs {
			dir(d.Path, d.Mode, d.Owner, d.Group)
		}
		vdir := catalog.VersionDir(c, s.Version)
		dir(vdir, 0o755, "root", "root")
		st.Paths[path.Join(vdir, ".obsbox-bundle")] = hoststate.Path{Kind: hoststate.KindFile, SHA256: sum([]byte(s.Bundle.SHA256 + "\n"))}
		st.Paths[catalog.CurrentLink(c)] = hoststate.Path{Kind: hoststate.KindLink, Target: s.Version}
		for _, f := range s.Files {
			st.Paths[f.Path] = hoststate.Path{Kind: hoststate.KindFile, Mode: f.Mode, Owner: f.Owner, Group: f.Group, SHA256: sum(f.Content)}
		}
		st.Paths[catalog.UnitPath(c)] = hoststate.Path{Kind: hoststate.KindFile, Mode: 0o644, Owner: "root", Group: "root", SHA256: sum(s.Unit)}
		st.Units[catalog.UnitName(c)] = hoststate.Unit{ActiveState: "active", UnitFileState: "enabled", LoadState: "loaded", MainPID: 42}
	}
	return st
}

func build(t *testing.T, in plan.Input) *plan.Host {
	t.Helper()
	if in.StagingDir == "" {
		in.StagingDir = "/var/tmp/obsbox-staging-root"
	}
	p, err := plan.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func actions(p *plan.Host) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, string(a.Op)+" "+string(a.Kind)+" "+a.Target)
	}
	return out
}

func has(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

func TestFreshHostInstallsEverything(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	p := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	got := actions(p)
	for _, want := range []string{
		"create user obsbox-prometheus",
		"create group obsbox-grafana",
		"create dir /etc/obsbox/prometheus",
		"create binaries /opt/obsbox/prometheus/" + inv.Versions["prometheus"],
		"create link /opt/obsbox/node_exporter/current",
		"create file /etc/obsbox/prometheus/prometheus.yml",
		"create file /etc/obsbox/prometheus/targets/node.json",
		"create file /etc/systemd/system/obsbox-alertmanager.service",
		"enable unit obsbox-grafana.service",
		"start service obsbox-prometheus.service",
		"start service obsbox-node-exporter.service",
	} {
		if !has(got, want) {
			t.Errorf("missing %q in plan:\n%s", want, strings.Join(got, "\n"))
		}
	}
	// The record names everything the plan creates, so uninstall can undo it.
	rec := p.Record
	for _, a := range p.Actions {
		switch a.Kind {
		case "dir", "file", "link":
			if a.Op == plan.OpCreate && !rec.Has(a.Target) {
				t.Errorf("record misses %s", a.Target)
			}
		case "user":
			if !has(rec.Users, a.Target) {
				t.Errorf("record misses user %s", a.Target)
			}
		}
	}
	if rec.Components["prometheus"].Version != inv.Versions["prometheus"] {
		t.Errorf("record components: %+v", rec.Components)
	}
	if p.UploadBytes() == 0 && len(p.Uploads) == 0 {
		t.Errorf("a fresh host needs uploads")
	}
	script := p.Script()
	for _, want := range []string{"sha256sum -c", "promtool' 'check' 'config' 'prometheus.yml'", "amtool' 'check-config'", "systemctl daemon-reload", "OBSBOX_RECORD"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("the apply script is not valid sh: %v\n%s", err, out)
	}
	// Checks run before the record is written and before anything is installed.
	if strings.Index(script, "check config") > strings.Index(script, "OBSBOX_RECORD") {
		t.Errorf("configuration checks must come before any change")
	}
}

func TestConvergedHostHasNothingToDo(t *testing.T) {
	inv := loadInventory(t, testInventory)
	for _, host := range []string{"mon-1", "web-1"} {
		sp := specs(t, inv, host)
		first := build(t, plan.Input{Host: host, Specs: sp, State: emptyState()})
		p := build(t, plan.Input{Host: host, Specs: sp, State: converged(sp, first.Record)})
		if !p.Empty() {
			t.Errorf("%s: converged host still has actions:\n%s", host, strings.Join(actions(p), "\n"))
		}
		if len(p.Uploads) != 0 {
			t.Errorf("%s: converged host still gets uploads", host)
		}
	}
}

func TestScrapeIntervalChangeReloadsPrometheusOnly(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	first := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)

	inv2 := loadInventory(t, strings.Replace(testInventory, `"15s"`, `"30s"`, 1))
	p := build(t, plan.Input{Host: "mon-1", Specs: specs(t, inv2, "mon-1"), State: st})
	got := actions(p)
	want := []string{"change file /etc/obsbox/prometheus/prometheus.yml", "reload service obsbox-prometheus.service"}
	// Grafana's datasource carries the scrape interval too, so it restarts.
	if !has(got, want[0]) || !has(got, want[1]) {
		t.Fatalf("plan:\n%s", strings.Join(got, "\n"))
	}
	for _, a := range got {
		if strings.Contains(a, "prometheus") && strings.HasPrefix(a, "restart") {
			t.Errorf("Prometheus must reload, not restart: %s", a)
		}
	}
	if len(p.Uploads) != 1 { // prometheus.yml only
		t.Errorf("uploads: %d", len(p.Uploads))
	}
	script := p.Script()
	if !strings.Contains(script, "check config") {
		t.Errorf("a changed prometheus.yml must be checked")
	}
}

func TestVersionChangeSwitchesLinkAndRestarts(t *testing.T) {
	inv := loadInventory(t, testInventory)
	inv.Versions["node_exporter"] = "1.8.2" // an upgrade from a pinned version, whatever the default
	sp := specs(t, inv, "web-1")
	first := build(t, plan.Input{Host: "web-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	inv.Versions["node_exporter"] = "1.9.0"
	p := build(t, plan.Input{Host: "web-1", Specs: specs(t, inv, "web-1"), State: st})
	got := actions(p)
	for _, want := range []string{
		"create binaries /opt/obsbox/node_exporter/1.9.0",
		"change link /opt/obsbox/node_exporter/current",
		"restart service obsbox-node-exporter.service",
	} {
		if !has(got, want) {
			t.Errorf("missing %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	// The switch waits for the rollout: the prepare script only stages.
	if strings.Contains(p.Script(), "switch_link '1.9.0'") || strings.Contains(p.Script(), "systemctl restart 'obsbox-node-exporter.service'") {
		t.Errorf("the prepare script must not switch or restart a rolling component")
	}
	if r := p.Rollouts(); len(r) != 1 || r[0].From != "1.8.2" || r[0].To != "1.9.0" {
		t.Errorf("rollouts: %+v", r)
	}
	if c := p.Record.Components["node_exporter"]; c.Version != "1.8.2" {
		t.Errorf("before its rollout the record names the running version: %+v", c)
	}
	script := p.RolloutScript("node_exporter")
	if !strings.Contains(script, "switch_link '1.9.0'") || !strings.Contains(script, "systemctl restart 'obsbox-node-exporter.service'") {
		t.Errorf("rollout script:\n%s", script)
	}
	if c := p.Record.Components["node_exporter"]; c.Version != "1.9.0" || c.Previous != "1.8.2" {
		t.Errorf("after the rollout the record keeps the previous version for rollback: %+v", c)
	}
	back := p.RollbackScript("node_exporter")
	if !strings.Contains(back, "switch_link '1.8.2'") {
		t.Errorf("rollback script:\n%s", back)
	}
	if c := p.Record.Components["node_exporter"]; c.Version != "1.8.2" {
		t.Errorf("after a rollback the record names the old version again: %+v", c)
	}
	for _, s := range []string{script, back} {
		if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("not valid sh: %v %s", err, out)
		}
	}
}

func TestInterruptedRolloutRestartsOnlyWhatStillRunsTheOldVersion(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "web-1")
	first := build(t, plan.Input{Host: "web-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	// The link already points at the wanted version, but the process was started from the old one.
	u := st.Units["obsbox-node-exporter.service"]
	u.Exe = "/opt/obsbox/node_exporter/1.5.0/node_exporter"
	st.Units["obsbox-node-exporter.service"] = u
	st.Paths["/opt/obsbox/node_exporter/1.5.0"] = hoststate.Path{Kind: hoststate.KindDir}
	st.Record.Trees = append(st.Record.Trees, "/opt/obsbox/node_exporter/1.5.0")
	p := build(t, plan.Input{Host: "web-1", Specs: sp, State: st})
	if r := p.Rollouts(); len(r) != 1 || r[0].From != "1.5.0" {
		t.Fatalf("an old process behind a switched link must be rolled out: %+v %v", r, actions(p))
	}
	for _, a := range actions(p) {
		if strings.Contains(a, "1.5.0") {
			t.Errorf("the running version's folder must be kept: %s", a)
		}
	}
	// The same host already restarted: nothing to do.
	u.Exe = "/opt/obsbox/node_exporter/" + inv.Versions["node_exporter"] + "/node_exporter"
	st.Units["obsbox-node-exporter.service"] = u
	if p := build(t, plan.Input{Host: "web-1", Specs: sp, State: st}); len(p.Rollouts()) != 0 {
		t.Errorf("an upgraded host must not be restarted again: %v", actions(p))
	}
}

func TestOldVersionsArePrunedKeepingTwo(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "web-1")
	first := build(t, plan.Input{Host: "web-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	for _, v := range []string{"1.5.0", "1.6.0"} {
		d := "/opt/obsbox/node_exporter/" + v
		st.Paths[d] = hoststate.Path{Kind: hoststate.KindDir}
		st.Record.Trees = append(st.Record.Trees, d)
	}
	st.Record.Components["node_exporter"] = hoststate.ComponentRecord{Version: inv.Versions["node_exporter"], Previous: "1.6.0"}
	p := build(t, plan.Input{Host: "web-1", Specs: sp, State: st})
	got := actions(p)
	if !has(got, "remove binaries /opt/obsbox/node_exporter/1.5.0") || has(got, "remove binaries /opt/obsbox/node_exporter/1.6.0") {
		t.Errorf("keep the current and the previous version, prune the rest: %v", got)
	}
}

func TestTargetsOnlyTouchesTargets(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	first := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	inv2 := loadInventory(t, testInventory+`host "web-2" { address = "10.0.1.11" }`)
	p := build(t, plan.Input{Host: "mon-1", Specs: specs(t, inv2, "mon-1"), State: st, TargetsOnly: true})
	got := actions(p)
	if len(got) != 1 || got[0] != "change file /etc/obsbox/prometheus/targets/node.json" {
		t.Errorf("targets-only plan: %v", got)
	}
}

func TestRemovedComponentIsTakenOff(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	first := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	var without []*component.Spec
	for _, s := range sp {
		if s.Component != "grafana" {
			without = append(without, s)
		}
	}
	p := build(t, plan.Input{Host: "mon-1", Specs: without, Removed: []string{"grafana"}, State: st})
	got := actions(p)
	// The config folder goes whole, as uninstall removes it (issue 12, finding 3).
	for _, want := range []string{"stop unit obsbox-grafana.service", "remove dir /etc/obsbox/grafana", "create file /var/lib/obsbox/grafana/OBSBOX-KEPT-DATA.txt"} {
		if !has(got, want) {
			t.Errorf("missing %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if _, ok := p.Record.Components["grafana"]; ok {
		t.Errorf("record still lists grafana")
	}
	for _, a := range got {
		if strings.Contains(a, "/var/lib/obsbox/grafana") && !strings.HasSuffix(a, "/OBSBOX-KEPT-DATA.txt") {
			t.Errorf("data must be kept: %s", a)
		}
	}
}

// A wholly secret file never gets a diff; a file with secret values gets
// one, masked by the diff phase (installer/phase_diff.go).
func TestSensitiveFileHasNoDiff(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	first := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	st.Paths["/etc/obsbox/grafana/admin-password"] = hoststate.Path{Kind: hoststate.KindFile, Mode: 0o600, Owner: "root", Group: "root", SHA256: "old"}
	inv2 := loadInventory(t, strings.Replace(testInventory, "10.0.0.9:5001", "10.0.0.9:5002", 1))
	p := build(t, plan.Input{Host: "mon-1", Specs: specs(t, inv2, "mon-1"), State: st})
	seen := 0
	for _, a := range p.Actions {
		switch a.Target {
		case "/etc/obsbox/grafana/admin-password":
			seen++
			if a.Diff != "(sensitive)" {
				t.Errorf("the admin password file: diff must read (sensitive), got %q", a.Diff)
			}
		case "/etc/obsbox/alertmanager/alertmanager.yml":
			seen++
			if a.Diff != "" {
				t.Errorf("alertmanager.yml's diff is made, masked, by the diff phase; got %q", a.Diff)
			}
		}
	}
	if seen != 2 {
		t.Errorf("expected changes to admin-password and alertmanager.yml: %v", actions(p))
	}
}

const twoHosts = `
host "h1" {
  address = "10.0.0.1"
  roles   = ["prometheus"]
}
host "h2" { address = "10.0.0.2" }
`

// TestFinding14_RoleMoveSaysWhatStays: prometheus moves from h1 to h2. h1's
// plan names the data folder and user that stay; h2's says it starts
// without that history.
func TestFinding14_RoleMoveSaysWhatStays(t *testing.T) {
	inv := loadInventory(t, twoHosts)
	sp := specs(t, inv, "h1")
	first := build(t, plan.Input{Host: "h1", Specs: sp, State: emptyState()})
	st1 := converged(sp, first.Record)
	moved := loadInventory(t, strings.Replace(strings.Replace(twoHosts, `roles   = ["prometheus"]`, "", 1),
		`host "h2" { address = "10.0.0.2" }`, `host "h2" {
  address = "10.0.0.2"
  roles   = ["prometheus"]
}`, 1))
	p1 := build(t, plan.Input{Host: "h1", Specs: specs(t, moved, "h1"), Removed: []string{"prometheus"}, State: st1})
	p2 := build(t, plan.Input{Host: "h2", Specs: specs(t, moved, "h2"), State: emptyState()})
	plan.NoteMoves([]*plan.Host{p1, p2})
	text := func(p *plan.Host) string {
		var b strings.Builder
		for _, n := range p.Notes {
			b.WriteString(n.Level + ": " + n.Text + "\n")
		}
		return b.String()
	}
	for _, want := range []string{"warning: ", "/var/lib/obsbox/prometheus", "obsbox-prometheus", "stay", "history does not move"} {
		if !strings.Contains(text(p1), want) {
			t.Errorf("h1's notes lack %q:\n%s", want, text(p1))
		}
	}
	for _, want := range []string{"warning: prometheus starts here without history", "/var/lib/obsbox/prometheus on h1"} {
		if !strings.Contains(text(p2), want) {
			t.Errorf("h2's notes lack %q:\n%s", want, text(p2))
		}
	}
	// A first install anywhere is not a move: no note.
	fresh := build(t, plan.Input{Host: "h1", Specs: sp, State: emptyState()})
	plan.NoteMoves([]*plan.Host{fresh})
	if len(fresh.Notes) != 0 {
		t.Errorf("a fresh install has notes: %v", fresh.Notes)
	}
}

// TestFinding14_ShorterRetentionWarns: the unit's retention flag shrinks;
// the plan warns that older data is deleted, with both values.
func TestFinding14_ShorterRetentionWarns(t *testing.T) {
	unit := func(retention string) []byte {
		inv := loadInventory(t, twoHosts+`prometheus { retention = "`+retention+`" }`)
		for _, s := range specs(t, inv, "h1") {
			if s.Component == "prometheus" {
				return s.Unit
			}
		}
		t.Fatal("no prometheus spec")
		return nil
	}
	n := plan.UnitChangeNotes("prometheus", unit("30d"), unit("1w"))
	if len(n) != 1 || n[0].Level != plan.NoteWarning || !strings.Contains(n[0].Text, "from 30d to 1w") || !strings.Contains(n[0].Text, "deletes all data older than 1w") {
		t.Errorf("shorter retention: %v", n)
	}
	if n := plan.UnitChangeNotes("prometheus", unit("1w"), unit("1y")); len(n) != 1 || n[0].Level == plan.NoteWarning {
		t.Errorf("longer retention must not warn of deletion: %v", n)
	}
	if n := plan.UnitChangeNotes("prometheus", unit("30d"), unit("30d")); len(n) != 0 {
		t.Errorf("same retention: %v", n)
	}
	if n := plan.UnitChangeNotes("prometheus", unit("1d12h"), unit("36h")); len(n) != 0 && n[0].Level == plan.NoteWarning {
		t.Errorf("equal durations written differently must not warn: %v", n)
	}
}

// TestFinding14_HostsRunPlansPrometheusConfigTargets: --hosts h2 after h2
// got the alertmanager role. The Prometheus host h1 (not named) must get the
// prometheus.yml that sends alerts to and scrapes h2, checked and reloaded,
// never restarted; so plan --hosts h2 shows it and --detailed-exitcode sees it.
func TestFinding14_HostsRunPlansPrometheusConfigTargets(t *testing.T) {
	inv := loadInventory(t, twoHosts)
	sp := specs(t, inv, "h1")
	first := build(t, plan.Input{Host: "h1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	withAM := loadInventory(t, strings.Replace(twoHosts, `host "h2" { address = "10.0.0.2" }`, `host "h2" {
  address = "10.0.0.2"
  roles   = ["alertmanager"]
}`, 1))
	p := build(t, plan.Input{Host: "h1", Specs: specs(t, withAM, "h1"), State: st, TargetsOnly: true})
	got := actions(p)
	if !has(got, "change file /etc/obsbox/prometheus/prometheus.yml") || !has(got, "reload service obsbox-prometheus.service") {
		t.Errorf("targets of h2's new role not planned on h1: %v", got)
	}
	for _, a := range got {
		if strings.HasPrefix(a, "restart ") || strings.HasPrefix(a, "start ") || strings.Contains(a, "rules") || strings.Contains(a, ".service") && !strings.HasPrefix(a, "reload ") {
			t.Errorf("a targets-only run may only change target files and reload: %s", a)
		}
	}
	if !strings.Contains(p.Script(), "promtool") {
		t.Errorf("the new prometheus.yml goes live unchecked:\n%s", p.Script())
	}
	// Prometheus not running there: nothing but the file_sd targets.
	u := st.Units["obsbox-prometheus.service"]
	u.ActiveState = "failed"
	st.Units["obsbox-prometheus.service"] = u
	if got := actions(build(t, plan.Input{Host: "h1", Specs: specs(t, withAM, "h1"), State: st, TargetsOnly: true})); len(got) != 0 {
		t.Errorf("targets-only run on a stopped Prometheus: %v", got)
	}
}
