package plan_test

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
)

// TestFinding3_ApplyRemovesAComponentAsUninstallDoes: grafana leaves mon-1.
// Each step uninstall --keep-data would run for grafana's unit, files,
// trees and folders is in the apply script, word for word; the data folder
// stays with its note, the user stays, and no step swallows a failure the
// way apply's old `rmdir … || true` did.
func TestFinding3_ApplyRemovesAComponentAsUninstallDoes(t *testing.T) {
	st, facts := installedHost(t)
	wants := path.Join(catalog.UnitDir, "multi-user.target.wants", catalog.UnitName("grafana"))
	st.Paths[wants] = hoststate.Path{Kind: hoststate.KindLink}
	var without []*component.Spec
	for _, s := range specs(t, loadInventory(t, testInventory), "mon-1") {
		if s.Component != "grafana" {
			without = append(without, s)
		}
	}
	p := build(t, plan.Input{Host: "mon-1", Specs: without, Removed: []string{"grafana"}, State: st})
	script := p.Script()
	shellSyntax(t, script)

	rm := plan.BuildRemoval(plan.RemovalInput{Host: "mon-1", State: st, Facts: facts, KeepData: true})
	chunks := regexp.MustCompile(`(?m)^echo '@@obsbox did \d+'\n`).Split(rm.Script(), -1)
	compared := 0
	for i, a := range rm.Actions {
		if a.Component != "grafana" || a.Kind == plan.KindUser || a.Kind == plan.KindGroup || a.Kind == plan.KindData {
			continue
		}
		chunk := chunks[i]
		if i == 0 {
			chunk = chunk[strings.Index(chunk, "systemctl "):] // after the script's preamble
		}
		if j := strings.Index(chunk, "systemctl daemon-reload"); j >= 0 {
			chunk = chunk[strings.Index(chunk[j:], "\n")+j+1:] // uninstall's reload step comes before this one
			chunk = chunk[strings.LastIndex(chunk, "|| true\n")+len("|| true\n"):]
		}
		if !strings.Contains(script, chunk) {
			t.Errorf("uninstall's step for %s %s %s is not in the apply script:\n%s", a.Op, a.Kind, a.Target, chunk)
		}
		compared++
	}
	if compared < 5 {
		t.Fatalf("only %d of grafana's removal steps compared", compared)
	}
	got := strings.Join(actions(p), "\n")
	for _, want := range []string{"stop unit obsbox-grafana.service", "remove dir /etc/obsbox/grafana", "remove dir /opt/obsbox/grafana",
		"remove binaries /opt/obsbox/grafana/11.2.2", "create file /var/lib/obsbox/grafana/OBSBOX-KEPT-DATA.txt"} {
		if !strings.Contains(got, want+"\n") && !strings.HasSuffix(got, want) {
			t.Errorf("apply's removal lacks %q:\n%s", want, got)
		}
	}
	note := path.Join(catalog.DataDir("grafana"), plan.KeptNoteName)
	if !strings.Contains(script, "mv -f '"+note+".obsbox-tmp' '"+note+"'") || !strings.Contains(script, `"obsbox apply" took it off this host`) {
		t.Errorf("the kept data folder gets no note saying why it stays:\n%s", script)
	}
	for _, bad := range []string{"rmdir", "userdel", "groupdel", "rm -rf '/var/lib/obsbox/grafana'", "--one-file-system '/var/lib/obsbox/grafana'"} {
		if strings.Contains(script, bad) {
			t.Errorf("apply's removal runs %q", bad)
		}
	}
	if !strings.Contains(script, "systemctl daemon-reload\nsystemctl reset-failed 'obsbox-grafana.service' 2>/dev/null || true\n") {
		t.Errorf("the removed unit's failed state is not reset after daemon-reload")
	}
	// The record keeps the data folder (a later uninstall removes it) and the user.
	if !p.Record.Has(catalog.DataDir("grafana")) || !strings.Contains(strings.Join(p.Record.Users, ","), catalog.UserName("grafana")) {
		t.Errorf("the record forgets what stays: %s", p.Record.Marshal())
	}
	if p.Record.Has(catalog.ConfigDir("grafana")) || p.Record.Has(catalog.VersionDir("grafana", "11.2.2")) {
		t.Errorf("the record still lists what was removed: %s", p.Record.Marshal())
	}
	// The plan's notes say what stays, and where the note is.
	var notes []string
	for _, n := range p.Notes {
		notes = append(notes, n.Text)
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, catalog.DataDir("grafana")) || !strings.Contains(n, plan.KeptNoteName) {
		t.Errorf("the plan's notes do not say the data folder stays: %q", n)
	}
}

// TestFinding2_FixedNamesAreQuotedInTheScript: outside quoted words and
// here-documents, no user or unit name stands bare in an apply script or
// a removal script.
func TestFinding2_FixedNamesAreQuotedInTheScript(t *testing.T) {
	st, facts := installedHost(t)
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	fresh := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	var without []*component.Spec
	for _, s := range sp {
		if s.Component != "grafana" {
			without = append(without, s)
		}
	}
	scripts := map[string]string{
		"fresh apply":  fresh.Script(),
		"role removal": build(t, plan.Input{Host: "mon-1", Specs: without, Removed: []string{"grafana"}, State: st}).Script(),
		"uninstall":    plan.BuildRemoval(plan.RemovalInput{Host: "mon-1", State: st, Facts: facts}).Script(),
		"rollout":      fresh.RollbackScript("prometheus"),
	}
	quoted := regexp.MustCompile(`'[^']*'`)
	heredoc := regexp.MustCompile(`(?s)<<'?OBSBOX_[A-Z]+'?[^\n]*\n.*?\nOBSBOX_[A-Z]+\n`)
	comment := regexp.MustCompile(`(?m) # .*$`) // the header's, some with an apostrophe
	for name, s := range scripts {
		bare := quoted.ReplaceAllString(comment.ReplaceAllString(heredoc.ReplaceAllString(s, "\n"), ""), "''")
		for _, c := range component.All() {
			if u := catalog.UserName(c.Name()); strings.Contains(bare, u) {
				i := strings.Index(bare, u)
				t.Errorf("%s: %s stands unquoted: …%s…", name, u, bare[max(0, i-60):min(len(bare), i+40)])
			}
		}
	}
}
