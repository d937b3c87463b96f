package component

import (
	"path"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/templates"
)

// sloRules renders the SLOs' rule file for Prometheus's configuration
// folder, or nil when the inventory has no slo block (then Prometheus reads
// no such file, and one an earlier apply wrote is removed).
func sloRules(inv *inventory.Inventory) ([]byte, error) {
	if len(inv.SLOs) == 0 {
		return nil, nil
	}
	s := templates.SLOSettings{RunbookBaseURL: inv.Rules.RunbookBaseURL, EvaluationInterval: inv.Prometheus.EvaluationInterval}
	for _, o := range inv.SLOs {
		s.SLOs = append(s.SLOs, templates.SLO{Name: o.Name, Objective: o.Objective, Window: o.Window,
			Probe: o.Probe, Errors: o.Errors, Total: o.Total, Labels: o.Labels})
	}
	return templates.RenderSLORules(s)
}

// sloRulesPath is where sloRules's file goes.
var sloRulesPath = path.Join(catalog.ConfigDir(catalog.Prometheus), templates.PromSLORulesFile)

// Dashboards: Prometheus records the SLOs' series, so with SLOs it brings the "SLOs" dashboard.
func (Prometheus) Dashboards(inv *inventory.Inventory) map[string][]byte {
	if len(inv.SLOs) == 0 {
		return nil
	}
	return templates.SLODashboards()
}
