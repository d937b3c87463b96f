package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
)

func newValidateCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the inventory; no host is contacted",
		Long: `Parses and checks the inventory and prints every problem at once, as
file:line:col: severity: message, with the source line. Exits 2 when there is an error.
With --json, prints the problems as a JSON array on stdout (empty when there are none).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.inventory
			var inv *inventory.Inventory
			var diags hcl.Diagnostics
			src, err := os.ReadFile(path)
			if err != nil {
				inv, diags = inventory.Load(path) // says why the file cannot be read
			} else {
				inv, diags = inventory.LoadSource(path, src)
			}

			if g.json {
				b, err := inventory.DiagnosticsJSON(diags)
				if err != nil {
					return failure(err)
				}
				fmt.Fprintf(g.stdout, "%s\n", b)
			} else {
				inventory.WriteDiagnostics(g.stderr, diags, map[string][]byte{path: src})
			}
			errs, warns := countDiags(diags)
			if inv == nil {
				if !g.json {
					fmt.Fprintf(g.stderr, "%s: inventory invalid: %s\n", path, problems(errs, warns))
				}
				return silentExit(2)
			}
			fmt.Fprintf(g.human(), "inventory OK: %s%s\n", hostSummary(inv), warningNote(warns))
			return nil
		},
	}
}

func countDiags(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func problems(errs, warns int) string {
	s := plural(errs, "error")
	if warns > 0 {
		s += ", " + plural(warns, "warning")
	}
	return s
}

func warningNote(warns int) string {
	if warns == 0 {
		return ""
	}
	return " (" + plural(warns, "warning") + ")"
}

// hostSummary is "3 hosts; prometheus on mon-1; alertmanager on mon-1; grafana on mon-1".
func hostSummary(inv *inventory.Inventory) string {
	parts := []string{plural(len(inv.Hosts), "host")}
	for _, role := range catalog.Roles() {
		var names []string
		for _, h := range inv.HostsWithRole(role) {
			names = append(names, h.Name)
		}
		if len(names) > 0 {
			parts = append(parts, role+" on "+strings.Join(names, ", "))
		}
	}
	return strings.Join(parts, "; ")
}
