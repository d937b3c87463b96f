package installer

import (
	"context"
	"fmt"

	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// probePhase reads everything obsbox needs to know about the host in one round trip.
type probePhase struct{}

func (probePhase) Title() string { return "read state" }

func (probePhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	req := hoststate.ProbeRequest{StagingDir: h.Conn.StagingDir()}
	for _, c := range component.All() {
		req.Users = append(req.Users, component.UserName(c.Name()))
		req.Units = append(req.Units, component.UnitName(c.Name()))
	}
	out, err := h.Conn.Run(ctx, req.Script())
	if err != nil {
		return fmt.Errorf("reading the host's state: %w", err)
	}
	st, err := hoststate.ParseProbe(out)
	if err != nil {
		return err
	}
	h.State = st
	return nil
}
