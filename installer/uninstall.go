package installer

import (
	"context"
	"sync"

	"github.com/obsbox/obsbox/installer/catalog"
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
	r.runAround(ctx, []Phase{connectPhase{}, probePhase{}}, r.locksStep(ctx), []Phase{removalPlanPhase{un}})
	if !u.DryRun {
		// Every host's record is read: the removals can be put in order.
		un.order(r)
		r.runPhases(ctx, []Phase{removePhase{un}})
	}
	r.finish()
	return r.report(), nil
}

func newUninstallRun(opts Options) (*Run, error) {
	opts.OnlyTargets = false
	return newRunOver(opts, false)
}

// uninstallRun is what uninstall's phases share: its options, and the turn
// Alertmanager hosts take. Each host's removal lives on its HostRun.
type uninstallRun struct {
	opts UninstallOptions
	// amTurn: a clustered Alertmanager stopping waits up to 10s for its
	// leave to reach its peers, and longer when they are stopping at the
	// same moment; one member at a time, each leaves at once.
	amTurn sync.Mutex
	// promDone: a Prometheus stopping flushes its remote-write queue for up
	// to a minute to a VictoriaMetrics that is gone; the VictoriaMetrics
	// hosts wait for every other Prometheus host's removal (closed when done).
	promDone map[*HostRun]chan struct{}
}

// order notes which hosts run Prometheus, for the VictoriaMetrics hosts
// to wait for. A host waits inside its phase, holding one of the
// --concurrency places: with fewer places than hosts, a waiting host could
// keep out the one it waits for, so then there is no order.
func (u *uninstallRun) order(r *Run) {
	u.promDone = map[*HostRun]chan struct{}{}
	n := 0
	for _, h := range r.Hosts {
		if h.Result.err == nil {
			n++
		}
	}
	if r.Opts.Concurrency < n {
		return
	}
	for _, h := range r.Hosts {
		if h.Result.err == nil && h.State != nil && h.records(catalog.Prometheus) {
			u.promDone[h] = make(chan struct{})
		}
	}
}

// records reports whether the host's record has the component.
func (h *HostRun) records(comp string) bool {
	_, ok := h.State.Record.Components[comp]
	return ok
}
