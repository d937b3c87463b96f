package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
)

// StatusRow is one component on one host.
type StatusRow struct {
	Host      string `json:"host"`
	Component string `json:"component"`
	Version   string `json:"version"`
	Unit      string `json:"unit_state"`        // active, inactive, failed, … or "missing"
	Health    string `json:"health"`            // ok, or what is wrong
	Scraped   string `json:"scraped,omitempty"` // node_exporter only: up, down, or unknown
	Problem   bool   `json:"problem"`
	Error     string `json:"error,omitempty"` // the host could not be read
}

// StatusReport is what `obsbox status` prints.
type StatusReport struct {
	Rows []StatusRow `json:"rows"`
}

// Unhealthy reports whether any row shows a problem.
func (s *StatusReport) Unhealthy() bool {
	for _, r := range s.Rows {
		if r.Problem {
			return true
		}
	}
	return false
}

// statusPhase asks each component the host should run how it is.
type statusPhase struct {
	mu   *sync.Mutex
	rows *[]StatusRow
}

func (statusPhase) Title() string { return "status" }

func (p statusPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	inv := r.Opts.Inventory
	var rows []StatusRow
	for _, c := range component.All() {
		name := c.Name()
		_, recorded := h.State.Record.Components[name]
		if !c.Runs(inv, h.Host) && !recorded {
			continue
		}
		row := StatusRow{Host: h.Host.Name, Component: name, Version: "-"}
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
			port, path := c.Port(inv), catalog.Get(name).Health.Path
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			msg := probeOnce(ctx, h.httpClient(), fmt.Sprintf("http://127.0.0.1:%d%s", port, path), "")
			cancel()
			row.Health = "ok"
			if msg != "" {
				row.Health = msg
			}
		} else {
			row.Health = "not running"
		}
		if !c.Runs(inv, h.Host) {
			row.Health += " (not in the inventory)"
		}
		if inv.Versions[name] != row.Version && c.Runs(inv, h.Host) {
			row.Health += fmt.Sprintf(" (inventory wants %s)", inv.Versions[name])
		}
		row.Problem = row.Unit != "active" || !strings.HasPrefix(row.Health, "ok")
		rows = append(rows, row)
	}
	p.mu.Lock()
	*p.rows = append(*p.rows, rows...)
	p.mu.Unlock()
	return nil
}

// Status reads every host and asks Prometheus whether it scrapes each node.
func Status(ctx context.Context, opts Options) (*StatusReport, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var rows []StatusRow
	r.runPhases(ctx, []Phase{connectPhase{}, probePhase{}, statusPhase{mu: &mu, rows: &rows}, scrapePhase{mu: &mu, rows: &rows}})
	r.finish()
	for _, h := range r.Hosts {
		if h.Result.err != nil {
			rows = append(rows, StatusRow{Host: h.Host.Name, Component: "-", Version: "-", Unit: "unknown", Health: "unreachable", Problem: true, Error: h.Result.Error})
		}
	}
	order := map[string]int{}
	for i, h := range opts.Inventory.Hosts {
		order[h.Name] = i
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Host != rows[j].Host {
			return order[rows[i].Host] < order[rows[j].Host]
		}
		return catalog.Index(rows[i].Component) < catalog.Index(rows[j].Component)
	})
	return &StatusReport{Rows: rows}, nil
}

// scrapePhase runs on the first Prometheus host and fills in, for every
// node_exporter row, the health of Prometheus's last scrape of it.
type scrapePhase struct {
	mu   *sync.Mutex
	rows *[]StatusRow
}

func (scrapePhase) Title() string { return "scrape status" }

func (p scrapePhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	proms := r.Opts.Inventory.HostsWithRole(catalog.Prometheus)
	if len(proms) == 0 || proms[0].Name != h.Host.Name {
		return nil
	}
	health, err := scrapeHealth(ctx, h, r.Opts.Inventory.Prometheus.Port)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range *p.rows {
		row := &(*p.rows)[i]
		if row.Component != catalog.NodeExporter {
			continue
		}
		switch {
		case err != nil:
			row.Scraped = "unknown"
		case health[row.Host] == "":
			row.Scraped = "no target"
			row.Problem = true
		default:
			row.Scraped = health[row.Host]
			if row.Scraped != "up" {
				row.Problem = true
			}
		}
	}
	return nil
}

// scrapeHealth asks Prometheus for its node job's targets: instance -> health.
func scrapeHealth(ctx context.Context, h *HostRun, port int) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/v1/targets?state=active", port), nil)
	resp, err := h.httpClient().Do(req)
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

// WriteTable prints the report in at most 100 columns.
func (s *StatusReport) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCOMPONENT\tVERSION\tUNIT\tHEALTH\tSCRAPED")
	for _, r := range s.Rows {
		scraped := r.Scraped
		if scraped == "" {
			scraped = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", trunc(r.Host, 20), r.Component, trunc(r.Version, 12), r.Unit, trunc(r.Health, 30), scraped)
	}
	tw.Flush()
	for _, r := range s.Rows {
		if r.Error != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.Host, r.Error)
		}
	}
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
