package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/shell"

	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/plan"
)

// rollout switches components, in install order, to their new versions
// after every host has them staged, in the catalog's batches (node_exporter
// a quarter of its hosts at a time, the others one host at a time). Each switched host must pass the gate — unit active,
// health endpoint ready, the running version the wanted one — or it is
// switched back and the rollout stops. A member of an Alertmanager cluster
// must also have rejoined it (it sees every reachable member) before the
// next member is switched.
func (r *Run) rollout(ctx context.Context) {
	r.settleCluster()
	for _, comp := range catalog.Names() {
		var hosts []*HostRun
		for _, h := range r.Hosts {
			if h.Result.err == nil && h.Plan != nil && h.Plan.IsRollout(comp) {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) == 0 {
			continue
		}
		batch := catalog.Get(comp).Batch(len(hosts))
		for i := 0; i < len(hosts); i += batch {
			if ctx.Err() != nil {
				r.stopRollouts(hosts[i:], comp)
				return
			}
			group := hosts[i:min(i+batch, len(hosts))]
			var wg sync.WaitGroup
			failed := false
			var mu sync.Mutex
			for _, h := range group {
				wg.Add(1)
				go func(h *HostRun) {
					defer wg.Done()
					hctx, cancel := h.hostContext(ctx)
					defer cancel()
					err := r.timed(h, func() error { return r.rolloutHost(hctx, h, comp) })
					var cut *gateCutShort
					switch {
					case errors.As(err, &cut) || (err != nil && interrupted(ctx)):
						// Not a failed check: nothing is rolled back, and the
						// record leaves the gate for the next apply.
						h.interrupt(comp + " upgrade")
						if cut != nil {
							h.Result.Note = cut.Error()
						}
					case err != nil:
						h.fail(comp+" upgrade", err)
						fmt.Fprintf(r.Opts.Out, "%s: %s\n", h.Host.Name, err)
						mu.Lock()
						failed = true
						mu.Unlock()
					default:
						fmt.Fprintf(r.Opts.Out, "%s: %s upgraded and healthy\n", h.Host.Name, comp)
					}
				}(h)
			}
			wg.Wait()
			if failed || ctx.Err() != nil {
				r.stopRollouts(hosts[i+len(group):], comp)
				return
			}
		}
	}
}

// stopRollouts notes on every host still waiting for a switch that it keeps its version.
func (r *Run) stopRollouts(rest []*HostRun, comp string) {
	waiting := map[*HostRun]bool{}
	for _, h := range rest {
		waiting[h] = true
	}
	for _, h := range r.Hosts {
		if h.Result.err != nil || h.Plan == nil {
			continue
		}
		var kept []string
		for _, ro := range h.Plan.Rollouts() {
			if ro.Component != comp || waiting[h] {
				if catalog.Index(ro.Component) >= catalog.Index(comp) {
					kept = append(kept, fmt.Sprintf("%s stays on %s", ro.Component, ro.From))
				}
			}
		}
		if len(kept) > 0 {
			h.Result.Note = "rollout stopped before this host: " + strings.Join(kept, ", ")
			h.Result.Actions = nil
		}
	}
}

func (h *HostRun) spec(comp string) *component.Spec {
	for _, s := range h.Specs {
		if s.Component == comp {
			return s
		}
	}
	return nil
}

func (r *Run) rolloutHost(ctx context.Context, h *HostRun, comp string) error {
	var ro plan.Rollout
	for _, x := range h.Plan.Rollouts() {
		if x.Component == comp {
			ro = x
		}
	}
	spec := h.spec(comp)
	unit := catalog.UnitName(comp)
	var before float64 // server time of data the new version must still answer for
	if !h.Plan.GateOnly(comp) {
		before = dataBefore(ctx, r, h, spec)
		// The record marks the switch as not yet gated, so a run stopped
		// from here on leaves the gate to the next apply.
		if _, err := h.Conn.Run(ctx, h.Plan.RolloutScript(comp)); err != nil {
			return fmt.Errorf("switching %s to %s: %w", comp, ro.To, err)
		}
		for _, a := range h.Plan.Actions {
			if a.Rollout && a.Component == comp {
				h.done = append(h.done, a)
			}
		}
	}
	restarts := h.State.Units[unit].NRestarts
	check, err := r.gate(ctx, h, spec, ro.To, restarts, before)
	if err == nil {
		// Passed: the record says so, whatever happens to ctx now.
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := h.Conn.Run(wctx, h.Plan.GatePassedScript(comp)); err != nil {
			return fmt.Errorf("%s %s passed its health gate, but recording that failed (the next apply checks it again): %w", comp, ro.To, err)
		}
		return nil
	}
	if ctx.Err() != nil {
		// Cut short, not failed: the new version stays, unjudged.
		return &gateCutShort{comp: comp, version: ro.To}
	}
	journal := h.journal(context.Background(), unit)
	// Switch back whatever happens to ctx: the host must not stay broken.
	bctx, cancel := context.WithTimeout(context.Background(), r.Opts.HealthTimeout+30*time.Second)
	defer cancel()
	back := fmt.Sprintf("rolled back to %s", ro.From)
	if _, rerr := h.Conn.Run(bctx, h.Plan.RollbackScript(comp)); rerr != nil {
		back = fmt.Sprintf("switching back to %s FAILED: %v", ro.From, rerr)
	} else if _, gerr := r.gate(bctx, h, spec, ro.From, restarts, before); gerr != nil {
		back = fmt.Sprintf("switched back to %s, which is not healthy either: %v", ro.From, gerr)
	} else {
		back += ", which is healthy again"
	}
	return fmt.Errorf("%s %s → %s failed the %s check: %v; %s; the rollout stopped\nlast journal lines of %s:\n%s",
		comp, ro.From, ro.To, check, err, back, unit, journal)
}

// gateCutShort is a rollout gate stopped by the interrupt (or a lost lock)
// before it could judge the new version.
type gateCutShort struct{ comp, version string }

func (e *gateCutShort) Error() string {
	return fmt.Sprintf("%s was switched to %s, but its health gate was cut short; the next apply checks it (and switches back if it fails)", e.comp, e.version)
}

// gate waits until the unit is active, its health endpoint answers, it
// runs version and, when before is set, it answers a query over the data
// of that time; it returns the name of the check that failed.
func (r *Run) gate(ctx context.Context, h *HostRun, spec *component.Spec, version string, restarts int, before float64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Opts.HealthTimeout)
	defer cancel()
	unit := catalog.UnitName(spec.Component)
	client, base := h.endpoint(r, spec.Health.Port)
	defer client.CloseIdleConnections()
	check, last := "unit", "not checked yet"
	// Most services answer within a second or two of their start: poll soon
	// at first, then back off to once a second.
	pause := 100 * time.Millisecond
	for {
		check, last = r.gateOnce(ctx, h, client, unit, base, spec, version, restarts, before)
		if last == "" {
			return "", nil
		}
		r.Opts.Log.Debug("gate", "host", h.Host.Name, "component", spec.Component, "check", check, "result", last)
		if check == "unit" && strings.Contains(last, "restarted") {
			return check, fmt.Errorf("%s", last)
		}
		select {
		case <-ctx.Done():
			if context.Cause(ctx) != context.DeadlineExceeded {
				return check, fmt.Errorf("%s (stopped: %w)", last, context.Cause(ctx))
			}
			return check, fmt.Errorf("%s (gave up after %s)", last, r.Opts.HealthTimeout)
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// gateOnce is one pass of the gate: the check that failed and what was
// wrong, or "", "". The unit's state and the endpoint are asked at once:
// at a distance each is round trips. restarts is the unit's
// automatic-restart count when the run read the host: only restarts
// beyond it are this run's doing.
func (r *Run) gateOnce(ctx context.Context, h *HostRun, client *http.Client, unit, base string, spec *component.Spec, version string, restarts int, before float64) (string, string) {
	unitMsg := make(chan string, 1)
	go func() { unitMsg <- unitProblem(ctx, h, unit, restarts) }()
	check, msg := r.endpointProblem(ctx, client, base, spec, version, before)
	if m := <-unitMsg; m != "" {
		return "unit", m
	}
	return check, msg
}

// unitProblem is "" when unit is active and has not restarted by itself
// since the run read the host.
func unitProblem(ctx context.Context, h *HostRun, unit string, restarts int) string {
	out, err := h.Conn.Run(ctx, "systemctl show -p ActiveState,NRestarts "+shell.Quote(unit))
	if err != nil {
		return err.Error()
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	if n, _ := strconv.Atoi(props["NRestarts"]); n > restarts {
		return fmt.Sprintf("%s exited and was restarted %d times", unit, n-restarts)
	}
	if props["ActiveState"] != "active" {
		return unit + " is " + props["ActiveState"]
	}
	return ""
}

// endpointProblem checks the component's endpoint: ready, its last reload
// taken, the wanted version, its cluster whole, the data from before a
// switch answered. One connection (kept alive) and one read of /metrics.
func (r *Run) endpointProblem(ctx context.Context, client *http.Client, base string, spec *component.Spec, version string, before float64) (string, string) {
	hc := spec.Health
	var page *metricsPage
	metrics := func(check string) (string, string) {
		if page != nil {
			return "", ""
		}
		p, err := fetchPage(ctx, client, base+"/metrics")
		if err != nil {
			return check, err.Error()
		}
		page = p
		return "", ""
	}
	if hc.Path == "/metrics" {
		if check, msg := metrics("health"); msg != "" {
			return check, msg
		}
	} else if msg := probeOnce(ctx, client, base+hc.Path); msg != "" {
		return "health", msg
	}
	if hc.ReloadMetric != "" {
		if check, msg := metrics("reload"); msg != "" {
			return check, msg
		}
		if msg := page.reloadProblem(hc.ReloadMetric); msg != "" {
			return "reload", msg
		}
	}
	if hc.BuildInfo == "" {
		return "", ""
	}
	if check, msg := metrics("version"); msg != "" {
		return check, msg
	}
	running, err := page.buildVersion(hc.BuildInfo, hc.VersionLabel)
	if err != nil {
		return "version", err.Error()
	}
	if normalizeVersion(running) != normalizeVersion(version) {
		return "version", fmt.Sprintf("%s reports version %q, want %s", hc.BuildInfo, running, version)
	}
	if r.clusterGated(spec.Component) {
		n, err := page.clusterMembers()
		if err != nil {
			return "cluster", err.Error()
		}
		if n != r.cluster.size {
			return "cluster", fmt.Sprintf("%s is %d, want %d (every reachable Alertmanager host): it has not rejoined its cluster", amClusterMetric, n, r.cluster.size)
		}
	}
	if before > 0 {
		if _, err := instantQuery(ctx, client, base, dataQuery[spec.Component], before); err != nil {
			return "data", "the data from before the switch is not answered: " + err.Error()
		}
	}
	return "", ""
}

// normalizeVersion drops a leading v and distribution suffixes (2.42.0+ds).
func normalizeVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "+")
	return v
}

// FloorError is a version change the component's downgrade floor forbids.
type FloorError struct {
	Component, From, To string
	Floor               catalog.Floor
}

func (e *FloorError) Error() string {
	instead := fmt.Sprintf("go back no further than %s", e.Floor.Min)
	if v := floorTarget(e.Component); v != "" {
		instead = fmt.Sprintf("`obsbox upgrade %s=%s` goes back to a version that reads the data", e.Component, v)
	}
	return fmt.Sprintf("%s %s → %s refused, nothing was changed: %s, and this host's %s has run %s, so its data would be lost. "+
		"Instead: %s, or stay on %s", e.Component, e.From, e.To, e.Floor.Reason, catalog.DataDir(e.Component), e.From, instead, e.From)
}

// floorTarget is the newest catalog version at or above the floor's Min and
// below its Ran: the furthest back a host may go.
func floorTarget(comp string) string {
	c := catalog.Get(comp)
	best := ""
	for _, v := range c.Versions {
		if bundles.CompareVersions(v, c.DowngradeFloor.Min) >= 0 && bundles.CompareVersions(v, c.DowngradeFloor.Ran) < 0 &&
			(best == "" || bundles.CompareVersions(v, best) > 0) {
			best = v
		}
	}
	return best
}

// BelowFloor is the one downgrade rule: a host whose record says comp runs,
// or ran before its last upgrade, a version at or above the floor's Ran may
// not go to a version below its Min. nil when to is allowed.
func BelowFloor(comp string, rec hoststate.ComponentRecord, to string) error {
	c := catalog.Get(comp)
	if c == nil || c.DowngradeFloor == nil || to == "" || bundles.CompareVersions(to, c.DowngradeFloor.Min) >= 0 {
		return nil
	}
	for _, ran := range []string{rec.Version, rec.Previous} {
		if ran != "" && bundles.CompareVersions(ran, c.DowngradeFloor.Ran) >= 0 {
			return &FloorError{Component: comp, From: ran, To: to, Floor: *c.DowngradeFloor}
		}
	}
	return nil
}

// refuseBelowFloors runs after the probe, before any plan: if any host
// refuses (it would go below a downgrade floor, or it is a clear-text
// Prometheus host asked to change only its targets), every host leaves the
// run untouched.
func (r *Run) refuseBelowFloors() {
	r.floorRefusals()
	for _, h := range r.Hosts {
		if h.Result.err == nil {
			r.joinRefusals(h)
		}
	}
}

// floorsStep is refuseBelowFloors as a fleet step: it waits only for the
// hosts that may refuse.
func (r *Run) floorsStep() fleetStep {
	if !r.floorsMayRefuse() {
		return fleetStep{}
	}
	return fleetStep{needs: r.mayRefuse, run: r.floorRefusals, join: r.joinRefusals}
}

// floorRefusals takes out of the run each host that refuses and notes them
// in r.refused. It reads only hosts that mayRefuse.
func (r *Run) floorRefusals() {
	r.refused = nil
	for _, h := range r.Hosts {
		if !r.mayRefuse(h) || h.Result.err != nil || h.State == nil { // mayRefuse first: the others may still be reading
			continue
		}
		if err := r.refusal(h); err != nil {
			h.fail("plan", err)
			fmt.Fprintf(r.Opts.Out, "%s: %s\n", h.Host.Name, err)
			r.refused = append(r.refused, h.Host.Name)
		}
	}
}

// refusal is why h may not be changed by this run, or nil.
func (r *Run) refusal(h *HostRun) error {
	if r.targetsOnly(h) {
		// A Prometheus host outside --hosts that still speaks clear text
		// (installed before TLS): its targets would be rendered https while
		// it and the other hosts are not converted yet.
		if r.tlsOn() && len(h.State.HostCert) == 0 {
			return fmt.Errorf("its stack predates TLS (no certificate yet): run obsbox apply for every host first, which converts the stack, then this command")
		}
		return nil
	}
	inv := r.Opts.Inventory
	for _, c := range component.All() {
		rec, ok := h.State.Record.Components[c.Name()]
		if !ok || !c.Runs(inv, h.Host) {
			continue
		}
		if err := BelowFloor(c.Name(), rec, inv.Versions[c.Name()]); err != nil {
			return err
		}
	}
	return nil
}

// joinRefusals takes h out of the run when another host refused.
func (r *Run) joinRefusals(h *HostRun) {
	if len(r.refused) > 0 {
		h.fail("plan", fmt.Errorf("not touched: %s refused (see there), so no host is changed", strings.Join(r.refused, ", ")))
	}
}

// dataQuery is, per component, an instant query its new version must answer
// over data written before the switch: the data folder was kept and is read.
var dataQuery = map[string]string{catalog.Prometheus: "count(up)", catalog.VictoriaMetrics: "count(up)"}

// queryResult is the part of a Prometheus instant query's answer the gate reads.
type queryResult struct {
	Status string `json:"status"`
	Data   struct {
		Result []struct {
			Value []any `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// instantQuery runs q at time at (0: now) and returns the evaluation time of
// its first sample, or an error when the answer holds none.
func instantQuery(ctx context.Context, client *http.Client, base, q string, at float64) (float64, error) {
	u := base + "/api/v1/query?query=" + url.QueryEscape(q)
	if at > 0 {
		u += "&time=" + strconv.FormatFloat(at, 'f', 3, 64)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var res queryResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return 0, fmt.Errorf("query %s: HTTP %s, unreadable answer: %v", q, resp.Status, err)
	}
	if res.Status != "success" || len(res.Data.Result) == 0 || len(res.Data.Result[0].Value) == 0 {
		return 0, fmt.Errorf("query %s at %s returned no sample (status %q)", q, time.Unix(int64(at), 0).UTC().Format(time.RFC3339), res.Status)
	}
	t, _ := res.Data.Result[0].Value[0].(float64)
	return t, nil
}

// dataBefore asks the version still running, just before the switch, for
// the server's time of an answered data query; 0 when there is nothing to
// compare (no query for comp, or no data yet).
func dataBefore(ctx context.Context, r *Run, h *HostRun, spec *component.Spec) float64 {
	q := dataQuery[spec.Component]
	if q == "" || spec.Health.Port == 0 {
		return 0
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, base := h.endpoint(r, spec.Health.Port)
	defer client.CloseIdleConnections()
	t, err := instantQuery(qctx, client, base, q, 0)
	if err != nil {
		return 0
	}
	// A second back, so the sample lies before the switch, not at it.
	return t - 1
}
