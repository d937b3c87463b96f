package installer

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/obsbox/obsbox/installer/plan"
)

var opSymbol = map[plan.Op]string{
	plan.OpCreate: "+", plan.OpChange: "~", plan.OpRemove: "-", plan.OpStop: "-",
	plan.OpEnable: "+", plan.OpStart: ">", plan.OpRestart: "↻", plan.OpReload: "↺",
}

// WritePlan prints, per host, what apply would do, with diffs.
func (rep *Report) WritePlan(w io.Writer) {
	for _, h := range rep.Hosts {
		fmt.Fprintf(w, "%s (%s)\n", h.Host, h.Address)
		if !h.OK {
			fmt.Fprintf(w, "  ! %s failed: %s\n\n", h.Phase, indent(h.Error, "    "))
			continue
		}
		if len(h.Actions) == 0 {
			writeNotes(w, h.Notes)
			fmt.Fprintf(w, "  No changes.\n\n")
			continue
		}
		for _, a := range h.Actions {
			line := fmt.Sprintf("  %s %-7s %-8s %s", opSymbol[a.Op], a.Op, a.Kind, a.Target)
			if a.Detail != "" {
				line += "  (" + a.Detail + ")"
			}
			if a.Upload > 0 {
				line += fmt.Sprintf("  [upload %s]", humanBytes(a.Upload))
			}
			fmt.Fprintln(w, line)
			if a.Diff != "" {
				fmt.Fprintln(w, "      "+indent(strings.TrimRight(a.Diff, "\n"), "      "))
			}
		}
		writeNotes(w, h.Notes)
		fmt.Fprintf(w, "  %s: %s.\n\n", h.Host, countActions(h.Actions).changes())
	}
	if rep.Topology != nil {
		rep.Topology.Write(w)
		fmt.Fprintln(w)
	}
	if !rep.Changes() && len(rep.Failed()) == 0 {
		fmt.Fprintln(w, "No changes.")
	}
}

// writeNotes prints what a host's actions do not say; warnings stand out.
func writeNotes(w io.Writer, notes []plan.Note) {
	for _, n := range notes {
		mark := "note"
		if n.Level == plan.NoteWarning {
			mark = "! WARNING"
		}
		fmt.Fprintf(w, "  %s: %s\n", mark, n.Text)
	}
}

// WriteSummary prints the closing table of an apply. CHANGES counts what
// was done on each host, not what was planned.
func (rep *Report) WriteSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tRESULT\tCHANGES\tUPLOADED\tTIME")
	for _, h := range rep.Hosts {
		result := "ok"
		switch {
		case h.Interrupted:
			result = "stopped"
		case !h.OK:
			result = "FAILED"
		}
		changes := countActions(h.Actions).phrase(true)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1fs\n", h.Host, result, changes, humanBytes(h.Uploaded), h.Seconds)
	}
	tw.Flush()
	for _, h := range rep.Hosts {
		if h.Note != "" {
			fmt.Fprintf(w, "\n%s: %s\n", h.Host, h.Note)
		}
	}
	for _, h := range rep.Interrupted() {
		if h.Note == "" {
			fmt.Fprintf(w, "\n%s: %s; the next apply finishes what is left\n", h.Host, h.Error)
		}
	}
	for _, h := range rep.Failed() {
		fmt.Fprintf(w, "\n%s failed during %s: %s\n", h.Host, h.Phase, h.Error)
	}
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
