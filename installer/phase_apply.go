package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/installer/transport"
)

// applyPhase runs the plan's script as root: checks first, then the changes.
type applyPhase struct{}

func (applyPhase) Title() string { return "apply" }

func (applyPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if h.Plan.Empty() {
		return nil
	}
	if r.clusterRestart(h) {
		// One member of the Alertmanager cluster at a time, back in the
		// cluster before the next restarts: the others keep the silences
		// and the notification log it rejoins with.
		r.cluster.turn.Lock()
		defer r.cluster.turn.Unlock()
		if err := r.runScript(ctx, h); err != nil {
			return err
		}
		return r.rejoin(ctx, h, h.spec(catalog.Alertmanager))
	}
	return r.runScript(ctx, h)
}

// runScript runs h's apply script and notes what it did.
func (r *Run) runScript(ctx context.Context, h *HostRun) error {
	out, err := h.Conn.Run(ctx, h.Plan.Script())
	if err != nil {
		var ee *transport.ExitError
		if errors.As(err, &ee) && ee.Code == plan.ExitCheckFailed {
			return checkFailure(out)
		}
		return err
	}
	if !bytes.Contains(out, []byte(plan.DoneMarker)) {
		return fmt.Errorf("the apply script stopped before its end")
	}
	for _, a := range h.Plan.Actions {
		if !a.Rollout {
			h.done = append(h.done, a)
		}
	}
	return nil
}

// checkFailure turns the script's report of a rejected configuration into an
// error naming the component, the tool and what the tool said.
func checkFailure(out []byte) error {
	s := string(out)
	i := strings.Index(s, plan.CheckFailedMarker)
	if i < 0 {
		return fmt.Errorf("a configuration check failed")
	}
	rest := s[i+len(plan.CheckFailedMarker):]
	head, body, _ := strings.Cut(rest, "\n")
	comp, cmd, _ := strings.Cut(head, " ")
	return fmt.Errorf("%s configuration rejected by `%s`; nothing on this host was changed:\n%s",
		comp, cmd, strings.TrimSpace(body))
}
