package installer

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/plan"
)

// Prepared is a run that has connected to every host and read it once,
// holding its lock: upgrade and rollback read the hosts, print the plan and
// apply it over the same connections, from the same state read, so nothing
// can change a host between the plan shown and the one carried out.
type Prepared struct {
	r      *Run
	closed bool
}

// Prepare connects to the selected hosts (and the Prometheus hosts) and
// reads each one, taking its lock beside the read.
func Prepare(ctx context.Context, opts Options) (*Prepared, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	r.locking = true
	if err := r.resolveSecurity(); err != nil {
		return nil, err
	}
	// Upgrades and rollbacks keep the hosts' certificates: apply renews them.
	r.Opts.Certs = CertsKeep
	r.runAround(ctx, []Phase{connectPhase{}, probePhase{}}, r.locksStep(ctx), nil)
	return &Prepared{r: r}, nil
}

// PreviousVersions is, from each host's record, the version of comp that
// ran before its last upgrade: version -> hosts. Any host that could not be
// read is an error naming it.
func (p *Prepared) PreviousVersions(comp string) (map[string][]string, error) {
	out := map[string][]string{}
	var failed []string
	for _, h := range p.r.Hosts {
		if h.Result.err != nil {
			failed = append(failed, h.Host.Name+": "+h.Result.Error)
			continue
		}
		if prev := h.State.Record.Components[comp].Previous; prev != "" {
			out[prev] = append(out[prev], h.Host.Name)
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("cannot read every host:\n%s", strings.Join(failed, "\n"))
	}
	return out, nil
}

// Plan works out what apply will do with inv, which names the same hosts
// as the inventory the run was prepared with (versions may differ). It
// changes nothing; its report lists the planned actions.
func (p *Prepared) Plan(ctx context.Context, inv *inventory.Inventory) (*Report, error) {
	r := p.r
	for _, h := range r.Hosts {
		nh := inv.Host(h.Host.Name)
		if nh == nil {
			return nil, fmt.Errorf("host %q is not in the edited inventory", h.Host.Name)
		}
		h.Host = nh
	}
	r.Opts.Inventory = inv
	r.contexts = contextBuilder{inv: inv, security: r.contexts.security}
	r.refuseBelowFloors()
	r.runPhases(ctx, []Phase{certsPhase{}, planPhase{}, diffPhase{}})
	r.noteMoves()
	return r.planReport(), nil
}

// Apply carries out the plan Plan made: upload, apply, health checks and
// the rollout; then it closes the connections. out and progress replace
// the options' (the plan is printed in between).
func (p *Prepared) Apply(ctx context.Context, out io.Writer, progress Progress) *Report {
	r := p.r
	if out != nil {
		r.Opts.Out = out
	}
	r.Opts.Progress = progress
	r.applying = true
	r.runPhases(ctx, []Phase{uploadPhase{}, applyPhase{}, healthPhase{}})
	r.rollout(ctx)
	return p.Close()
}

// Close ends the run without applying (when it was applied, it is closed
// already) and returns its report.
func (p *Prepared) Close() *Report {
	if !p.closed {
		p.closed = true
		p.r.finish()
	}
	return p.r.report()
}

// planReport is the run's results as plan shows them, before anything is
// applied: each host's planned actions.
func (r *Run) planReport() *Report {
	rep := &Report{Hosts: []*HostResult{}}
	for _, h := range r.Hosts {
		res := *h.Result
		res.OK = res.err == nil
		if h.Plan != nil && res.Note == "" {
			res.Actions, res.Notes = h.Plan.Actions, h.Plan.Notes
		}
		if res.Actions == nil {
			res.Actions = []plan.Action{}
		}
		res.Counts = countActions(res.Actions)
		res.pending = len(res.Actions) > 0
		rep.Hosts = append(rep.Hosts, &res)
		rep.ChangesPending = rep.ChangesPending || res.pending
	}
	return rep
}
