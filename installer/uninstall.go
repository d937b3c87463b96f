package installer

import (
	"context"
	"fmt"
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
	if !u.DryRun {
		un.order = newRemovalOrder(r)
	}
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

// uninstallRun is what uninstall's phases share: its options and the order
// of the removals. Each host's removal lives on its HostRun.
type uninstallRun struct {
	opts  UninstallOptions
	order *removalOrder // nil: every removal starts when its host is ready
}

// removalOrder puts removals in an order that lets each service stop at
// once. A Prometheus whose remote-write target is gone flushes its queue
// for up to a minute before it stops, so every Prometheus stops before any
// VictoriaMetrics: a VictoriaMetrics host waits for the removal of every
// host that runs Prometheus without VictoriaMetrics, and a host that runs
// both stops its Prometheus first, then waits for the other such hosts to
// have stopped theirs. A clustered Alertmanager waits 10 s or more to leave
// its cluster when its peers stop with it: the Alertmanager hosts go one at
// a time. Hosts with neither never wait, nor does anyone wait for a host
// that has left the run.
type removalOrder struct {
	planned     map[*HostRun]*signal // the host's record is read and its removal planned
	promStopped map[*HostRun]*signal // a host that runs Prometheus and VictoriaMetrics stopped its Prometheus
	removed     map[*HostRun]*signal // the host's removal script has ended
	amTurn      sync.Mutex
}

// newRemovalOrder returns nil when a waiting host could keep out the one
// it waits for: it waits holding one of the --concurrency places.
func newRemovalOrder(r *Run) *removalOrder {
	o := &removalOrder{planned: map[*HostRun]*signal{}, promStopped: map[*HostRun]*signal{}, removed: map[*HostRun]*signal{}}
	for _, h := range r.Hosts {
		if h.Result.err == nil {
			o.planned[h], o.promStopped[h], o.removed[h] = &signal{}, &signal{}, &signal{}
		}
	}
	if r.Opts.Concurrency < len(o.planned) {
		return nil
	}
	return o
}

func (o *removalOrder) donePlanning(h *HostRun) {
	if o != nil && o.planned[h] != nil {
		o.planned[h].close()
	}
}

func (o *removalOrder) doneRemoving(h *HostRun) {
	if o != nil && o.removed[h] != nil {
		o.removed[h].close()
	}
}

// turn waits until h's removal may start and returns what ends its turn.
// stopPrometheus stops h's Prometheus ahead of its removal.
func (o *removalOrder) turn(ctx context.Context, h *HostRun, stopPrometheus func(context.Context) error) (func(), error) {
	if o == nil {
		return func() {}, nil
	}
	if h.records(catalog.VictoriaMetrics) {
		if h.records(catalog.Prometheus) {
			if err := stopPrometheus(ctx); err != nil {
				return nil, fmt.Errorf("stopping Prometheus before VictoriaMetrics: %w", err)
			}
			o.promStopped[h].close()
		}
		for other := range o.planned {
			if other == h {
				continue
			}
			if read, err := o.wait(ctx, other, o.planned[other]); err != nil || !read || !other.records(catalog.Prometheus) {
				if err != nil {
					return nil, err
				}
				continue
			}
			until := o.removed[other]
			if other.records(catalog.VictoriaMetrics) {
				until = o.promStopped[other]
			}
			if _, err := o.wait(ctx, other, until); err != nil {
				return nil, err
			}
		}
	}
	if h.records(catalog.Alertmanager) {
		o.amTurn.Lock()
		return o.amTurn.Unlock, nil
	}
	return func() {}, nil
}

// wait waits for s of other; false when other left the run first.
func (o *removalOrder) wait(ctx context.Context, other *HostRun, s *signal) (bool, error) {
	select {
	case <-s.C():
		return true, nil
	case <-other.gone.C():
		return false, nil
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}

// records reports whether the host's record names the component.
func (h *HostRun) records(comp string) bool {
	if h.State == nil || h.State.Record == nil {
		return false
	}
	_, ok := h.State.Record.Components[comp]
	return ok
}
