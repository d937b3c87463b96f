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
	// The lock is taken beside the probe: no extra serial round trip. Both
	// only read; nothing is changed before the lock is held.
	locked := make(chan error, 1)
	go func() { locked <- r.lockHost(ctx, h, 0) }()
	perr := probe(ctx, h)
	if err := <-locked; err != nil {
		var busy *transport.LockBusyError
		if errors.As(err, &busy) && r.Opts.LockTimeout > 0 {
			h.lockBusy = busy.Holder // settleLocks waits for it, in host order
			return nil
		}
		return err
	}
	if perr != nil {
		return perr
	}
	if h.lock.Contended {
		// Another run had the host until now: read it again.
		return probe(ctx, h)
	}
	return nil
}

func probe(ctx context.Context, h *HostRun) error {
	req := hoststate.ProbeRequest{StagingDir: h.Conn.StagingDir()}
	for _, c := range component.All() {
		req.Users = append(req.Users, catalog.UserName(c.Name()))
		req.Units = append(req.Units, catalog.UnitName(c.Name()))
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
