package installer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/pki"
)

// Issue 13, finding 3: Prometheus 2 before 2.55 cannot read a TSDB that 3.x
// wrote. The one rule: a host whose record says 3.x runs (or ran before the
// last upgrade) may not go below 2.55.0.
func TestIssue13Finding3_DowngradeFloorRule(t *testing.T) {
	p := catalog.Prometheus
	for _, tc := range []struct {
		rec     hoststate.ComponentRecord
		to      string
		refused bool
	}{
		{hoststate.ComponentRecord{Version: "3.16.0", Previous: "3.5.3"}, "2.53.3", true},
		{hoststate.ComponentRecord{Version: "3.5.3", Previous: "2.53.3"}, "2.53.3", true},
		{hoststate.ComponentRecord{Version: "2.55.1", Previous: "3.5.3"}, "2.53.3", true}, // 3.x blocks are still there
		{hoststate.ComponentRecord{Version: "3.16.0"}, "2.55.0", false},
		{hoststate.ComponentRecord{Version: "3.16.0"}, "2.55.1", false},
		{hoststate.ComponentRecord{Version: "3.16.0"}, "3.5.3", false},
		{hoststate.ComponentRecord{Version: "2.53.3", Previous: "2.42.0"}, "2.42.0", false},
		{hoststate.ComponentRecord{}, "2.53.3", false},
	} {
		err := BelowFloor(p, tc.rec, tc.to)
		if (err != nil) != tc.refused {
			t.Errorf("%+v → %s: refused=%v (%v), want %v", tc.rec, tc.to, err != nil, err, tc.refused)
		}
		if err == nil {
			continue
		}
		var fe *FloorError
		if !errors.As(err, &fe) {
			t.Errorf("%v is not a FloorError", err)
		}
		for _, want := range []string{"refused", "2.55.0", "cannot read a TSDB", "Instead", tc.to} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal does not say %q: %v", want, err)
			}
		}
	}
	if err := BelowFloor(catalog.NodeExporter, hoststate.ComponentRecord{Version: "1.12.1"}, "1.5.0"); err != nil {
		t.Errorf("node_exporter has no floor: %v", err)
	}
}

const floorInventory = `
versions {
  prometheus = "2.53.3"
}
host "h1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager"]
}
host "h2" {
  address = "10.0.0.6"
}
`

// Issue 13, finding 3: apply with a versions block edited to 3.x → 2.53.3
// is refused on every host, before any plan: h2, which runs no Prometheus,
// is not touched either.
func TestIssue13Finding3_ApplyBelowFloorTouchesNoHost(t *testing.T) {
	inv, diags := inventory.LoadSource(t.TempDir()+"/obsbox.hcl", []byte(floorInventory))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := &Run{Opts: Options{Inventory: inv, Out: &bytes.Buffer{}, Log: slog.New(slog.DiscardHandler)}}
	for _, h := range inv.Hosts {
		rec := &hoststate.Record{Components: map[string]hoststate.ComponentRecord{catalog.NodeExporter: {Version: "1.8.2"}}}
		if h.Name == "h1" {
			rec.Components[catalog.Prometheus] = hoststate.ComponentRecord{Version: "3.16.0", Previous: "3.5.3"}
		}
		r.Hosts = append(r.Hosts, &HostRun{Host: h, State: &hoststate.State{Record: rec}, Result: &HostResult{Host: h.Name}})
	}
	r.refuseBelowFloors()
	for _, h := range r.Hosts {
		if h.Result.err == nil {
			t.Errorf("%s stays in the run: it would be touched", h.Host.Name)
		}
	}
	if !strings.Contains(r.Hosts[0].Result.Error, "cannot read a TSDB") || !strings.Contains(r.Hosts[1].Result.Error, "h1") {
		t.Errorf("h1: %s\nh2: %s", r.Hosts[0].Result.Error, r.Hosts[1].Result.Error)
	}

	// To 2.55 it goes on.
	inv.Versions[catalog.Prometheus] = "2.55.1"
	for _, h := range r.Hosts {
		h.Result = &HostResult{Host: h.Host.Name}
	}
	r.refuseBelowFloors()
	for _, h := range r.Hosts {
		if h.Result.err != nil {
			t.Errorf("%s refused going to 2.55.1: %v", h.Host.Name, h.Result.err)
		}
	}
}

// Issue 17: with a version below a floor, the hosts wait for the Prometheus
// hosts' reads only. h3 (plain) is held in its read until h2 (plain) has
// finished every phase; h1's refusal still takes h2 and h3 out before any
// later phase when it refuses.
func TestIssue17_FloorsWaitOnlyForHostsThatMayRefuse(t *testing.T) {
	src := floorInventory + "host \"h3\" {\n  address = \"10.0.0.7\"\n}\n"
	inv, diags := inventory.LoadSource(t.TempDir()+"/obsbox.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, refuse := range []bool{false, true} {
		r := &Run{Opts: Options{Inventory: inv, Concurrency: 4, Out: &bytes.Buffer{}, Log: slog.New(slog.DiscardHandler)}}
		for _, h := range inv.Hosts {
			r.Hosts = append(r.Hosts, &HostRun{Host: h, Result: &HostResult{Host: h.Name}})
		}
		h2Done := make(chan struct{})
		var mu sync.Mutex
		later := map[string]bool{}
		read := phaseFunc(func(ctx context.Context, h *HostRun) error {
			rec := &hoststate.Record{Components: map[string]hoststate.ComponentRecord{}}
			if h.Host.Name == "h1" && refuse {
				rec.Components[catalog.Prometheus] = hoststate.ComponentRecord{Version: "3.16.0"}
			}
			h.State = &hoststate.State{Record: rec}
			if h.Host.Name == "h3" {
				select {
				case <-h2Done:
				case <-time.After(30 * time.Second): // a bound, so a regression fails instead of hanging
					return errors.New("h2 waited for h3's read")
				}
			}
			return nil
		})
		after := phaseFunc(func(ctx context.Context, h *HostRun) error {
			mu.Lock()
			later[h.Host.Name] = true
			mu.Unlock()
			if h.Host.Name == "h2" {
				close(h2Done)
			}
			return nil
		})
		if refuse {
			go func() { time.Sleep(100 * time.Millisecond); close(h2Done) }() // h2 never gets there
		}
		r.runAround(context.Background(), []Phase{read}, r.floorsStep(), []Phase{after})
		if !refuse {
			for _, h := range r.Hosts {
				if h.Result.err != nil || !later[h.Host.Name] {
					t.Errorf("%s: %v, later phase ran: %v", h.Host.Name, h.Result.err, later[h.Host.Name])
				}
			}
			continue
		}
		if len(later) != 0 {
			t.Errorf("hosts went on after h1 refused: %v", later)
		}
		for _, h := range r.Hosts {
			if h.Result.err == nil {
				t.Errorf("%s stays in the run after h1 refused", h.Host.Name)
			}
		}
	}
}

// A run that changes only some hosts (apply --hosts h2, add-host,
// remove-host) on a stack still in clear text: the Prometheus host would
// get https targets it and the others do not speak yet. It refuses, and so
// no host is changed; once it has a certificate the run goes on.
func TestIssue14_TargetsOnlyOnClearTextStackTouchesNoHost(t *testing.T) {
	inv, diags := inventory.LoadSource(t.TempDir()+"/obsbox.hcl", []byte(floorInventory))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	inv.Versions[catalog.Prometheus] = "3.16.0" // no floor in play
	ca, err := pki.Ephemeral(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, converted := range []bool{false, true} {
		r := &Run{Opts: Options{Inventory: inv, Hosts: []string{"h2"}, Out: &bytes.Buffer{}, Log: slog.New(slog.DiscardHandler)}}
		r.sec = &runSecurity{ca: ca}
		for _, h := range inv.Hosts {
			st := &hoststate.State{Record: &hoststate.Record{Components: map[string]hoststate.ComponentRecord{}}}
			if converted {
				st.HostCert = []byte("-----BEGIN CERTIFICATE-----\n")
			}
			r.Hosts = append(r.Hosts, &HostRun{Host: h, State: st, Result: &HostResult{Host: h.Name}})
		}
		if !r.floorsMayRefuse() || !r.mayRefuse(r.Hosts[0]) || r.mayRefuse(r.Hosts[1]) {
			t.Fatalf("only h1 (Prometheus, outside --hosts) may refuse")
		}
		r.refuseBelowFloors()
		for _, h := range r.Hosts {
			if converted && h.Result.err != nil {
				t.Errorf("%s refused on a converted stack: %v", h.Host.Name, h.Result.err)
			}
			if !converted && h.Result.err == nil {
				t.Errorf("%s stays in the run on a clear-text stack", h.Host.Name)
			}
		}
		if !converted && (!strings.Contains(r.Hosts[0].Result.Error, "predates TLS") || !strings.Contains(r.Hosts[1].Result.Error, "h1")) {
			t.Errorf("h1: %s\nh2: %s", r.Hosts[0].Result.Error, r.Hosts[1].Result.Error)
		}
	}
}
