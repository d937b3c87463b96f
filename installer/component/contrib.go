package component

import (
	"fmt"
	"maps"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/templates"
)

// A component adds to what other components render by implementing these
// optional interfaces in its own file. Only components that run on at least
// one host of the inventory contribute.

// ScrapeContributor adds scrape jobs to the prometheus.yml of Prometheus host prom.
type ScrapeContributor interface {
	ScrapeJobs(inv *inventory.Inventory, prom *inventory.Host) []templates.PrometheusScrapeJob
}

// RuleContributor adds a group of alert rules to Prometheus's rules file. Its
// rule names are the catalog's AlertRules (so the inventory may tune them),
// each with a runbook in templates/runbooks.
type RuleContributor interface {
	AlertRules(inv *inventory.Inventory) templates.RuleGroup
}

// DashboardContributor adds Grafana dashboards, file name to JSON.
type DashboardContributor interface {
	Dashboards(inv *inventory.Inventory) map[string][]byte
}

// RunsAnywhere reports whether c runs on at least one host of inv.
func RunsAnywhere(inv *inventory.Inventory, c Component) bool {
	for _, h := range inv.Hosts {
		if c.Runs(inv, h) {
			return true
		}
	}
	return false
}

// contributors returns the components of inv that implement T, in install order.
func contributors[T any](inv *inventory.Inventory) []T { return contributorsIn[T](inv, All()) }

func contributorsIn[T any](inv *inventory.Inventory, comps []Component) []T {
	var out []T
	for _, c := range comps {
		if t, ok := c.(T); ok && RunsAnywhere(inv, c) {
			out = append(out, t)
		}
	}
	return out
}

func contributedScrapeJobs(inv *inventory.Inventory, prom *inventory.Host) []templates.PrometheusScrapeJob {
	var out []templates.PrometheusScrapeJob
	for _, c := range contributors[ScrapeContributor](inv) {
		out = append(out, c.ScrapeJobs(inv, prom)...)
	}
	return out
}

func contributedRuleGroups(inv *inventory.Inventory) []templates.RuleGroup {
	var out []templates.RuleGroup
	for _, c := range contributors[RuleContributor](inv) {
		out = append(out, c.AlertRules(inv))
	}
	return out
}

// contributedDashboards adds the components' dashboards to into; a file
// name may appear once.
func contributedDashboards(inv *inventory.Inventory, into map[string][]byte) error {
	for _, c := range contributors[DashboardContributor](inv) {
		for name, b := range maps.All(c.Dashboards(inv)) {
			if _, dup := into[name]; dup {
				return fmt.Errorf("two dashboards are called %s", name)
			}
			into[name] = b
		}
	}
	return nil
}
