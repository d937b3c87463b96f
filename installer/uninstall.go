package installer

import (
	"context"
	"sync"

	"github.com/obsbox/obsbox/installer/plan"
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
	un := &uninstallRun{opts: u, removals: map[*HostRun]*plan.Removal{}}
	phases := []Phase{connectPhase{}, probePhase{}, removalPlanPhase{un}}
	if !u.DryRun {
		phases = append(phases, removePhase{un})
	}
	r.runPhases(ctx, phases[:2])
	r.settleLocks(ctx)
	r.runPhases(ctx, phases[2:])
	r.finish()
	return r.report(), nil
}

func newUninstallRun(opts Options) (*Run, error) {
	opts.OnlyTargets = false
	return newRunOver(opts, false)
}

// uninstallRun holds each host's removal between the phases.
type uninstallRun struct {
	opts     UninstallOptions
	mu       sync.Mutex
	removals map[*HostRun]*plan.Removal
}

func (u *uninstallRun) set(h *HostRun, r *plan.Removal) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.removals[h] = r
}

func (u *uninstallRun) get(h *HostRun) *plan.Removal {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.removals[h]
}
