package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/obsbox/obsbox/installer"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// confirmInput is where uninstall asks for confirmation; tests replace it.
var confirmInput = struct {
	r          io.Reader
	isTerminal func() bool
}{os.Stdin, func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }}

func newUninstallCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	var u installer.UninstallOptions
	var yes bool
	cmd := &cobra.Command{
		Use:   "uninstall [--hosts a,b] [--keep-data] [--yes] [--dry-run]",
		Short: "Remove everything obsbox put on the hosts, as its record lists it; asks first unless --yes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			hosts, err := uninstallHosts(inv, f.hosts)
			if err != nil {
				return usageError(err)
			}
			if !u.DryRun && !yes {
				if err := confirmUninstall(g, hosts, u.KeepData); err != nil {
					return err
				}
			}
			ctx, cancel := signalContext()
			defer cancel()
			opts := g.runOptions(inv, &f)
			opts.Store = nil // nothing is uploaded
			rep, err := installer.Uninstall(ctx, opts, u)
			if err != nil {
				return usageError(err)
			}
			if g.json {
				if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteRemoval(g.stdout, u.DryRun)
			}
			if len(f.hosts) > 0 {
				warnStillInInventory(g.stderr, inv, hosts, u.DryRun)
			}
			if ctx.Err() != nil {
				return interruptedError(rep)
			}
			return hostFailures(rep)
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringSliceVar(&f.hosts, "hosts", nil, "only these hosts (comma-separated)")
	cmd.Flags().BoolVar(&u.KeepData, "keep-data", false, "keep /var/lib/obsbox/<component>/ (with a note); a later apply takes it over")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&u.DryRun, "dry-run", false, "list what would be removed; change nothing")
	return cmd
}

// uninstallHosts returns the hosts uninstall works on: those named, or all.
func uninstallHosts(inv *inventory.Inventory, names []string) ([]*inventory.Host, error) {
	if len(names) == 0 {
		return inv.Hosts, nil
	}
	var out []*inventory.Host
	for _, n := range names {
		h := inv.Host(n)
		if h == nil {
			return nil, fmt.Errorf("--hosts names %q, which is not in %s", n, inv.Path)
		}
		out = append(out, h)
	}
	return out, nil
}

// warnStillInInventory says that hosts uninstalled by --hosts stay in the
// inventory: Prometheus keeps them as targets (HostDown pages follow) and the
// next apply installs them again. remove-host is the command that drops them.
func warnStillInInventory(w io.Writer, inv *inventory.Inventory, hosts []*inventory.Host, dryRun bool) {
	gone := map[string]bool{}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		gone[h.Name], names[i] = true, h.Name
	}
	var scrapers []string
	for _, p := range inv.HostsWithRole(catalog.Prometheus) {
		if !gone[p.Name] {
			scrapers = append(scrapers, p.Name)
		}
	}
	verb, them := "stays", "it"
	if len(hosts) > 1 {
		verb, them = "stay", "them"
	}
	if dryRun {
		verb = "would " + strings.TrimSuffix(verb, "s")
	}
	fmt.Fprintf(w, "warning: %s %s in %s", strings.Join(names, ", "), verb, inv.Path)
	if len(scrapers) > 0 {
		fmt.Fprintf(w, " and among the targets of Prometheus (on %s), so HostDown alerts will page for %s", strings.Join(scrapers, ", "), them)
	}
	fmt.Fprintf(w, "; the next apply installs %s again. To take a host out of the inventory and its targets:\n", them)
	for _, n := range names {
		fmt.Fprintf(w, "  obsbox remove-host %s\n", n)
	}
}

// confirmUninstall lists the hosts and the fate of their data and asks on
// the terminal. Without a terminal nobody can answer: it refuses (exit 2)
// before any host is contacted.
func confirmUninstall(g *globalOptions, hosts []*inventory.Host, keepData bool) error {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	data := "their data in /var/lib/obsbox is DELETED"
	if keepData {
		data = "their data in /var/lib/obsbox/<component>/ is kept"
	}
	if !confirmInput.isTerminal() {
		return usageError(fmt.Errorf("uninstall would remove obsbox from %s (%s) and needs confirmation, but stdin is not a terminal: pass --yes",
			strings.Join(names, ", "), data))
	}
	w := g.stderr
	fmt.Fprintf(w, "obsbox uninstall removes what obsbox created (units, binaries, configuration, users, groups) from:\n")
	for _, h := range hosts {
		fmt.Fprintf(w, "  %s (%s)\n", h.Name, h.Address)
	}
	fmt.Fprintf(w, "and %s.\nContinue? [y/N] ", data)
	answer, err := bufio.NewReader(confirmInput.r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return failure(fmt.Errorf("reading the answer: %w", err))
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return failure(errors.New("uninstall cancelled: nothing changed"))
}
