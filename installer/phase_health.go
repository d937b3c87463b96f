package installer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/shell"
)

// healthPhase waits, after each start, restart or reload, until the
// component's own health endpoint answers. The request goes through the SSH
// connection, so it works behind a bastion and needs no open port.
type healthPhase struct{}

func (healthPhase) Title() string { return "health check" }

func (healthPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if h.Plan.Empty() {
		return nil
	}
	// The components start together, so they are waited for together: at
	// a distance each check is round trips, and a sequence adds them up.
	var specs []*component.Spec
	for _, spec := range h.Specs {
		op := h.Plan.Services()[catalog.UnitName(spec.Component)]
		if op != "" && spec.Health.Port != 0 && !h.Plan.IsRollout(spec.Component) {
			specs = append(specs, spec)
		}
	}
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.healthy(ctx, h, spec)
		}()
	}
	wg.Wait()
	return errors.Join(errs...) // in install order
}

// healthy is the same gate as a rollout's: unit active and not restarting,
// health endpoint ready, a reload taken, the wanted version running.
func (r *Run) healthy(ctx context.Context, h *HostRun, spec *component.Spec) error {
	unit := catalog.UnitName(spec.Component)
	check, err := r.gate(ctx, h, spec, spec.Version, h.State.Units[unit].NRestarts, 0)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err // stopped, not failed
	}
	op := h.Plan.Services()[unit]
	return fmt.Errorf("%s failed the %s check after %s: %v\nlast journal lines of %s:\n%s",
		spec.Component, check, op, err, unit, h.journal(context.Background(), unit))
}

// probeOnce returns "" when url answers 200, else what was wrong.
func probeOnce(ctx context.Context, client *http.Client, url string) string {
	if _, err := fetchPage(ctx, client, url); err != nil {
		return err.Error()
	}
	return ""
}

func (h *HostRun) journal(ctx context.Context, unit string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := h.Conn.Run(ctx, "journalctl -u "+shell.Quote(unit)+" -n 20 --no-pager -o cat 2>&1 || true")
	if err != nil {
		return "(journal unavailable: " + err.Error() + ")"
	}
	return strings.TrimRight(string(out), "\n")
}
