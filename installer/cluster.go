package installer

import (
	"context"
	"fmt"
	"sync"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/plan"
)

// amClusterMetric is how many members an Alertmanager sees in its gossip
// cluster, itself included (memberlist's live members: a peer that stopped
// answering or left is not counted).
const amClusterMetric = "alertmanager_cluster_members"

// amCluster is what a run knows of the Alertmanager cluster: how many
// members a healthy member must see, and the turn one restarting member
// holds while it rejoins, so members restart one at a time.
type amCluster struct {
	mu   sync.Mutex // guards size: hosts reach their apply at their own pace
	size int
	turn sync.Mutex
}

// settleCluster counts the members a restarted Alertmanager must see: every
// Alertmanager host of the inventory, less those this run found unreachable
// or lost (they are not running, or not as the inventory says). Hosts the
// run does not touch (--hosts) still count. Called between phases only.
func (r *Run) settleCluster() {
	r.cluster.mu.Lock()
	defer r.cluster.mu.Unlock()
	inv := r.Opts.Inventory
	failed := map[string]bool{}
	for _, h := range r.Hosts {
		if h.Result.err != nil {
			failed[h.Host.Name] = true
		}
	}
	n := 0
	for _, h := range inv.HostsWithRole(catalog.Alertmanager) {
		if !failed[h.Name] {
			n++
		}
	}
	r.cluster.size = n
}

// clusterGated reports whether comp's gate waits for the cluster: an
// Alertmanager with peers must see all of them before the next member goes.
func (r *Run) clusterGated(comp string) bool {
	return comp == catalog.Alertmanager && r.cluster.size > 1
}

// clusterRestart reports whether h's apply restarts a running member of the
// Alertmanager cluster (peers changed, a new unit): such restarts take
// turns. A member started for the first time takes none: it joins through
// its own peer flags and the others see it without a restart.
func (r *Run) clusterRestart(h *HostRun) bool {
	comp := catalog.Alertmanager
	unit := catalog.UnitName(comp)
	return r.clusterGated(comp) && !h.Plan.IsRollout(comp) && h.Plan.Services()[unit] == plan.OpRestart &&
		h.State.Units[unit].ActiveState == "active" && h.spec(comp) != nil
}

// rejoin waits, after h's Alertmanager restarted, until the gate passes:
// unit active, ready, and seeing every member.
func (r *Run) rejoin(ctx context.Context, h *HostRun, spec *component.Spec) error {
	unit := catalog.UnitName(spec.Component)
	if check, err := r.gate(ctx, h, spec, spec.Version, h.State.Units[unit].NRestarts, 0); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%s restarted with its new peers but failed the %s check: %v; the other members were not restarted after it\nlast journal lines of %s:\n%s",
			spec.Component, check, err, unit, h.journal(context.Background(), unit))
	}
	fmt.Fprintf(r.Opts.Out, "%s: %s restarted and back in its cluster of %d\n", h.Host.Name, spec.Component, r.cluster.size)
	return nil
}
