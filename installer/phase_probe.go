package installer

import (
	"context"
	"errors"
	"fmt"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/transport"
)

// probePhase reads everything obsbox needs to know about the host in one round trip.
type probePhase struct{}

func (probePhase) Title() string { return "read state" }

func (probePhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if !r.locking {
		return probe(ctx, h)
	}
	// The state is read under the lock, in the lock's own session: one
	// round trip, and nothing changes the host between the read and the lock.
	if err := r.lockHost(ctx, h, 0); err != nil {
		var busy *transport.LockBusyError
		if errors.As(err, &busy) && r.Opts.LockTimeout > 0 {
			// settleLocks waits for it, in host order. (The holder may not
			// have written its name yet: busy all the same.)
			h.lockBusy = true
			return nil
		}
		return err
	}
	return nil
}

func probe(ctx context.Context, h *HostRun) error {
	out, err := h.Conn.Run(ctx, probeScript(h))
	if err != nil {
		return fmt.Errorf("reading the host's state: %w", err)
	}
	return h.readState(out)
}

// probeScript reads everything obsbox needs to know about the host.
func probeScript(h *HostRun) string {
	req := hoststate.ProbeRequest{StagingDir: h.Conn.StagingDir()}
	for _, c := range component.All() {
		req.Users = append(req.Users, catalog.UserName(c.Name()))
		req.Units = append(req.Units, catalog.UnitName(c.Name()))
	}
	return req.Script()
}

func (h *HostRun) readState(probeOutput []byte) error {
	st, err := hoststate.ParseProbe(probeOutput)
	if err != nil {
		return err
	}
	h.State = st
	return nil
}
