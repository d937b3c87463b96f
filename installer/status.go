package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
)

// StatusRow is one component on one host. In JSON what is not known (no
// version installed, no scrape for a component Prometheus does not scrape)
// is null.
type StatusRow struct {
	Host      string `json:"host"`
	Component string `json:"component"`  // "" (null) for a host with no component
	Version   string `json:"version"`    // "" (null) when none is installed
	Unit      string `json:"unit_state"` // active, inactive, failed, … "missing", or "unknown" (host unreachable)
	Health    string `json:"health"`     // ok, or what is wrong
	Scraped   string `json:"scraped"`    // node_exporter only: up, down, pending, no target, unknown; else "" (null)
	Problem   bool   `json:"problem"`
	Error     string `json:"error,omitempty"` // the host could not be read
}

// MarshalJSON writes what is not known as null rather than "" or "-".
func (r StatusRow) MarshalJSON() ([]byte, error) {
	null := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return json.Marshal(struct {
		Host      string  `json:"host"`
		Component *string `json:"component"`
		Version   *string `json:"version"`
		Unit      string  `json:"unit_state"`
		Health    string  `json:"health"`
		Scraped   *string `json:"scraped"`
		Problem   bool    `json:"problem"`
		Error     string  `json:"error,omitempty"`
	}{r.Host, null(r.Component), null(r.Version), r.Unit, r.Health, null(r.Scraped), r.Problem, r.Error})
}

// StatusReport is what `obsbox status` prints.
type StatusReport struct {
	Rows []StatusRow `json:"rows"`
	// Topology: the replicas, the cluster (with what each member sees),
	// where samples go; absent when there is one of each and no remote_write.
	Topology *Topology `json:"topology,omitempty"`
}

// Unhealthy reports whether any row shows a problem.
func (s *StatusReport) Unhealthy() bool { return len(s.Problems()) > 0 }

// Problems names each unhealthy component and what is wrong with it:
// "h2 node_exporter: unit inactive, not running, scraped down".
func (s *StatusReport) Problems() []string {
	var out []string
	for _, r := range s.Rows {
		if !r.Problem {
			continue
		}
		what := r.Host
		if r.Component != "" {
			what += " " + r.Component
		}
		var why []string
		if r.Unit != "active" {
			why = append(why, "unit "+r.Unit)
		}
		if r.Health != "ok" {
			why = append(why, r.Health)
		}
		if r.Scraped != "" && r.Scraped != "up" && r.Scraped != "pending" {
			why = append(why, "scraped "+r.Scraped)
		}
		out = append(out, what+": "+strings.Join(why, ", "))
	}
	return out
}

// statusPhase asks each component the host should run how it is. Its rows
// stay on the host's HostRun until the report is put together.
type statusPhase struct{}

func (statusPhase) Title() string { return "status" }

func (statusPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if !r.selected(h) {
		return nil // here only for its Prometheus's view of the targets
	}
	inv := r.Opts.Inventory
	for _, c := range component.All() {
		name := c.Name()
		_, recorded := h.State.Record.Components[name]
		if !c.Runs(inv, h.Host) && !recorded {
			continue
		}
		row := StatusRow{Host: h.Host.Name, Component: name}
		if l := h.State.Path(catalog.CurrentLink(name)); l.Target != "" {
			row.Version = l.Target
		}
		u, ok := h.State.Units[catalog.UnitName(name)]
		switch {
		case !ok || u.LoadState != "loaded":
			row.Unit = "missing"
		default:
			row.Unit = u.ActiveState
		}
		if row.Unit == "active" {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			client, base := h.endpoint(r, c.Port(inv))
			msg := probeOnce(ctx, client, base+catalog.Get(name).Health.Path)
			client.CloseIdleConnections()
			cancel()
			row.Health = "ok"
			if msg != "" {
				row.Health = msg
			}
		} else {
			row.Health = "not running"
		}
		if clustered := len(inv.HostsWithRole(catalog.Alertmanager)); name == catalog.Alertmanager && clustered > 1 && row.Health == "ok" {
			row.Health = r.clusterHealth(ctx, h, c, clustered)
		}
		if !c.Runs(inv, h.Host) {
			row.Health += " (not in the inventory)"
		}
		if inv.Versions[name] != row.Version && c.Runs(inv, h.Host) {
			row.Health += fmt.Sprintf(" (inventory wants %s)", inv.Versions[name])
		}
		row.Problem = row.Unit != "active" || !strings.HasPrefix(row.Health, "ok")
		h.status = append(h.status, row)
	}
	return nil
}

// clusterHealth is a running member's health as its cluster view says: ok
// when it sees every Alertmanager host of the inventory.
func (r *Run) clusterHealth(ctx context.Context, h *HostRun, c component.Component, size int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, base := h.endpoint(r, c.Port(r.Opts.Inventory))
	defer client.CloseIdleConnections()
	n, err := clusterMembers(ctx, client, base+"/metrics")
	if err != nil {
		return "cluster unknown: " + err.Error()
	}
	h.members = &n
	if n != size {
		return fmt.Sprintf("sees %d of %d cluster members", n, size)
	}
	return "ok"
}

// selected reports whether --hosts named h (or named none).
func (r *Run) selected(h *HostRun) bool {
	return len(r.Opts.Hosts) == 0 || slices.Contains(r.Opts.Hosts, h.Host.Name)
}

// Status reads every selected host and asks Prometheus whether it scrapes
// each node. Only the hosts --hosts names are shown; the first Prometheus
// host is read anyway, for its targets.
func Status(ctx context.Context, opts Options) (*StatusReport, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	r.runPhases(ctx, []Phase{connectPhase{}, probePhase{}})
	if err := r.resolveSecurity(); err != nil {
		r.finish()
		return nil, err
	}
	r.runPhases(ctx, []Phase{statusPhase{}, scrapePhase{}})
	r.finish()
	return r.statusReport(), nil
}

// statusReport puts the hosts' rows together, in inventory order, with the
// scrape health Prometheus reported for each node_exporter.
func (r *Run) statusReport() *StatusReport {
	inv := r.Opts.Inventory
	var scrape *scrapeResult
	for _, h := range r.Hosts {
		if h.scrape != nil {
			scrape = h.scrape
		}
	}
	rows := []StatusRow{}
	for _, h := range r.Hosts {
		if !r.selected(h) {
			continue
		}
		hostRows := h.status
		if h.Result.err != nil {
			// Unreachable: one row per component it should run, so what
			// Prometheus sees of it (down, for a host powered off) shows.
			hostRows = nil
			for _, c := range component.All() {
				if c.Runs(inv, h.Host) {
					hostRows = append(hostRows, StatusRow{Host: h.Host.Name, Component: c.Name(), Unit: "unknown", Health: "unreachable", Problem: true, Error: h.Result.Error})
				}
			}
			if len(hostRows) == 0 {
				hostRows = []StatusRow{{Host: h.Host.Name, Unit: "unknown", Health: "unreachable", Problem: true, Error: h.Result.Error}}
			}
		}
		for _, row := range hostRows {
			if row.Component == catalog.NodeExporter {
				row.Scraped = scrape.health(h.Host.Name)
				if row.Scraped != "up" && row.Scraped != "pending" {
					row.Problem = true
				}
			}
			rows = append(rows, row)
		}
	}
	topo := topologyOf(inv)
	if topo != nil {
		for i, m := range topo.Alertmanager {
			for _, h := range r.Hosts {
				if h.Host.Name == m.Host && h.Result.err == nil {
					topo.Alertmanager[i].Members = h.members
				}
			}
		}
	}
	return &StatusReport{Rows: rows, Topology: topo}
}

// scrapeResult is what the first Prometheus host said of its node targets.
type scrapeResult struct {
	targets map[string]string // instance -> health
	err     error
}

// health is one node's scrape health as status shows it: up or down as
// Prometheus says, pending when it knows the target but has not scraped it
// yet, no target when it does not know it, unknown when it could not be asked.
func (s *scrapeResult) health(host string) string {
	if s == nil || s.err != nil {
		return "unknown"
	}
	switch h, ok := s.targets[host]; {
	case !ok:
		return "no target"
	case h == "unknown":
		return "pending"
	default:
		return h
	}
}

// scrapePhase runs on the first Prometheus host and keeps on it the health
// of Prometheus's last scrape of every node.
type scrapePhase struct{}

func (scrapePhase) Title() string { return "scrape status" }

func (scrapePhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	proms := r.Opts.Inventory.HostsWithRole(catalog.Prometheus)
	if len(proms) == 0 || proms[0].Name != h.Host.Name {
		return nil
	}
	targets, err := scrapeHealth(ctx, r, h, r.Opts.Inventory.Prometheus.Port)
	h.scrape = &scrapeResult{targets: targets, err: err}
	return nil
}

// scrapeHealth asks Prometheus for its node job's targets: instance -> health.
func scrapeHealth(ctx context.Context, r *Run, h *HostRun, port int) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, base := h.endpoint(r, port)
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/targets?state=active", nil)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				Labels map[string]string `json:"labels"`
				Health string            `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range body.Data.ActiveTargets {
		if t.Labels["job"] == "node" {
			out[t.Labels["instance"]] = t.Health
		}
	}
	return out, nil
}

// WriteTable prints the report; every column but HEALTH is cut to keep a
// healthy fleet within 100 columns. HEALTH is never cut: it says what is wrong.
func (s *StatusReport) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCOMPONENT\tVERSION\tUNIT\tHEALTH\tSCRAPED")
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", trunc(r.Host, 20), dash(r.Component), trunc(dash(r.Version), 12), r.Unit, r.Health, dash(r.Scraped))
	}
	tw.Flush()
	if s.Topology != nil {
		fmt.Fprintln(w)
		s.Topology.Write(w)
	}
	said := map[string]bool{}
	for _, r := range s.Rows {
		if r.Error != "" && !said[r.Host] {
			said[r.Host] = true
			fmt.Fprintf(w, "\n%s: %s\n", r.Host, r.Error)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
