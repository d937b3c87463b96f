package installer

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/obsbox/obsbox/installer/plan"
)

// WriteRemoval prints, per host, what uninstall removed (or, for a dry
// run, would remove) and what it kept, then a table of the hosts.
func (rep *Report) WriteRemoval(w io.Writer, dryRun bool) {
	for _, h := range rep.Hosts {
		fmt.Fprintf(w, "%s (%s)\n", h.Host, h.Address)
		if len(h.Actions) == 0 && h.OK {
			fmt.Fprintf(w, "  Nothing from obsbox here.\n\n")
			continue
		}
		for _, a := range h.Actions {
			sym := opSymbol[a.Op]
			if a.Op == plan.OpKeep || a.Op == plan.OpRestore {
				sym = "="
			}
			line := fmt.Sprintf("  %s %-7s %-8s %s", sym, a.Op, a.Kind, a.Target)
			if a.Detail != "" {
				line += "  (" + a.Detail + ")"
			}
			fmt.Fprintln(w, line)
		}
		if !h.OK {
			fmt.Fprintf(w, "  ! %s failed: %s\n", h.Phase, indent(h.Error, "    "))
		}
		fmt.Fprintln(w)
	}
	verb := "REMOVED"
	if dryRun {
		verb = "TO REMOVE"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	restored := "RESTORED"
	if dryRun {
		restored = "TO RESTORE"
	}
	// The columns add up to the lines listed above: every action is in one.
	fmt.Fprintf(tw, "HOST\tRESULT\t%s\t%s\tKEPT\tTIME\n", verb, restored)
	for _, h := range rep.Hosts {
		result := "ok"
		if !h.OK {
			result = "FAILED"
		}
		c := countActions(h.Actions)
		removed := c.Total - c.Keep - c.Restore
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1fs\n", h.Host, result, removed, c.Restore, c.Keep, h.Seconds)
	}
	tw.Flush()
	for _, h := range rep.Failed() {
		fmt.Fprintf(w, "\n%s failed during %s: %s\n", h.Host, h.Phase, h.Error)
	}
}
