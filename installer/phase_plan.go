package installer

import (
	"context"
	"fmt"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/plan"
)

// planPhase works out what the host should hold and what must change.
type planPhase struct{}

func (planPhase) Title() string { return "plan" }

func (planPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	arch, err := bundles.ArchFromUname(h.State.Arch)
	if err != nil {
		return err
	}
	inv := r.Opts.Inventory
	targetsOnly := r.targetsOnly(h)
	in := plan.Input{Host: h.Host.Name, State: h.State, StagingDir: h.Conn.StagingDir(), TargetsOnly: targetsOnly, TLS: h.tls}
	// Every missing bundle at once, not the first: one trip fetches them all.
	var wants []bundles.Want
	for _, c := range component.All() {
		if c.Runs(inv, h.Host) && (!targetsOnly || c.Name() == catalog.Prometheus) {
			wants = append(wants, bundles.Want{Component: c.Name(), Version: inv.Versions[c.Name()], Arch: arch})
		}
	}
	if missing, err := r.Opts.Store.Missing(ctx, wants); err != nil {
		return err
	} else if len(missing) > 0 {
		return missing
	}
	for _, c := range component.All() {
		name := c.Name()
		if !c.Runs(inv, h.Host) {
			if _, recorded := h.State.Record.Components[name]; recorded && !targetsOnly {
				in.Removed = append(in.Removed, name)
			}
			continue
		}
		if targetsOnly && name != catalog.Prometheus {
			continue
		}
		version := inv.Versions[name]
		b, err := r.Opts.Store.Ensure(ctx, name, version, arch)
		if err != nil {
			return fmt.Errorf("bundle %s %s for %s: %w", name, version, arch, err)
		}
		cc, err := r.contexts.context(name, h.Host, version, b)
		if err != nil {
			return err
		}
		if h.tls != nil {
			cc.HostCert = h.tls.Cert
		}
		cc.Security.Hash = h.webHash
		spec, err := c.Spec(cc)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		h.Specs = append(h.Specs, spec)
	}
	in.Specs = h.Specs
	p, err := plan.Build(in)
	if err != nil {
		return err
	}
	// Work folders of killed applies: plan shows them, apply (holding the
	// lock, so no live run owns them) removes them.
	p.Actions = append(p.Actions, plan.LeftoverActions(h.State.ApplyDirs)...)
	p.AddNotes(plan.MajorUpgradeNotes(p.Rollouts())...)
	h.Plan = p
	return nil
}

// targetsOnly reports whether the host takes part only for its scrape targets:
// a Prometheus host that --hosts did not name.
func (r *Run) targetsOnly(h *HostRun) bool {
	if len(r.Opts.Hosts) == 0 && !r.Opts.OnlyTargets {
		return false
	}
	for _, n := range r.Opts.Hosts {
		if n == h.Host.Name {
			return false
		}
	}
	return h.Host.HasRole(catalog.Prometheus)
}

// noteMoves tells a host that takes over a component from another host of
// the run that the other keeps its history.
func (r *Run) noteMoves() {
	if r.movesNoted {
		return // a prepared run noted them when it planned
	}
	r.movesNoted = true
	var plans []*plan.Host
	for _, h := range r.Hosts {
		if h.Plan != nil && h.Result.err == nil {
			plans = append(plans, h.Plan)
		}
	}
	plan.NoteMoves(plans)
}
