package plan_test

import (
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
)

// A rollout stopped after its switch but before its gate passed is not
// finished: the next apply runs the gate (no restart), and can switch back.
func TestFinding12_SwitchedButUngatedRolloutIsGatedByNextApply(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "web-1")
	first := build(t, plan.Input{Host: "web-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	want := inv.Versions["node_exporter"]
	u := st.Units["obsbox-node-exporter.service"]
	u.Exe = "/opt/obsbox/node_exporter/" + want + "/node_exporter"
	st.Units["obsbox-node-exporter.service"] = u
	// What RolloutScript records before the switch.
	st.Record.Components["node_exporter"] = hoststate.ComponentRecord{Version: want, Previous: "1.5.0", Ungated: true}
	p := build(t, plan.Input{Host: "web-1", Specs: sp, State: st})
	if !p.IsRollout("node_exporter") || !p.GateOnly("node_exporter") {
		t.Fatalf("an ungated switch must be gated by the next apply: %v", actions(p))
	}
	for _, a := range actions(p) {
		if strings.HasPrefix(a, "restart ") {
			t.Errorf("the version already runs; no restart: %s", a)
		}
	}
	if !strings.Contains(p.GatePassedScript("node_exporter"), `"version": "`+want+`"`) ||
		strings.Contains(p.GatePassedScript("node_exporter"), "ungated") {
		t.Errorf("the gate passing must clear the mark:\n%s", p.GatePassedScript("node_exporter"))
	}
	if !strings.Contains(p.RolloutScript("node_exporter"), `"ungated": true`) {
		t.Errorf("a switch must be recorded as not yet gated:\n%s", p.RolloutScript("node_exporter"))
	}
	// Gated: nothing left to do.
	st.Record.Components["node_exporter"] = hoststate.ComponentRecord{Version: want, Previous: "1.5.0"}
	if p := build(t, plan.Input{Host: "web-1", Specs: sp, State: st}); len(p.Rollouts()) != 0 {
		t.Errorf("a gated host has nothing left: %v", actions(p))
	}
}

// Work folders of killed applies show in the plan and are removed by apply,
// only when named as mktemp names them, and only if root's real folders.
func TestFinding13_LeftoverApplyFoldersArePlannedAndRemoved(t *testing.T) {
	got := plan.LeftoverActions([]string{"/var/tmp/obsbox-apply.Ab12Cd", "/var/tmp/obsbox-apply.x; rm -rf /", "/var/tmp/obsbox-apply.a\nb"})
	if len(got) != 1 || got[0].Target != "/var/tmp/obsbox-apply.Ab12Cd" || got[0].Op != plan.OpRemove {
		t.Fatalf("got %+v", got)
	}
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "web-1")
	first := build(t, plan.Input{Host: "web-1", Specs: sp, State: emptyState()})
	p := &plan.Host{Host: "web-1", Record: first.Record, Actions: got}
	script := p.Script()
	want := `if [ -d '/var/tmp/obsbox-apply.Ab12Cd' ] && [ ! -L '/var/tmp/obsbox-apply.Ab12Cd' ] && [ "$(stat -c %u '/var/tmp/obsbox-apply.Ab12Cd')" = 0 ]; then rm -rf --one-file-system '/var/tmp/obsbox-apply.Ab12Cd'; fi`
	if !strings.Contains(script, want) {
		t.Errorf("the apply script does not remove the leftover safely:\n%s", script)
	}
}

// Uninstall removes only obsbox's own work folders (root's, mktemp-named)
// and the run lock it holds.
func TestFinding9_UninstallRemovesOnlyItsOwnApplyFolders(t *testing.T) {
	probe := plan.RemovalProbe(emptyState().Record, "/var/tmp/obsbox-staging-root").Script()
	if !strings.Contains(probe, `[ "$(stat -c %u "$d")" = 0 ]`) {
		t.Errorf("the removal probe lists apply folders of any owner:\n%s", probe)
	}
	facts, err := hoststate.ParseRemoval([]byte(nul("@@obsbox applydir", "/var/tmp/obsbox-apply.Ab12Cd", "@@obsbox applydir", "/var/tmp/obsbox-apply.mine", "@@obsbox end")))
	if err != nil {
		t.Fatal(err)
	}
	rm := plan.BuildRemoval(plan.RemovalInput{Host: "h1", State: emptyState(), Facts: facts, LockFile: "/run/obsbox.lock"})
	var targets []string
	for _, a := range rm.Actions {
		targets = append(targets, a.Target)
	}
	if strings.Join(targets, ",") != "/var/tmp/obsbox-apply.Ab12Cd" {
		t.Errorf("removal targets %v", targets)
	}
	s := rm.Script()
	if !strings.Contains(s, `[ "$(stat -c %u '/var/tmp/obsbox-apply.Ab12Cd')" = 0 ]`) {
		t.Errorf("the removal does not check the owner at removal time:\n%s", s)
	}
	if !strings.Contains(s, "rm -f '/run/obsbox.lock'\necho '@@obsbox done'") {
		t.Errorf("the lock file must go last:\n%s", s)
	}
}

// nul joins probe fields as the scripts print them, each ended by NUL.
func nul(f ...string) string { return strings.Join(f, "\x00") + "\x00" }
