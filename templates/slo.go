package templates

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/obsbox/obsbox/installer/duration"
)

// PromSLORulesFile holds the SLOs' recording and alert rules, beside the
// built-in rules; Prometheus reads it only when the inventory has an slo block.
const PromSLORulesFile = "rules/obsbox-slos.yml"

// SLOAlert is the name of every SLO's burn-rate alert.
const SLOAlert = "ErrorBudgetBurn"

// SLOWindows are the ranges each SLO's error ratio is recorded over: the
// burn-rate alerts' long and short windows.
var SLOWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// The recorded series; every one carries slo="<name>" and the SLO's labels.
const (
	// SLOErrorRatioPrefix + a window of SLOWindows: the share of bad events over that range.
	SLOErrorRatioPrefix = "slo:sli_error:ratio_rate"
	// SLOErrorRatioWindow is the share of bad events over the SLO's own window.
	SLOErrorRatioWindow = "slo:sli_error:ratio_window"
	SLOObjective        = "slo:objective:ratio"              // the objective, 0.999 for 99.9
	SLOErrorBudget      = "slo:error_budget:ratio"           // 1 - objective
	SLOBudgetRemaining  = "slo:error_budget_remaining:ratio" // 1 - error ratio over the window / budget; below 0 when overspent
)

// SLOBurn is one multi-window burn-rate alert: it fires when the error
// budget burns Factor times faster than the rate that spends it exactly over
// the SLO's window, over both Long and Short. Long catches a sustained burn,
// Short makes the alert stop soon after the burn does.
type SLOBurn struct {
	Severity    string
	Factor      float64
	Long, Short string
	For         string
}

// SLOBurns are the SRE workbook's pairs ("Alerting on SLOs"). Each For is
// half the short window: long enough that a single bad evaluation does not
// notify, short against the budget the pair guards (14.4× for 2m spends
// 0.07% of a 30d budget).
var SLOBurns = []SLOBurn{
	{Severity: "page", Factor: 14.4, Long: "1h", Short: "5m", For: "2m"},
	{Severity: "page", Factor: 6, Long: "6h", Short: "30m", For: "15m"},
	{Severity: "ticket", Factor: 3, Long: "1d", Short: "2h", For: "1h"},
	{Severity: "ticket", Factor: 1, Long: "3d", Short: "6h", For: "3h"},
}

// SLO is one service level objective to render rules for.
type SLO struct {
	Name      string
	Objective float64 // percent, in (0, 100)
	Window    string  // a Prometheus duration
	// The SLI: Probe names a probe (every probe_success sample of its targets
	// is an event), or Errors and Total are PromQL with $window as the range.
	Probe         string
	Errors, Total string
	Labels        map[string]string
}

// SLOSettings are the SLOs of an inventory.
type SLOSettings struct {
	SLOs           []SLO
	RunbookBaseURL string // "" = DefaultRunbookBaseURL
	// EvaluationInterval is Prometheus's; under a minute, the ratios over a
	// day and more are evaluated every minute only (they move slowly, and a
	// 30d range read every 15s is the costliest query of the stack).
	EvaluationInterval string
}

// sloLongEvery is how often the ratios over 1d and more are evaluated at most.
const sloLongEvery = time.Minute

type sloFile struct {
	Groups []sloGroup `yaml:"groups"`
}

type sloGroup struct {
	Name     yStr      `yaml:"name"`
	Interval yStr      `yaml:"interval,omitempty"`
	Rules    []sloRule `yaml:"rules"`
}

type sloRule struct {
	Record      yStr            `yaml:"record,omitempty"`
	Alert       yStr            `yaml:"alert,omitempty"`
	Expr        yText           `yaml:"expr"`
	For         yStr            `yaml:"for,omitempty"`
	Labels      map[string]yStr `yaml:"labels,omitempty"`
	Annotations *sloAnnotations `yaml:"annotations,omitempty"`
}

type sloAnnotations struct {
	Summary     yStr `yaml:"summary"`
	Description yStr `yaml:"description"`
	RunbookURL  yStr `yaml:"runbook_url"`
}

var sloNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// RenderSLORules renders PromSLORulesFile: per SLO a group of recording
// rules and alerts (and one of the slow ratios). s comes from a validated
// inventory; what is checked here is what the rules rely on.
func RenderSLORules(s SLOSettings) ([]byte, error) {
	base := s.RunbookBaseURL
	if base == "" {
		base = DefaultRunbookBaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	longInterval := ""
	if s.EvaluationInterval != "" {
		d, err := duration.Positive(s.EvaluationInterval)
		if err != nil {
			return nil, fmt.Errorf("slo rules: evaluation interval: %w", err)
		}
		if d < sloLongEvery {
			longInterval = "1m"
		}
	}
	doc := sloFile{Groups: []sloGroup{}}
	for _, slo := range s.SLOs {
		groups, err := sloGroups(slo, base, longInterval)
		if err != nil {
			return nil, fmt.Errorf("slo %q: %w", slo.Name, err)
		}
		doc.Groups = append(doc.Groups, groups...)
	}
	b, err := yMarshal(yamlHeader, doc)
	if err != nil {
		return nil, fmt.Errorf("slo rules: %w", err)
	}
	return b, nil
}

func sloGroups(slo SLO, runbookBase, longInterval string) ([]sloGroup, error) {
	if !sloNameRe.MatchString(slo.Name) {
		return nil, errors.New("the name must be 1 to 63 letters, digits, '_' or '-'")
	}
	if math.IsNaN(slo.Objective) || slo.Objective <= 0 || slo.Objective >= 100 {
		return nil, fmt.Errorf("objective %v: must be above 0 and below 100", slo.Objective)
	}
	window, err := duration.Positive(slo.Window)
	if err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	if ratioSLI := slo.Errors != "" && slo.Total != ""; (slo.Probe != "") == ratioSLI || (!ratioSLI && (slo.Errors != "" || slo.Total != "")) {
		return nil, errors.New("the SLI is a probe, or errors and total")
	}
	objective, budget := sloDecimals(slo.Objective)

	labels := map[string]yStr{}
	for k, v := range slo.Labels {
		labels[k] = yStr(v)
	}
	labels["slo"] = yStr(slo.Name)
	withLabels := func(extra map[string]string) map[string]yStr {
		out := make(map[string]yStr, len(labels)+len(extra))
		for k, v := range labels {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = yStr(v)
		}
		return out
	}
	sel := `{slo=` + strconv.Quote(slo.Name) + `}`

	ratio := func(w string) string {
		if slo.Probe != "" {
			// Failed probes over all probes of every target in the range:
			// one ratio of two sums, never an average of shorter ratios.
			ps := `probe_success{probe=` + strconv.Quote(slo.Probe) + `}[` + w + `]`
			return "1 - (\n  sum(sum_over_time(" + ps + "))\n/\n  sum(count_over_time(" + ps + "))\n)"
		}
		// No error series at all (no 5xx yet) is 0 errors, not no ratio.
		e := strings.ReplaceAll(slo.Errors, "$window", w)
		t := strings.ReplaceAll(slo.Total, "$window", w)
		return "(\n  sum(" + e + ")\n  or\n  vector(0)\n)\n/\n  sum(" + t + ")"
	}

	var short, long []sloRule
	for _, w := range SLOWindows {
		r := sloRule{Record: yStr(SLOErrorRatioPrefix + w), Expr: yText(ratio(w)), Labels: withLabels(nil)}
		if d, _ := duration.Parse(w); d >= 24*time.Hour {
			long = append(long, r)
		} else {
			short = append(short, r)
		}
	}
	long = append(long,
		sloRule{Record: SLOErrorRatioWindow, Expr: yText(ratio(slo.Window)), Labels: withLabels(map[string]string{"window": slo.Window})},
		sloRule{Record: SLOBudgetRemaining, Expr: yText("1 - " + SLOErrorRatioWindow + sel + " / " + budget), Labels: withLabels(nil)},
	)
	short = append(short,
		sloRule{Record: SLOObjective, Expr: yText("vector(" + objective + ")"), Labels: withLabels(nil)},
		sloRule{Record: SLOErrorBudget, Expr: yText("vector(" + budget + ")"), Labels: withLabels(nil)},
	)

	for _, b := range SLOBurns {
		f := rulesNumber(b.Factor)
		threshold := "(" + f + " * " + budget + ")"
		expr := "(\n  " + SLOErrorRatioPrefix + b.Long + sel + " > " + threshold + "\nand\n  " +
			SLOErrorRatioPrefix + b.Short + sel + " > " + threshold + "\n)"
		pct := strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(100-slo.Objective, 'f', 6, 64), "0"), ".")
		gone := sloHuman(time.Duration(float64(window) / b.Factor))
		short = append(short, sloRule{
			Alert:  SLOAlert,
			Expr:   yText(expr),
			For:    yStr(b.For),
			Labels: withLabels(map[string]string{"severity": b.Severity, "long_window": b.Long, "short_window": b.Short}),
			Annotations: &sloAnnotations{
				Summary: yStr(fmt.Sprintf("SLO %s burns its error budget %s× too fast", slo.Name, f)),
				// No $value: what the alert says must not depend on how a
				// Prometheus line bounds a range (2.x includes its start).
				Description: yStr(fmt.Sprintf("Over the last %s and the last %s, more than %s× the allowed %s%% of events failed: "+
					"at this rate the error budget of the %s window is spent in %s. obsbox slo and the Grafana dashboard SLOs show the burn rates.",
					b.Long, b.Short, f, pct, slo.Window, gone)),
				RunbookURL: yStr(runbookBase + SLOAlert + ".md"),
			},
		})
	}
	g := []sloGroup{{Name: yStr("slo:" + slo.Name), Rules: short}, {Name: yStr("slo:" + slo.Name + ":long"), Interval: yStr(longInterval), Rules: long}}
	return g, nil
}

// sloDecimals writes objective/100 and 1 - objective/100 exactly (99.9 gives
// 0.999 and 0.001, not 0.0010000000000000009).
func sloDecimals(objective float64) (string, string) {
	s := strconv.FormatFloat(objective, 'f', -1, 64)
	digits := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		digits = len(s) - i - 1
	}
	o, _ := new(big.Rat).SetString(s)
	o.Quo(o, big.NewRat(100, 1))
	b := new(big.Rat).Sub(big.NewRat(1, 1), o)
	trim := func(x string) string { return strings.TrimSuffix(strings.TrimRight(x, "0"), ".") }
	return trim(o.FloatString(digits + 2)), trim(b.FloatString(digits + 2))
}

// sloHuman writes d in days or hours, as a responder reads it.
func sloHuman(d time.Duration) string {
	h := d.Hours()
	if h >= 48 {
		return strconv.FormatFloat(math.Round(h/24*10)/10, 'f', -1, 64) + " days"
	}
	return strconv.FormatFloat(math.Round(h*10)/10, 'f', -1, 64) + " hours"
}

//go:embed slo/dashboards
var sloFS embed.FS

// SLODashboards returns the "SLOs" dashboard, file name to JSON: one row per
// SLO (the slo variable) over the series RenderSLORules records.
func SLODashboards() map[string][]byte { return ReadDashboards(sloFS, "slo/dashboards") }
