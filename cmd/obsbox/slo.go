package main

import (
	"encoding/json"

	"github.com/obsbox/obsbox/installer"
	"github.com/spf13/cobra"
)

func newSLOCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "slo",
		Short: "Show every SLO's objective, SLI over its window, error budget left and burn rate now",
		Long: "Show, for every slo block of the inventory, the objective, the SLI over its window, the error budget left,\n" +
			"the burn rate over the last 5m and 1h and the ErrorBudgetBurn alerts firing, as the first Prometheus host\n" +
			"that answers records them (asked through SSH; no port is opened).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			opts := g.runOptions(inv, &f)
			opts.Out = nil
			rep, err := installer.SLOs(ctx, opts)
			if err != nil {
				return failure(err)
			}
			if g.json {
				return json.NewEncoder(g.stdout).Encode(rep)
			}
			rep.WriteTable(g.stdout)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
