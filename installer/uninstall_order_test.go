package installer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// TestRemovalOrder: the VictoriaMetrics hosts' removals start after those of
// the hosts that run Prometheus without it and after every host that runs
// both has stopped its Prometheus; those hosts do not wait for each other's
// removal; Alertmanager hosts go one at a time; a host that left the run
// holds no one up; hosts with neither do not wait.
func TestRemovalOrder(t *testing.T) {
	runs := map[string][]string{
		"prom": {catalog.Prometheus, catalog.Alertmanager},
		"vm":   {catalog.VictoriaMetrics, catalog.Alertmanager},
		"pv1":  {catalog.Prometheus, catalog.VictoriaMetrics},
		"pv2":  {catalog.Prometheus, catalog.VictoriaMetrics},
		"am":   {catalog.Alertmanager},
		"gone": {catalog.Prometheus},
		"node": {catalog.NodeExporter},
	}
	r := testRun("prom", "vm", "pv1", "pv2", "am", "gone", "node")
	r.Opts.Concurrency = len(r.Hosts)
	o := newRemovalOrder(r)
	if o == nil {
		t.Fatal("no order with a place for every host")
	}
	var mu sync.Mutex
	var events []string
	inAM, maxAM := 0, 0
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	planPhase := phaseFunc(func(ctx context.Context, h *HostRun) error {
		defer o.donePlanning(h)
		if h.Host.Name == "gone" {
			return errors.New("connection lost")
		}
		rec := &hoststate.Record{Components: map[string]hoststate.ComponentRecord{}}
		for _, c := range runs[h.Host.Name] {
			rec.Components[c] = hoststate.ComponentRecord{Version: "1"}
		}
		h.State = &hoststate.State{Record: rec}
		return nil
	})
	removePhase := phaseFunc(func(ctx context.Context, h *HostRun) error {
		defer o.doneRemoving(h)
		end, err := o.turn(ctx, h, func(context.Context) error {
			if h.Host.Name == "pv2" {
				time.Sleep(20 * time.Millisecond) // the others must wait for it
			}
			note("stopped prometheus " + h.Host.Name)
			return nil
		})
		if err != nil {
			return err
		}
		defer end()
		am := h.records(catalog.Alertmanager)
		mu.Lock()
		events = append(events, "start "+h.Host.Name)
		if am {
			inAM++
			maxAM = max(maxAM, inAM)
		}
		mu.Unlock()
		// Long enough for a removal out of order to show in the events.
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		if am {
			inAM--
		}
		mu.Unlock()
		note("end " + h.Host.Name)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.runPhases(ctx, []Phase{planPhase, removePhase})
	if ctx.Err() != nil {
		t.Fatalf("the removals waited for each other until the test's bound: %v", events)
	}
	at := func(e string) int {
		for i, x := range events {
			if x == e {
				return i
			}
		}
		t.Fatalf("no %q in %v", e, events)
		return -1
	}
	if at("start vm") < at("end prom") {
		t.Errorf("the VictoriaMetrics host's removal started before the Prometheus host's ended: %v", events)
	}
	// Every Prometheus stops before any VictoriaMetrics.
	for _, vm := range []string{"vm", "pv1", "pv2"} {
		for _, pv := range []string{"pv1", "pv2"} {
			if at("start "+vm) < at("stopped prometheus "+pv) {
				t.Errorf("%s's removal started before %s stopped its Prometheus: %v", vm, pv, events)
			}
		}
	}
	for _, h := range []string{"pv1", "pv2", "node"} {
		at("end " + h)
	}
	for _, e := range events {
		if e == "stopped prometheus prom" || e == "stopped prometheus vm" {
			t.Errorf("%q: only hosts that run both stop Prometheus ahead of their removal", e)
		}
	}
	if maxAM != 1 {
		t.Errorf("%d Alertmanager hosts were removed at once, want one at a time: %v", maxAM, events)
	}
	if r.Hosts[5].Result.OK || r.Hosts[5].Result.err == nil {
		t.Errorf("the host that failed is not marked failed: %+v", r.Hosts[5].Result)
	}
}

// TestRemovalOrderNeedsAPlacePerHost: with fewer --concurrency places than
// hosts, a waiting host could keep out the host it waits for: no order then.
func TestRemovalOrderNeedsAPlacePerHost(t *testing.T) {
	r := testRun("a", "b", "c")
	r.Opts.Concurrency = 2
	if newRemovalOrder(r) != nil {
		t.Error("an order with fewer places than hosts")
	}
	var none *removalOrder
	end, err := none.turn(context.Background(), r.Hosts[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	end()
	none.donePlanning(r.Hosts[0])
	none.doneRemoving(r.Hosts[0])
}
