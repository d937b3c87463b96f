package installer

import (
	"context"
	"fmt"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/installer/shell"
	"github.com/obsbox/obsbox/installer/transport"
)

// removalPlanPhase looks at what the record names and what interrupted
// applies left, and works out the removal. It changes nothing.
type removalPlanPhase struct{ u *uninstallRun }

func (removalPlanPhase) Title() string { return "plan removal" }

func (p removalPlanPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	defer p.u.order.donePlanning(h)
	staging := h.Conn.StagingDir()
	out, err := h.Conn.Run(ctx, plan.RemovalProbe(h.State.Record, staging).Script())
	if err != nil {
		return fmt.Errorf("reading what obsbox left on the host: %w", err)
	}
	facts, err := hoststate.ParseRemoval(out)
	if err != nil {
		return err
	}
	in := plan.RemovalInput{Host: h.Host.Name, State: h.State, Facts: facts, StagingDir: staging, KeepData: p.u.opts.KeepData}
	if !p.u.opts.DryRun {
		in.LockFile = transport.LockPath
	}
	rm := plan.BuildRemoval(in)
	h.removal = rm
	h.Plan = &plan.Host{Host: h.Host.Name, Actions: rm.Actions}
	return nil
}

// removePhase runs the removal script as root. The host's actions become
// those the script reports done, so a run that stops part way says how far
// it got; running uninstall again finishes the job.
type removePhase struct{ u *uninstallRun }

func (removePhase) Title() string { return "remove" }

func (p removePhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	defer p.u.order.doneRemoving(h)
	rm := h.removal
	if rm == nil || rm.Empty() {
		// Nothing of obsbox's but the lock this run made: delete it too.
		_, err := h.Conn.Run(ctx, "rm -f "+shell.Quote(transport.LockPath))
		return err
	}
	endTurn, err := p.u.order.turn(ctx, h, func(ctx context.Context) error {
		_, err := h.Conn.Run(ctx, plan.StopScript(catalog.UnitName(catalog.Prometheus)))
		return err
	})
	if err != nil {
		return err
	}
	out, err := h.Conn.Run(ctx, rm.Script())
	endTurn()
	done, notes, complete := rm.Done(out)
	steps := len(done)
	for _, n := range notes {
		done = append(done, plan.Action{Op: plan.OpKeep, Kind: "note", Target: h.Host.Name, Detail: n})
		fmt.Fprintf(r.Opts.Out, "%s: %s\n", h.Host.Name, n)
	}
	if done == nil {
		done = []plan.Action{}
	}
	h.Plan.Actions = done
	if err != nil {
		return fmt.Errorf("removal stopped after %d of %d steps (run uninstall again once fixed): %w", steps, len(rm.Actions), err)
	}
	if !complete {
		return fmt.Errorf("the removal script stopped before its end (%d of %d steps done)", steps, len(rm.Actions))
	}
	return nil
}
