package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/obsbox/obsbox/installer"
	"github.com/spf13/cobra"
)

func newStatusCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show, per host and component, version, unit state, health and whether Prometheus scrapes it",
		Long: "Show, per host and component, the version, the systemd unit state, the health endpoint's answer,\n" +
			"and for node_exporter whether Prometheus's last scrape was up. Exits 1 when anything is unhealthy.",
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
			rep, err := installer.Status(ctx, opts)
			if err != nil {
				return usageError(err)
			}
			if g.json {
				if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteTable(g.stdout)
			}
			if problems := rep.Problems(); len(problems) > 0 {
				if g.json {
					return silentExit(1)
				}
				what := "1 component is"
				if len(problems) > 1 {
					what = fmt.Sprintf("%d components are", len(problems))
				}
				return failure(fmt.Errorf("%s not healthy:\n  %s", what, strings.Join(problems, "\n  ")))
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}
