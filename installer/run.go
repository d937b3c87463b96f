// Package installer turns an inventory into running services: it connects to
// every host, reads its state, plans, and applies, in phases that each run
// over all hosts at once. A host that fails drops out; the others go on.
package installer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/pki"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/installer/transport"
)

// Options configure a run.
type Options struct {
	Inventory *inventory.Inventory
	Hosts     []string // only these hosts (none = all), plus the Prometheus hosts' targets
	// OnlyTargets limits the run to the Prometheus hosts' scrape targets
	// (after a host left the inventory): nothing else is touched.
	OnlyTargets bool
	// OnlyConnect stops after connecting: is every host reachable and trusted?
	OnlyConnect bool
	Concurrency int
	Store       *bundles.Store

	AcceptNewHostKeys bool
	Passphrase        func(keyPath string) ([]byte, error)

	Out      io.Writer // human progress lines; io.Discard for none
	Log      *slog.Logger
	Progress Progress // bars; nil for none
	Diffs    bool     // fetch old contents to show diffs (plan)

	HealthTimeout time.Duration // default 90s

	// ConnectTimeout, when set, bounds every host's TCP connect plus SSH
	// handshake (--connect-timeout), over the inventory's connect_timeout;
	// else each host's connect_timeout, else 10s.
	ConnectTimeout time.Duration

	// LockTimeout is how long a run that changes hosts waits for another
	// run's lock on a host before that host fails; 0 fails at once.
	LockTimeout time.Duration
	// Command names the run in the lock others see ("obsbox apply").
	Command string

	// Certs says which host certificates the run issues beyond renewals.
	Certs CertMode
	// RotateCA, when set, replaces the CA before anything is planned (certs rotate --ca).
	RotateCA func(*pki.CA) (*pki.CA, error)
}

// Progress receives byte and host counts for progress bars.
type Progress interface {
	Uploaded(n int64)
	HostDone()
	// SetTotals is called again, with a larger total, as each host
	// reaches its upload.
	SetTotals(hosts int, bytes int64)
}

// Phase is one step of a run, done on every host still in the run.
type Phase interface {
	Title() string
	Run(ctx context.Context, r *Run, h *HostRun) error
}

// HostRun is one host's part of a run.
type HostRun struct {
	Host   *inventory.Host
	Conn   *transport.Conn
	State  *hoststate.State
	Specs  []*component.Spec
	Plan   *plan.Host
	Result *HostResult

	// What the run learns about the host lives here, beside its state and
	// plan, each written only by the host's own phases.
	removal *plan.Removal // uninstall: what leaves the host
	status  []StatusRow   // status: one row per component
	scrape  *scrapeResult // status, on the Prometheus host asked: its targets' health
	members *int          // status: how many cluster members its Alertmanager sees

	// started and ended bound the host's own work, for its TIME.
	started, ended time.Time
	// gone is closed when the host leaves the run (failed or stopped), so
	// a host waiting for one of its steps stops waiting.
	gone signal

	lock     *transport.Lock // the host's run lock, for runs that change hosts
	lockBusy bool            // another run held the lock: this run must wait for it
	// done are the actions carried out, for the summary of an apply.
	done []plan.Action

	oldContent map[string][]byte // for diffs

	tls     *plan.HostTLS // the host's certificate this run; nil when TLS is off
	webHash string        // the web user's bcrypt hash on this host
}

// HostResult is what happened on a host, for the summary and --json.
type HostResult struct {
	Host    string `json:"host"`
	Address string `json:"address"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Phase   string `json:"failed_phase,omitempty"`
	// Interrupted: the run was stopped (Ctrl-C) before this host was done.
	Interrupted bool          `json:"interrupted,omitempty"`
	Note        string        `json:"note,omitempty"`
	Actions     []plan.Action `json:"actions"`
	Notes       []plan.Note   `json:"notes,omitempty"`
	Counts      Counts        `json:"counts"`
	Uploaded    int64         `json:"uploaded_bytes"`
	RoundTrips  int64         `json:"round_trips"`
	// Seconds is the host's own time, from its first phase to its last.
	Seconds float64 `json:"seconds"`
	// pending: the host has changes the run did not make (plan: any).
	pending bool
	err     error
}

// Err returns the host's failure, if any.
func (r *HostResult) Err() error { return r.err }

// Run is one plan or apply over the selected hosts.
type Run struct {
	Opts    Options
	Hosts   []*HostRun
	refused []string // hosts that refused to be changed (floorRefusals)
	started time.Time
	now     func() time.Time // the clock hosts are timed with

	contexts   contextBuilder // what each component's Spec is built from
	sec        *runSecurity   // TLS and basic auth, resolved once after the hosts were read
	locking    bool           // take each host's lock beside the state probe
	lockHolder string         // what this run writes into the locks
	applying   bool           // results list what was done, not what is planned
	cluster    amCluster      // the Alertmanager cluster's size and restart turn

	movesNoted bool // noteMoves ran

	uploadMu    sync.Mutex
	uploadTotal int64 // bytes announced so far, for the progress bar
}

func newRun(opts Options) (*Run, error) {
	// Prometheus hosts always take part: their targets follow the inventory.
	withPrometheus := !opts.OnlyConnect
	return newRunOver(opts, withPrometheus)
}

// newRunOver applies the defaults and picks the hosts: those --hosts names
// (all when none, unless OnlyTargets), plus the Prometheus hosts when asked.
func newRunOver(opts Options, withPrometheus bool) (*Run, error) {
	if opts.Concurrency < 1 {
		opts.Concurrency = 16
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	opts.Out = &lineWriter{w: opts.Out} // hosts write their lines from their own goroutines
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.HealthTimeout == 0 {
		opts.HealthTimeout = 90 * time.Second
	}
	inv := opts.Inventory
	selected := map[string]bool{}
	for _, n := range opts.Hosts {
		if inv.Host(n) == nil {
			return nil, fmt.Errorf("--hosts names %q, which is not in %s", n, inv.Path)
		}
		selected[n] = true
	}
	all := len(selected) == 0 && !opts.OnlyTargets
	r := &Run{Opts: opts, now: time.Now, contexts: contextBuilder{inv: inv}}
	for _, h := range inv.Hosts {
		if all || selected[h.Name] || (withPrometheus && h.HasRole(catalog.Prometheus)) {
			r.Hosts = append(r.Hosts, &HostRun{Host: h, Result: &HostResult{Host: h.Name, Address: h.Address}})
		}
	}
	return r, nil
}

// begin sets what every run's pipelines need once: the clock, the start
// time and the name the locks carry.
func (r *Run) begin() {
	if r.now == nil {
		r.now = time.Now
	}
	if r.started.IsZero() {
		r.started = r.now()
	}
	if r.locking && r.lockHolder == "" {
		r.lockHolder = r.holder()
	}
}

// runPhases takes every host still in the run through phases, each host
// at its own pace: a slow or dead host holds up no other. At most
// Concurrency hosts are inside a phase at once; a host whose phase fails
// leaves the run. Steps that must see some hosts first (the lock order, the
// refusals) go through runAround; rollout batches run between calls.
func (r *Run) runPhases(ctx context.Context, phases []Phase) {
	r.begin()
	sem := make(chan struct{}, r.Opts.Concurrency)
	// The log marks when the first host enters each phase.
	entered := make([]sync.Once, len(phases))
	var wg sync.WaitGroup
	for _, h := range r.Hosts {
		if h.Result.err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runHost(ctx, h, phases, sem, entered)
		}()
	}
	wg.Wait()
}

// runHost is one host's way through phases.
func (r *Run) runHost(ctx context.Context, h *HostRun, phases []Phase, sem chan struct{}, entered []sync.Once) {
	for i, p := range phases {
		if interrupted(ctx) {
			h.interrupt(p.Title())
			return
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			h.interrupt(p.Title())
			return
		}
		entered[i].Do(func() { r.Opts.Log.Debug("phase", "title", p.Title()) })
		if _, ok := p.(uploadPhase); ok {
			r.announceUpload(h)
		}
		if _, ok := p.(applyPhase); ok {
			r.settleCluster()
		}
		hctx, cancel := h.hostContext(ctx)
		err := r.timed(h, func() error { return p.Run(hctx, r, h) })
		cancel()
		<-sem
		last := i == len(phases)-1
		switch {
		case err != nil && interrupted(ctx):
			h.interrupt(p.Title())
		case err != nil:
			h.fail(p.Title(), err)
			fmt.Fprintf(r.Opts.Out, "%s: %s failed: %s\n", h.Host.Name, p.Title(), err)
		}
		if (err != nil || last) && r.Opts.Progress != nil {
			r.Opts.Progress.HostDone()
		}
		if err != nil {
			return
		}
	}
}

// fleetStep is a step between a run's first phases and the rest that must
// see some hosts read first (the lock order, the downgrade floors).
type fleetStep struct {
	// needs says whose first phases the step reads: it runs once every host
	// it names is through them (or out of the run). nil: no step.
	needs func(h *HostRun) bool
	run   func() // once; every host waits for it before its other phases
	// join, when set, runs for each host after run and before the host goes
	// on (it may take the host out of the run).
	join func(h *HostRun)
}

// runAround runs before and after as one pipeline per host. A host the
// fleet step needs holds the others up until it is read; the hosts it does
// not need never hold anyone up.
func (r *Run) runAround(ctx context.Context, before []Phase, step fleetStep, after []Phase) {
	if step.needs == nil {
		r.runPhases(ctx, append(slices.Clip(before), after...))
		return
	}
	r.begin()
	var hosts []*HostRun
	needed := map[*HostRun]bool{}
	var read sync.WaitGroup
	for _, h := range r.Hosts {
		if h.Result.err != nil {
			continue
		}
		hosts = append(hosts, h)
		if step.needs(h) {
			needed[h] = true
			read.Add(1)
		}
	}
	released := make(chan struct{})
	go func() {
		read.Wait()
		step.run()
		close(released)
	}()
	semBefore, semAfter := make(chan struct{}, r.Opts.Concurrency), make(chan struct{}, r.Opts.Concurrency)
	enteredBefore, enteredAfter := make([]sync.Once, len(before)), make([]sync.Once, len(after))
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runHost(ctx, h, before, semBefore, enteredBefore)
			if needed[h] {
				read.Done()
			}
			<-released
			if step.join != nil && h.Result.err == nil {
				step.join(h)
			}
			if h.Result.err == nil && len(after) > 0 {
				r.runHost(ctx, h, after, semAfter, enteredAfter)
			}
		}()
	}
	wg.Wait()
}

// everyHost is a fleet step's needs when it must see every host.
func everyHost(*HostRun) bool { return true }

// mustSettleLocks: with a lock timeout, hosts another run holds are waited
// for in host order, which needs every host's first lock attempt.
func (r *Run) mustSettleLocks() bool { return r.locking && r.Opts.LockTimeout > 0 }

// locksStep settles the locks when it must; else there is no fleet step.
func (r *Run) locksStep(ctx context.Context) fleetStep {
	if !r.mustSettleLocks() {
		return fleetStep{}
	}
	return fleetStep{needs: everyHost, run: func() { r.settleLocks(ctx) }}
}

// floorsMayRefuse: some host of the run may refuse.
func (r *Run) floorsMayRefuse() bool {
	for _, h := range r.Hosts {
		if h.Result.err == nil && r.mayRefuse(h) {
			return true
		}
	}
	return false
}

// mayRefuse: only a host running a component whose inventory version is
// below its downgrade floor, or one taking part for its targets only while
// TLS is on, can refuse; then no host may change until each of those is read.
func (r *Run) mayRefuse(h *HostRun) bool {
	if r.tlsOn() && r.targetsOnly(h) {
		return true
	}
	inv := r.Opts.Inventory
	for _, c := range component.All() {
		f := catalog.Get(c.Name())
		v := inv.Versions[c.Name()]
		if f != nil && f.DowngradeFloor != nil && v != "" && bundles.CompareVersions(v, f.DowngradeFloor.Min) < 0 && c.Runs(inv, h.Host) {
			return true
		}
	}
	return false
}

// tlsOn: the run's security has a CA (security.tls is not off).
func (r *Run) tlsOn() bool { return r.sec != nil && r.sec.ca != nil }

// timed runs one step of h's work and stretches h's time over it.
func (r *Run) timed(h *HostRun, step func() error) error {
	if r.now == nil {
		r.now = time.Now
	}
	if h.started.IsZero() {
		h.started = r.now()
	}
	err := step()
	h.ended = r.now()
	return err
}

// interruptAll marks every host still in the run as stopped.
func (r *Run) interruptAll(step string) {
	for _, h := range r.Hosts {
		if h.Result.err == nil {
			h.interrupt(step)
		}
	}
}

// interrupt notes that the run stopped before the host was done. A host
// with nothing to do is done already: it stays ok.
func (h *HostRun) interrupt(step string) {
	h.gone.close()
	if h.Plan != nil && h.Plan.Empty() {
		return
	}
	h.Result.err = ErrInterrupted
	h.Result.Error = "stopped by the interrupt during " + step
	h.Result.Phase = step
	h.Result.Interrupted = true
}

// finish closes the connections and fills in each host's result.
func (r *Run) finish() {
	r.noteMoves()
	// Locks go first, all at once: a run started right after this one
	// finds the hosts free.
	var wg sync.WaitGroup
	for _, h := range r.Hosts {
		wg.Add(1)
		go func() { defer wg.Done(); h.releaseLock() }()
	}
	wg.Wait()
	for _, h := range r.Hosts {
		if h.Conn != nil {
			st := h.Conn.Stats()
			h.Result.RoundTrips = st.RoundTrips
			h.Result.Uploaded = st.BytesSent
			h.Conn.Close()
		}
		h.Result.OK = h.Result.err == nil
		if !h.started.IsZero() {
			h.Result.Seconds = h.ended.Sub(h.started).Seconds()
		}
		switch {
		case r.applying:
			// What was done, not what was planned: a check that failed
			// changed nothing, a rollout cut short did only its first hosts.
			h.Result.Actions = h.done
		case h.Plan != nil && h.Result.Note == "":
			h.Result.Actions = h.Plan.Actions
			h.Result.Notes = h.Plan.Notes
		}
		if h.Result.Actions == nil {
			h.Result.Actions = []plan.Action{}
		}
		h.Result.Counts = countActions(h.Result.Actions)
		if r.locking {
			// A run that changes hosts leaves changes pending where it
			// failed before its plan was known or done.
			h.Result.pending = !h.Result.OK && (h.Plan == nil || !h.Plan.Empty())
		} else {
			h.Result.pending = len(h.Result.Actions) > 0
		}
	}
}

func (h *HostRun) fail(step string, err error) {
	h.gone.close()
	h.Result.err = err
	h.Result.Error = err.Error()
	h.Result.Phase = step
}

// Report is the outcome of a run.
type Report struct {
	// ChangesPending: plan found changes to make, or a run that changes
	// hosts left some unmade (a host failed or was stopped).
	ChangesPending bool          `json:"changes_pending"`
	Hosts          []*HostResult `json:"hosts"`
	// Topology (plan only): the replicas, the cluster, where samples go;
	// absent for one Prometheus and one Alertmanager without remote_write.
	Topology *Topology `json:"topology,omitempty"`
}

// Failed lists the hosts that failed (not those the interrupt stopped).
func (rep *Report) Failed() []*HostResult {
	var out []*HostResult
	for _, h := range rep.Hosts {
		if !h.OK && !h.Interrupted {
			out = append(out, h)
		}
	}
	return out
}

// Interrupted lists the hosts the interrupt stopped before they were done.
func (rep *Report) Interrupted() []*HostResult {
	var out []*HostResult
	for _, h := range rep.Hosts {
		if h.Interrupted {
			out = append(out, h)
		}
	}
	return out
}

// Changes reports whether any host has pending or performed actions.
func (rep *Report) Changes() bool {
	for _, h := range rep.Hosts {
		if len(h.Actions) > 0 {
			return true
		}
	}
	return false
}

func (r *Run) report() *Report {
	rep := &Report{Hosts: []*HostResult{}}
	for _, h := range r.Hosts {
		rep.Hosts = append(rep.Hosts, h.Result)
		rep.ChangesPending = rep.ChangesPending || h.Result.pending
	}
	return rep
}

// Plan connects, reads every host and returns what apply would do. It changes nothing.
func Plan(ctx context.Context, opts Options) (*Report, []*HostRun, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, nil, err
	}
	if err := r.resolveSecurity(); err != nil {
		return nil, nil, err
	}
	r.runAround(ctx, []Phase{connectPhase{}, probePhase{}}, r.floorsStep(),
		[]Phase{certsPhase{}, planPhase{}, diffPhase{}})
	r.finish()
	rep := r.report()
	rep.Topology = topologyOf(opts.Inventory)
	return rep, r.Hosts, nil
}

// Apply converges every selected host.
func Apply(ctx context.Context, opts Options) (*Report, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	// The diff phase reads old contents only with Opts.Diffs (--json).
	phases := []Phase{connectPhase{}, probePhase{}, certsPhase{}, planPhase{}, diffPhase{}, uploadPhase{}, applyPhase{}, healthPhase{}}
	if opts.OnlyConnect {
		phases = phases[:1]
	} else {
		r.locking, r.applying = true, true
	}
	if opts.OnlyConnect {
		r.runPhases(ctx, phases)
	} else {
		if err := r.resolveSecurity(); err != nil {
			return nil, err
		}
		step := r.floorsStep()
		if locks := r.locksStep(ctx); locks.needs != nil {
			step = fleetStep{needs: everyHost, join: step.join, run: func() {
				r.settleLocks(ctx)
				r.floorRefusals()
			}}
		}
		r.runAround(ctx, phases[:2], step, phases[2:])
		r.rollout(ctx) // batches: the one step that waits for every host
	}
	r.finish()
	return r.report(), nil
}

// announceUpload says in a plain line what the host will receive, and
// grows the progress display's total by it.
func (r *Run) announceUpload(h *HostRun) {
	n := h.Plan.UploadBytes()
	if !h.Plan.Empty() {
		fmt.Fprintf(r.Opts.Out, "%s: %s, %s to upload\n", h.Host.Name, countActions(h.Plan.Actions).changes(), humanBytes(n))
	}
	if r.Opts.Progress != nil {
		r.uploadMu.Lock()
		r.uploadTotal += n
		total := r.uploadTotal
		r.uploadMu.Unlock()
		r.Opts.Progress.SetTotals(len(r.Hosts), total)
	}
}

// signal is a channel closed once; its zero value is ready to use.
type signal struct {
	made, closed sync.Once
	ch           chan struct{}
}

func (s *signal) C() <-chan struct{} {
	s.made.Do(func() { s.ch = make(chan struct{}) })
	return s.ch
}

func (s *signal) close() {
	s.C()
	s.closed.Do(func() { close(s.ch) })
}

// lineWriter lets the hosts' goroutines share one writer: each Write goes
// through whole.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
