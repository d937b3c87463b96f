package inventory

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/obsbox/obsbox/installer/duration"
)

// SLO is one slo block: Objective percent of the events over Window must be
// good. The SLI is either Probe (every probe_success sample of that probe's
// targets is one event) or Errors over Total, two PromQL expressions in which
// $window stands for the range they are evaluated over.
type SLO struct {
	Name      string
	Objective float64 // percent, in (0, 100)
	Window    string  // a Prometheus duration; default DefaultSLOWindow
	Probe     string  // name of a probe block; "" when Errors and Total are set
	Errors    string
	Total     string
	Labels    map[string]string // added to the SLO's series and alerts

	DeclRange hcl.Range
}

// DefaultSLOWindow is the window an SLO's objective holds over unless it says otherwise.
const DefaultSLOWindow = "30d"

// SLOWindowVar is what the errors and total queries write where the range goes.
const SLOWindowVar = "$window"

// SLOReservedLabels are set by obsbox on every SLO series and alert.
var SLOReservedLabels = []string{"slo", "severity", "long_window", "short_window", "window"}

// minSLOWindow: the slowest burn-rate alert looks back 3d.
const minSLOWindow = 3 * 24 * time.Hour

type rawSLO struct {
	Name      string            `hcl:"name,label"`
	Objective *float64          `hcl:"objective,optional"`
	Window    *string           `hcl:"window,optional"`
	Probe     *string           `hcl:"probe,optional"`
	Errors    *string           `hcl:"errors,optional"`
	Total     *string           `hcl:"total,optional"`
	Labels    map[string]string `hcl:"labels,optional"`

	Body           hcl.Body  `hcl:",body"`
	NameRange      hcl.Range `hcl:"name,label_range"`
	ObjectiveRange hcl.Range `hcl:"objective,attr_value_range"`
	WindowRange    hcl.Range `hcl:"window,attr_value_range"`
	ProbeRange     hcl.Range `hcl:"probe,attr_value_range"`
	ErrorsRange    hcl.Range `hcl:"errors,attr_value_range"`
	TotalRange     hcl.Range `hcl:"total,attr_value_range"`
	LabelsRange    hcl.Range `hcl:"labels,attr_value_range"`
	DefRange       hcl.Range `hcl:",def_range"`
}

func buildSLOs(raw []rawSLO) []SLO {
	var out []SLO
	for _, r := range raw {
		out = append(out, SLO{
			Name:      r.Name,
			Objective: deref(r.Objective, 0),
			Window:    deref(r.Window, DefaultSLOWindow),
			Probe:     deref(r.Probe, ""),
			Errors:    deref(r.Errors, ""),
			Total:     deref(r.Total, ""),
			Labels:    copyMap(r.Labels),
			DeclRange: r.DefRange,
		})
	}
	return out
}

func (v *validator) slos(slos []rawSLO, probes []rawProbe) {
	probeNames := make([]string, 0, len(probes))
	for _, p := range probes {
		probeNames = append(probeNames, p.Name)
	}
	names := map[string]hcl.Range{}
	for i := range slos {
		s := &slos[i]
		what := fmt.Sprintf("slo %q", s.Name)
		if !probeNameRe.MatchString(s.Name) {
			v.errorf(s.NameRange, "Invalid SLO name",
				"slo name %q must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit", s.Name)
		}
		if first, ok := names[s.Name]; ok {
			v.errorf(s.NameRange, "Duplicate SLO name", "slo %q is already defined at %s", s.Name, v.at(first))
		} else {
			names[s.Name] = s.NameRange
		}

		if o := s.Objective; o == nil && !v.failedIn(s.ObjectiveRange) {
			v.errorf(s.DefRange, "Missing objective", "%s: set objective, the percentage of good events over the window, for example 99.9", what)
		} else if o != nil && (math.IsNaN(*o) || *o <= 0 || *o >= 100) {
			v.errorf(s.ObjectiveRange, "Objective out of range",
				"%s: objective is %v; it is the percentage of good events, above 0 and below 100 (for example 99.9)", what, *o)
		}

		if s.Window != nil {
			d, err := duration.Parse(*s.Window)
			switch {
			case err != nil:
				v.errorf(s.WindowRange, "Invalid duration", "%s window: %v", what, err)
			case d < minSLOWindow:
				v.errorf(s.WindowRange, "SLO window too short",
					"%s: window %s is shorter than 3d, the longest burn-rate window the alerts look back over; the default is %s", what, *s.Window, DefaultSLOWindow)
			}
		}

		hasRatio := s.Errors != nil || s.Total != nil
		switch {
		case s.Probe != nil && hasRatio:
			v.errorf(pick(s.ErrorsRange, s.TotalRange), "Two SLIs",
				"%s: the SLI is either probe or errors + total, not both; probe is set at %s", what, v.at(s.ProbeRange))
		case s.Probe == nil && !hasRatio:
			v.errorf(s.DefRange, "No SLI",
				`%s: say what is measured: probe = "<probe name>", or errors and total, two PromQL queries with %s as their range`, what, SLOWindowVar)
		case s.Probe != nil:
			if !v.failedIn(s.ProbeRange) && !slices.Contains(probeNames, *s.Probe) {
				detail := fmt.Sprintf("%s: there is no probe %q.%s", what, *s.Probe, suggest(*s.Probe, probeNames))
				if len(probeNames) == 0 {
					detail += " The inventory defines no probe block"
				} else {
					detail += " Probes: " + quoteList(probeNames)
				}
				v.errorf(s.ProbeRange, "Unknown probe", "%s", detail)
			}
		default:
			if s.Errors == nil {
				v.errorf(s.DefRange, "Missing total or errors", "%s: total is set, errors is not; a ratio SLI needs both", what)
			}
			if s.Total == nil {
				v.errorf(s.DefRange, "Missing total or errors", "%s: errors is set, total is not; a ratio SLI needs both", what)
			}
			v.sloQuery(s.Errors, s.ErrorsRange, what+" errors")
			v.sloQuery(s.Total, s.TotalRange, what+" total")
		}

		v.labels(s.Labels, s.Body, s.LabelsRange, what)
		for _, l := range SLOReservedLabels {
			if _, ok := s.Labels[l]; ok {
				v.errorf(keyRange(s.Body, "labels", l, s.LabelsRange), "Reserved label name",
					"%s: %q is reserved: obsbox sets it on the SLO's series and alerts", what, l)
			}
		}
	}
}

// sloQuery checks what can be seen of a PromQL query without a parser: that
// it uses $window and its brackets and quotes close. promtool checks the
// rendered rules on the host before Prometheus reads them.
func (v *validator) sloQuery(q *string, rng hcl.Range, what string) {
	if q == nil || v.failedIn(rng) {
		return
	}
	switch {
	case strings.TrimSpace(*q) == "":
		v.errorf(rng, "Empty query", "%s is empty", what)
	case !strings.Contains(*q, SLOWindowVar):
		v.errorf(rng, "Query without $window",
			"%s must use %s as its range, for example sum(rate(http_requests_total{code=~\"5..\"}[%s])): obsbox evaluates it over each burn-rate window and the SLO's window", what, SLOWindowVar, SLOWindowVar)
	default:
		if p := promqlShapeProblem(*q); p != "" {
			v.errorf(rng, "Invalid query", "%s: %s", what, p)
		}
	}
}

// promqlShapeProblem says why q cannot be PromQL (an unclosed bracket or
// quote, a stray closing one, a line break, which the rule file would carry
// verbatim), or "".
func promqlShapeProblem(q string) string {
	var stack []rune
	closer := map[rune]rune{'(': ')', '[': ']', '{': '}'}
	var quote rune
	escaped := false
	for _, c := range q {
		if quote != 0 {
			switch {
			case escaped:
				escaped = false
			case c == '\\' && quote != '`':
				escaped = true
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			quote = c
		case '(', '[', '{':
			stack = append(stack, closer[c])
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return fmt.Sprintf("%q closes nothing that is open", string(c))
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 {
		return fmt.Sprintf("the string opened with %s is not closed", string(quote))
	}
	if len(stack) > 0 {
		return fmt.Sprintf("%q is missing at the end", string(stack[len(stack)-1]))
	}
	return ""
}
