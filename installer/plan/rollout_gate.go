package plan

import (
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// gateOnly is the rest of a rollout stopped after its switch: the new
// version runs, but its health gate never passed. The rollout runs the
// gate alone, without a restart, and switches back to from if it fails.
func (b *builder) gateOnly(c, from, to string) {
	b.h.rollouts[c] = rollout{from: from, to: to, gateOnly: true}
	b.add(Action{Op: OpChange, Kind: KindRollout, Target: catalog.UnitName(c), Component: c, Rollout: true,
		Detail: to + " runs, but its health gate never passed: checked now, switched back to " + from + " if it fails"})
}

// GateOnly reports whether component c's rollout only has its gate left.
func (h *Host) GateOnly(c string) bool { return h.rollouts[c].gateOnly }

// GatePassedScript records that component c's new version passed its gate.
func (h *Host) GatePassedScript(c string) string {
	r := h.rollouts[c]
	h.Record.Components[c] = hoststate.ComponentRecord{Version: r.to, Previous: r.from}
	var b strings.Builder
	b.WriteString("set -eu\numask 022\n")
	writeSteps(&b, WriteRecord{Record: h.Record})
	return b.String()
}
