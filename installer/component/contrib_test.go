package component

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/templates"
)

// fakeComp contributes a job, a rule group and a dashboard when it runs on a
// host with role.
type fakeComp struct{ name, role string }

func (f fakeComp) Name() string                                        { return f.name }
func (f fakeComp) Runs(_ *inventory.Inventory, h *inventory.Host) bool { return h.HasRole(f.role) }
func (f fakeComp) Spec(*Context) (*Spec, error)                        { return nil, nil }
func (f fakeComp) Port(*inventory.Inventory) int                       { return 0 }
func (f fakeComp) ScrapeJobs(_ *inventory.Inventory, prom *inventory.Host) []templates.PrometheusScrapeJob {
	return []templates.PrometheusScrapeJob{{Name: f.name + "-" + prom.Name}}
}
func (f fakeComp) AlertRules(*inventory.Inventory) templates.RuleGroup {
	return templates.RuleGroup{Name: f.name}
}
func (f fakeComp) Dashboards(*inventory.Inventory) map[string][]byte {
	return map[string][]byte{f.name + ".json": []byte("{}")}
}

// TestFinding12_ContributionsOnlyFromInstalled: a component contributes
// scrape jobs, rules and dashboards only when it runs on some host, in
// install order, and two dashboards of one name are refused.
func TestFinding12_ContributionsOnlyFromInstalled(t *testing.T) {
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"),
		[]byte("host \"mon-1\" {\n  address = \"10.0.0.5\"\n  roles = [\"prometheus\"]\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	comps := []Component{fakeComp{"a", "prometheus"}, fakeComp{"b", "grafana"}, fakeComp{"c", "prometheus"}}
	var jobs []string
	for _, c := range contributorsIn[ScrapeContributor](inv, comps) {
		for _, j := range c.ScrapeJobs(inv, inv.Host("mon-1")) {
			jobs = append(jobs, j.Name)
		}
	}
	if !slices.Equal(jobs, []string{"a-mon-1", "c-mon-1"}) {
		t.Errorf("jobs %v: b runs nowhere and must not contribute", jobs)
	}
	if got := contributorsIn[RuleContributor](inv, comps); len(got) != 2 {
		t.Errorf("%d rule contributors, want 2", len(got))
	}
	if got := contributorsIn[DashboardContributor](inv, comps); len(got) != 2 {
		t.Errorf("%d dashboard contributors, want 2", len(got))
	}
	// The registered components contribute nothing yet to an inventory without features.
	if jobs := contributedScrapeJobs(inv, inv.Host("mon-1")); len(jobs) != 0 {
		t.Errorf("contributed jobs %v", jobs)
	}
	into := templates.GrafanaDashboards()
	if err := contributedDashboards(inv, into); err != nil {
		t.Fatal(err)
	}
}
