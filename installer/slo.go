package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/templates"
)

// SLORow is one SLO as its Prometheus sees it now. Percentages are percent
// (99.9), burn rates factors of the rate that spends the budget exactly over
// the window; nil where Prometheus has no value yet (a new SLO, no events).
type SLORow struct {
	SLO         string              `json:"slo"`
	Objective   float64             `json:"objective_percent"`
	Window      string              `json:"window"`
	SLI         *float64            `json:"sli_percent"`               // good events over the window
	BudgetLeft  *float64            `json:"error_budget_left_percent"` // below 0 when overspent
	BurnRateNow *float64            `json:"burn_rate_now"`             // over the last 5m
	BurnRate    map[string]*float64 `json:"burn_rate"`                 // by window: 5m … 3d
	Firing      []string            `json:"firing"`                    // ErrorBudgetBurn alerts firing: severity (long/short window)
}

// SLOReport is every SLO of the inventory, read from one Prometheus host.
type SLOReport struct {
	Prometheus string   `json:"prometheus"` // the host asked
	SLOs       []SLORow `json:"slos"`
}

// sloSeries: everything obsbox slo shows, in one query.
var sloSeries = `{__name__=~"slo:(sli_error:ratio_rate.+|sli_error:ratio_window|error_budget_remaining:ratio)"} or ALERTS{alertname="` +
	templates.SLOAlert + `",alertstate="firing"}`

// SLOs asks the first Prometheus host that answers for the state of every
// SLO of the inventory, through the SSH connection (no port is opened).
func SLOs(ctx context.Context, opts Options) (*SLOReport, error) {
	inv := opts.Inventory
	proms := inv.HostsWithRole(catalog.Prometheus)
	if len(proms) == 0 {
		return nil, errors.New("no host has the prometheus role: nothing records the SLOs")
	}
	if len(inv.SLOs) == 0 {
		return &SLOReport{SLOs: []SLORow{}}, nil
	}
	opts.Hosts = nil
	for _, h := range proms {
		opts.Hosts = append(opts.Hosts, h.Name)
	}
	r, err := newRunOver(opts, false)
	if err != nil {
		return nil, err
	}
	p := &sloPhase{answers: map[string][]promSample{}}
	if err := r.resolveSecurity(); err != nil {
		return nil, err
	}
	r.runPhases(ctx, []Phase{connectPhase{}, p})
	r.finish()

	var why []string
	for _, h := range r.Hosts { // inventory order: the first that answered
		if s, ok := p.answers[h.Host.Name]; ok {
			return sloReport(opts, h.Host.Name, s), nil
		}
		reason := h.Result.Error
		if reason == "" {
			reason = "no answer"
		}
		why = append(why, h.Host.Name+": "+reason)
	}
	return nil, fmt.Errorf("no Prometheus host answered: %s", strings.Join(why, "; "))
}

// sloPhase queries Prometheus on each Prometheus host.
type sloPhase struct {
	mu      sync.Mutex
	answers map[string][]promSample
}

func (*sloPhase) Title() string { return "read SLOs" }

func (p *sloPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := queryPrometheus(ctx, r, h, r.Opts.Inventory.Prometheus.Port, sloSeries)
	if err != nil {
		return fmt.Errorf("query Prometheus: %w", err)
	}
	p.mu.Lock()
	p.answers[h.Host.Name] = s
	p.mu.Unlock()
	return nil
}

// promSample is one series of an instant vector.
type promSample struct {
	Labels map[string]string
	Value  float64 // NaN when Prometheus answered NaN
}

// queryPrometheus runs the instant query q on the Prometheus of host h,
// through h's SSH connection to 127.0.0.1. Every obsbox read of Prometheus
// data on a host goes through here (the one place that knows its scheme
// and credentials).
func queryPrometheus(ctx context.Context, r *Run, h *HostRun, port int, q string) ([]promSample, error) {
	client, base := h.endpoint(r, port)
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("HTTP %s, unreadable answer: %v", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("HTTP %s: %s", resp.Status, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("answer is a %s, not a vector", body.Data.ResultType)
	}
	out := make([]promSample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		if len(r.Value) != 2 {
			continue
		}
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		out = append(out, promSample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// sloReport puts the inventory's SLOs together with what Prometheus said.
func sloReport(opts Options, host string, samples []promSample) *SLOReport {
	rep := &SLOReport{Prometheus: host, SLOs: []SLORow{}}
	for _, o := range opts.Inventory.SLOs {
		budget := 1 - o.Objective/100
		row := SLORow{SLO: o.Name, Objective: o.Objective, Window: o.Window, BurnRate: map[string]*float64{}, Firing: []string{}}
		for _, w := range templates.SLOWindows {
			row.BurnRate[w] = nil
		}
		for _, s := range samples {
			if s.Labels["slo"] != o.Name {
				continue
			}
			name := s.Labels["__name__"]
			switch {
			case name == "ALERTS":
				row.Firing = append(row.Firing, s.Labels["severity"]+" ("+s.Labels["long_window"]+"/"+s.Labels["short_window"]+")")
			case name == templates.SLOErrorRatioWindow:
				row.SLI = finite(100 * (1 - s.Value))
			case name == templates.SLOBudgetRemaining:
				row.BudgetLeft = finite(100 * s.Value)
			case strings.HasPrefix(name, templates.SLOErrorRatioPrefix):
				w := strings.TrimPrefix(name, templates.SLOErrorRatioPrefix)
				if _, ok := row.BurnRate[w]; ok {
					row.BurnRate[w] = finite(s.Value / budget)
				}
			}
		}
		row.BurnRateNow = row.BurnRate["5m"]
		rep.SLOs = append(rep.SLOs, row)
	}
	return rep
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteTable prints one line per SLO; "-" where Prometheus has no value yet.
func (s *SLOReport) WriteTable(w io.Writer) {
	if len(s.SLOs) == 0 {
		fmt.Fprintln(w, "The inventory has no slo block.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLO\tOBJECTIVE\tWINDOW\tSLI\tBUDGET LEFT\tBURN 5m\tBURN 1h\tFIRING")
	for _, r := range s.SLOs {
		firing := strings.Join(r.Firing, ", ")
		fmt.Fprintf(tw, "%s\t%s%%\t%s\t%s\t%s\t%s\t%s\t%s\n", r.SLO, strconv.FormatFloat(r.Objective, 'f', -1, 64), r.Window,
			pct(r.SLI, 3), pct(r.BudgetLeft, 1), factor(r.BurnRateNow), factor(r.BurnRate["1h"]), dash(firing))
	}
	tw.Flush()
	if s.Prometheus != "" {
		fmt.Fprintf(w, "\nread from Prometheus on %s\n", s.Prometheus)
	}
}

func pct(v *float64, decimals int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', decimals, 64) + "%"
}

func factor(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64) + "x"
}
