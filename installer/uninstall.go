package installer

import (
	"context"
)

// UninstallOptions say what uninstall keeps and whether it only shows.
type UninstallOptions struct {
	KeepData bool // keep /var/lib/obsbox/<component>/ with a note; a later apply takes it over
	DryRun   bool // list what would be removed, change nothing
}

// Uninstall removes from each selected host (opts.Hosts, or every host) what
// its record says obsbox created, plus the leftovers of interrupted applies.
// Unlike Apply, naming hosts does not bring the Prometheus hosts in.
func Uninstall(ctx context.Context, opts Options, u UninstallOptions) (*Report, error) {
	r, err := newUninstallRun(opts)
	if err != nil {
		return nil, err
	}
	r.locking = !u.DryRun
	un := &uninstallRun{opts: u}
	phases := []Phase{connectPhase{}, probePhase{}, removalPlanPhase{un}}
	if !u.DryRun {
		phases = append(phases, removePhase{un})
	}
	r.runAround(ctx, phases[:2], r.locksStep(ctx), phases[2:])
	r.finish()
	return r.report(), nil
}

func newUninstallRun(opts Options) (*Run, error) {
	opts.OnlyTargets = false
	return newRunOver(opts, false)
}

// uninstallRun is what uninstall's phases share: its options. Each host's
// removal lives on its HostRun.
type uninstallRun struct {
	opts UninstallOptions
}
