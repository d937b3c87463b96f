package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/plan"
)

// everyOp is each op an action may carry, in plan and in uninstall.
var everyOp = []plan.Op{plan.OpCreate, plan.OpChange, plan.OpRemove, plan.OpStop, plan.OpEnable,
	plan.OpStart, plan.OpRestart, plan.OpReload, plan.OpKeep, plan.OpRestore}

// The upload line said 63 changes where the table said 55 created and 4
// restarted: enables and starts were not counted, and a first start was
// counted as a restart. Every op is now in exactly one count.
func TestFinding6_CountsAgreeEverywhere(t *testing.T) {
	var actions []plan.Action
	for i, op := range everyOp {
		for range i + 1 {
			actions = append(actions, plan.Action{Op: op, Kind: "file", Target: "/x"})
		}
	}
	c := countActions(actions)
	sum := c.Create + c.Change + c.Remove + c.Stop + c.Enable + c.Start + c.Restart + c.Reload + c.Keep + c.Restore + c.Other
	if c.Total != len(actions) || sum != len(actions) || c.Other != 0 {
		t.Fatalf("counts %+v do not add up to %d actions", c, len(actions))
	}
	first := countActions([]plan.Action{{Op: plan.OpStart}})
	if first.Restart != 0 || first.Start != 1 {
		t.Errorf("a first start counted as a restart: %+v", first)
	}
	// The numbers printed before the upload, in the plan and in the summary.
	numbers := func(s string) int {
		n := 0
		for _, m := range regexp.MustCompile(`(\d+) [a-z]`).FindAllStringSubmatch(s, -1) {
			var k int
			for _, d := range m[1] {
				k = k*10 + int(d-'0')
			}
			n += k
		}
		return n
	}
	if got := numbers(c.phrase(true)); got != len(actions) {
		t.Errorf("summary %q adds up to %d, want %d", c.phrase(true), got, len(actions))
	}
	if got := numbers(strings.SplitN(c.changes(), "(", 2)[1]); got != len(actions) || !strings.HasPrefix(c.changes(), "55 changes (") {
		t.Errorf("upload line %q", c.changes())
	}

	// uninstall --dry-run: the table's columns add up to the lines above it.
	rep := &Report{Hosts: []*HostResult{{Host: "h1", Address: "10.0.0.1", OK: true, Actions: actions}}}
	var b bytes.Buffer
	rep.WriteRemoval(&b, true)
	lines := strings.Count(b.String(), "\n  ")
	row := regexp.MustCompile(`(?m)^h1\s+ok\s+(\d+)\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(b.String())
	if row == nil {
		t.Fatalf("no row for h1:\n%s", b.String())
	}
	if got := numbers(row[1] + " x " + row[2] + " x " + row[3] + " x"); got != lines {
		t.Errorf("the table counts %d, above it are %d lines:\n%s", got, lines, b.String())
	}
}

// TIME was the run's time on every host. Each host now has its own: from
// its first phase to its last.
func TestFinding6_TimeIsEachHostsOwn(t *testing.T) {
	r := testRun("slow", "fast")
	r.Opts.Concurrency = 1
	var mu sync.Mutex
	clock := time.Unix(0, 0)
	r.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	step := phaseFunc(func(ctx context.Context, h *HostRun) error {
		if h.Host.Name == "fast" {
			return errors.New("unreachable")
		}
		mu.Lock()
		clock = clock.Add(10 * time.Second)
		mu.Unlock()
		return nil
	})
	r.runPhases(context.Background(), []Phase{step, step, step})
	r.finish()
	slow, fast := r.Hosts[0].Result.Seconds, r.Hosts[1].Result.Seconds
	// The fake clock ticks a second at every read, from either host, and the
	// hosts run side by side: the slow host's span holds its own four reads'
	// worth (33s) plus up to both of the fast host's reads; the fast one's
	// holds its own tick plus at most one slow phase it overlapped.
	if fast < 1 || fast > 12 {
		t.Errorf("the host that failed at once took %vs, want 1s (12s if a slow phase ran meanwhile)", fast)
	}
	if slow < 33 || slow > 35 {
		t.Errorf("the host with three 10s phases took %vs, want 33s to 35s", slow)
	}
}

// --json: every key snake_case (counts had "Create"), a top-level
// changes_pending, each action's diff.
func TestFinding6_JSONOneKeyStyle(t *testing.T) {
	r := testRun("h1")
	r.Hosts[0].Plan = &plan.Host{Actions: []plan.Action{{Op: plan.OpChange, Kind: "file", Target: "/etc/obsbox/x", Diff: "-a\n+b\n"}}}
	r.finish()
	js, err := json.Marshal(r.report())
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal(js, &v)
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("key %q is not snake_case in %s", k, js)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	top := v.(map[string]any)
	if top["changes_pending"] != true {
		t.Errorf("changes_pending: %v", top["changes_pending"])
	}
	if !strings.Contains(string(js), `"diff":"-a\n+b\n"`) {
		t.Errorf("the diff is not carried: %s", js)
	}
	if c := top["hosts"].([]any)[0].(map[string]any)["counts"].(map[string]any); c["change"] != 1.0 || c["total"] != 1.0 {
		t.Errorf("counts: %v", c)
	}
}

const grafanaInventory = `
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "grafana"]
}
host "mon-2" {
  address = "10.0.0.6"
  roles   = ["grafana"]
}
`

func loadInv(t *testing.T, dir, src string) *inventory.Inventory {
	t.Helper()
	inv, diags := inventory.LoadSource(filepath.Join(dir, "obsbox.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags.Error())
	}
	return inv
}

// Grafana's secrets were read in the generic run, for every command; now
// the context builder reads them when a Grafana spec needs them, once.
func TestFinding6_GrafanaSecretsWhereGrafanaNeedsThem(t *testing.T) {
	dir := t.TempDir()
	inv := loadInv(t, dir, grafanaInventory)
	if _, err := newRun(Options{Inventory: inv}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{inventory.GrafanaPasswordFile, inventory.GrafanaSecretKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("starting a run made %s: the generic run resolves Grafana's secrets", f)
		}
	}
	r, _ := newRun(Options{Inventory: inv})
	var wg sync.WaitGroup
	for _, h := range inv.Hosts {
		for _, c := range []string{"node_exporter", "prometheus", "grafana"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cc, err := r.contexts.context(c, h, inv.Versions[c], nil)
				if err != nil {
					t.Error(err)
					return
				}
				if (c == "grafana") != cc.GrafanaAdminPassword.IsSet() || (c == "grafana") != cc.GrafanaSecretKey.IsSet() {
					t.Errorf("%s on %s: secrets set %v", c, h.Name, cc.GrafanaAdminPassword.IsSet())
				}
			}()
		}
	}
	wg.Wait()
	if r.contexts.reads != 1 {
		t.Errorf("the secrets were resolved %d times in one run, want once", r.contexts.reads)
	}
	if _, err := os.Stat(filepath.Join(dir, inventory.GrafanaPasswordFile)); err != nil {
		t.Errorf("the Grafana spec did not get its password: %v", err)
	}
}

const amFleet = `
host "a1" {
  address = "10.0.0.1"
  roles   = ["prometheus", "alertmanager"]
}
host "a2" {
  address = "10.0.0.2"
  roles   = ["alertmanager"]
}
host "g1" {
  address = "10.0.0.3"
  roles   = ["grafana"]
}
host "n1" { address = "10.0.0.4" }
`

// add-host and remove-host ran only the Prometheus hosts beside the host
// itself, although Alertmanager peers (and Grafana's datasources) depend on
// the host set. The affected hosts are now computed by rendering.
func TestFinding6_AffectedHostsAreComputed(t *testing.T) {
	dir := t.TempDir()
	before := loadInv(t, dir, amFleet)
	tests := []struct {
		name string
		next string
		want []string
	}{
		{"unchanged", amFleet, nil},
		{"a node joins: only targets change, which every run covers", amFleet + `host "n2" { address = "10.0.0.9" }` + "\n", nil},
		{"a third alertmanager joins: its peers and Prometheus.s alerting change, Grafana does not", amFleet + "host \"a3\" {\n  address = \"10.0.0.8\"\n  roles   = [\"alertmanager\"]\n}\n", []string{"a1", "a2"}},
		{"an alertmanager leaves", strings.Replace(amFleet, "host \"a2\" {\n  address = \"10.0.0.2\"\n  roles   = [\"alertmanager\"]\n}\n", "", 1), []string{"a1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HostsAffected(before, loadInv(t, dir, tc.next))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("affected %v, want %v", got, tc.want)
			}
		})
	}
	for _, f := range []string{inventory.GrafanaPasswordFile, inventory.GrafanaSecretKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("working out the affected hosts made %s", f)
		}
	}
}
