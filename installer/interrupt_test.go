package installer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/plan"
)

// phaseFunc is a phase made of a function, for tests.
type phaseFunc func(ctx context.Context, h *HostRun) error

func (phaseFunc) Title() string                                       { return "upload" }
func (f phaseFunc) Run(ctx context.Context, r *Run, h *HostRun) error { return f(ctx, h) }

func testRun(names ...string) *Run {
	r := &Run{Opts: Options{Concurrency: 4, Log: slog.New(slog.DiscardHandler)}}
	r.Opts.Out = &bytes.Buffer{}
	for _, n := range names {
		r.Hosts = append(r.Hosts, &HostRun{Host: &inventory.Host{Name: n}, Result: &HostResult{Host: n}})
	}
	return r
}

var someActions = []plan.Action{{Op: plan.OpCreate, Kind: "file", Target: "/etc/obsbox/x"}, {Op: plan.OpRestart, Kind: "service", Target: "obsbox-x.service"}}

// Ctrl-C: a host with nothing to do is ok, a host stopped part way is
// "stopped", not FAILED, and nothing says "context canceled".
func TestFinding12_InterruptIsNotAFailure(t *testing.T) {
	r := testRun("idle", "busy")
	r.Hosts[0].Plan = &plan.Host{}
	r.Hosts[1].Plan = &plan.Host{Actions: someActions}
	r.applying = true
	ctx, cancel := context.WithCancelCause(context.Background())
	r.runPhases(ctx, []Phase{phaseFunc(func(ctx context.Context, h *HostRun) error {
		cancel(ErrInterrupted)
		<-ctx.Done()
		return fmt.Errorf("%s: script: %w", h.Host.Name, ctx.Err())
	})})
	r.finish()
	rep := r.report()
	if len(rep.Failed()) != 0 {
		t.Errorf("failed hosts after an interrupt: %+v", rep.Failed())
	}
	if !rep.Hosts[0].OK || rep.Hosts[1].OK || !rep.Hosts[1].Interrupted {
		t.Errorf("idle ok=%v, busy ok=%v interrupted=%v", rep.Hosts[0].OK, rep.Hosts[1].OK, rep.Hosts[1].Interrupted)
	}
	var b bytes.Buffer
	rep.WriteSummary(&b)
	out := b.String() + r.Opts.Out.(*bytes.Buffer).String()
	for _, bad := range []string{"FAILED", "context canceled", "failed"} {
		if strings.Contains(out, bad) {
			t.Errorf("output says %q:\n%s", bad, out)
		}
	}
	if strings.Count(strings.ToLower(out), "interrupted") != 0 {
		t.Errorf("the per-host output must leave the one \"interrupted\" message to the command:\n%s", out)
	}
}

// The summary counts what was done: a host whose check failed changed nothing.
func TestFinding12_SummaryCountsWhatWasDone(t *testing.T) {
	r := testRun("checked", "applied")
	r.applying = true
	for _, h := range r.Hosts {
		h.Plan = &plan.Host{Actions: someActions}
	}
	r.runPhases(context.Background(), []Phase{phaseFunc(func(ctx context.Context, h *HostRun) error {
		if h.Host.Name == "checked" {
			return fmt.Errorf("prometheus configuration rejected; nothing on this host was changed")
		}
		h.done = h.Plan.Actions
		return nil
	})})
	r.finish()
	rep := r.report()
	if c := rep.Hosts[0].Counts; c != (Counts{}) || len(rep.Hosts[0].Actions) != 0 {
		t.Errorf("a host whose check failed shows changes: %+v", c)
	}
	if c := rep.Hosts[1].Counts; c.Create != 1 || c.Restart != 1 {
		t.Errorf("applied host counts %+v", c)
	}
	var b bytes.Buffer
	rep.WriteSummary(&b)
	if !regexpLine(b.String(), `checked\s+FAILED\s+none`) {
		t.Errorf("summary:\n%s", b.String())
	}
}

func regexpLine(s, re string) bool {
	for _, l := range strings.Split(s, "\n") {
		if ok, _ := regexpMatch(re, l); ok {
			return true
		}
	}
	return false
}

var regexpMatch = regexp.MatchString
