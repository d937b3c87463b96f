package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/obsbox/obsbox/installer"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
)

func newAddHostCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	var nh inventory.NewHost
	var labels []string
	cmd := &cobra.Command{
		Use:   "add-host NAME --address ADDR [--role R]... [--label k=v]... [--user U]",
		Short: "Append a host block to the inventory (comments kept) and install it; Prometheus picks it up without a restart",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nh.Name = args[0]
			if nh.Address == "" {
				return usageError(errors.New("--address is required"))
			}
			nh.Labels = map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return usageError(fmt.Errorf("--label %q: want key=value", l))
				}
				nh.Labels[k] = v
			}
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			if inv.Host(nh.Name) != nil {
				return usageError(fmt.Errorf("host %q is already in %s", nh.Name, inv.Path))
			}
			src, err := inventory.AddHost(inv.Source, nh)
			if err != nil {
				return usageError(err)
			}
			next, err := reloadEdited(g, inv, src)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			// Reachable, and its host key acceptable, before the inventory changes.
			check := g.runOptions(next, &f)
			check.Hosts = []string{nh.Name}
			check.OnlyConnect = true
			rep, err := installer.Apply(ctx, check)
			if err != nil {
				return usageError(err)
			}
			if ctx.Err() != nil {
				return interruptedError(nil)
			}
			for _, h := range rep.Hosts {
				if h.Host == nh.Name && !h.OK {
					return failure(fmt.Errorf("%s (%s) cannot be added: %s; the inventory is unchanged", nh.Name, nh.Address, h.Error))
				}
			}
			if err := writeInventory(inv.Path, src); err != nil {
				return failure(err)
			}
			fmt.Fprintf(g.human(), "Added host %q to %s.\n", nh.Name, inv.Path)
			opts := g.runOptions(next, &f)
			// The new host, and every host whose files depend on the host
			// set (Alertmanager peers, say); the Prometheus hosts come for
			// the targets anyway.
			affected, err := installer.HostsAffected(inv, next)
			if err != nil {
				return failure(err)
			}
			opts.Hosts = append([]string{nh.Name}, affected...)
			return runApply(g, next, opts)
		},
	}
	cmd.Flags().StringVar(&nh.Address, "address", "", "the host's address (IP or DNS name)")
	cmd.Flags().StringSliceVar(&nh.Roles, "role", nil, "a role: prometheus, alertmanager or grafana (repeatable)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "a label key=value for the host's series (repeatable)")
	cmd.Flags().StringVar(&nh.User, "user", "", "ssh user for this host (default: the inventory's)")
	f.register(cmd, false)
	return cmd
}

// reloadEdited validates an edited inventory before it is written.
func reloadEdited(g *globalOptions, inv *inventory.Inventory, src []byte) (*inventory.Inventory, error) {
	next, diags := inventory.LoadSource(inv.Path, src)
	if diags.HasErrors() {
		inventory.WriteDiagnostics(g.stderr, diags, map[string][]byte{inv.Path: src})
		return nil, usageError(errors.New("the edited inventory would not be valid; it was not written"))
	}
	return next, nil
}

// writeInventory replaces the inventory atomically, keeping its mode.
func writeInventory(path string, src []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".obsbox-inventory-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(src); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newRemoveHostCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	var keepData, yes, force bool
	cmd := &cobra.Command{
		Use:   "remove-host NAME [--keep-data] [--yes] [--force]",
		Short: "Uninstall obsbox from a host, drop its block from the inventory and its scrape targets",
		Long: "Uninstalls obsbox from the host (as uninstall does), removes its block from the inventory\n" +
			"(the rest of the file unchanged) and its targets from Prometheus without a restart.\n" +
			"With --force a host that cannot be reached is dropped from the inventory and the targets\n" +
			"anyway; its files then stay on it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			host := inv.Host(name)
			if host == nil {
				return usageError(fmt.Errorf("host %q is not in %s", name, inv.Path))
			}
			src, err := inventory.RemoveHost(inv.Source, name)
			if err != nil {
				return usageError(err)
			}
			// The inventory must stay valid without the host (say, its only Prometheus).
			next, err := reloadEdited(g, inv, src)
			if err != nil {
				return err
			}
			if !yes {
				if err := confirmUninstall(g, []*inventory.Host{host}, keepData); err != nil {
					return err
				}
			}
			ctx, cancel := signalContext()
			defer cancel()
			opts := g.runOptions(inv, &f)
			opts.Hosts = []string{name}
			rep, err := installer.Uninstall(ctx, opts, installer.UninstallOptions{KeepData: keepData})
			if err != nil {
				return usageError(err)
			}
			if !g.json {
				rep.WriteRemoval(g.stdout, false)
			}
			if ctx.Err() != nil {
				return interruptedError(rep) // the inventory is unchanged
			}
			if failed := rep.Failed(); len(failed) > 0 {
				if !force {
					return failure(fmt.Errorf("%s could not be uninstalled: %s; the inventory is unchanged (--force drops it anyway, leaving its files)", name, failed[0].Error))
				}
				fmt.Fprintf(g.stderr, "warning: %s could not be uninstalled (%s): its obsbox files, users and units STAY on it\n", name, failed[0].Error)
			}
			if err := writeInventory(inv.Path, src); err != nil {
				return failure(err)
			}
			fmt.Fprintf(g.human(), "Removed host %q from %s.\n", name, inv.Path)
			// The Prometheus hosts drop its targets; the hosts whose files
			// depend on the host set (its Alertmanager peers, say) change too.
			opts = g.runOptions(next, &f)
			affected, err := installer.HostsAffected(inv, next)
			if err != nil {
				return failure(err)
			}
			opts.Hosts = affected
			opts.OnlyTargets = len(affected) == 0
			return runApply(g, next, opts)
		},
	}
	cmd.Flags().BoolVar(&keepData, "keep-data", false, "keep the host's /var/lib/obsbox/<component>/ data")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&force, "force", false, "drop an unreachable host from the inventory and targets anyway")
	f.register(cmd, false)
	return cmd
}
