package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
)

func newUpgradeCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "upgrade [COMPONENT=VERSION ...]",
		Short: "Set versions in the inventory (comments kept) — the given ones, or the catalog's newest of each major — and roll them out",
		Long: "Rewrites the inventory's versions block to the given versions, or to the newest in the built-in\n" +
			"catalog within each component's major version when none are given (a new major only when named:\n" +
			"obsbox upgrade prometheus=3.16.0), shows the plan and applies it: new binaries are staged on every host\n" +
			"first, then node_exporter is restarted a quarter of its hosts at a time and the other components\n" +
			"one host at a time, each behind a health gate; a host that fails it is switched back.",
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			want := map[string]string{}
			for _, a := range args {
				c, v, ok := strings.Cut(a, "=")
				if !ok || !catalog.Known(c) {
					return usageError(fmt.Errorf("%q: want COMPONENT=VERSION with COMPONENT one of %s", a, strings.Join(catalog.Names(), ", ")))
				}
				if err := bundles.CheckVersion(v); err != nil {
					return usageError(fmt.Errorf("%s: %w", a, err))
				}
				want[c] = v
			}
			if len(args) == 0 {
				var notes []string
				want, notes = newestWithinMajor(inv)
				for _, n := range notes {
					fmt.Fprintln(g.human(), n)
				}
			}
			ctx, cancel := signalContext()
			defer cancel()
			return setVersionsAndApply(ctx, g, inv, want, &f, nil)
		},
	}
	f.register(cmd, true)
	return cmd
}

// newestWithinMajor chooses a bare upgrade's versions: per component the
// newest catalog release of the major version the inventory runs, never a
// new major on its own; notes say which newer majors exist and how to move.
func newestWithinMajor(inv *inventory.Inventory) (want map[string]string, notes []string) {
	want = map[string]string{}
	for _, c := range catalog.Names() {
		cur := inv.Versions[c]
		if cur == "" {
			cur = catalog.Get(c).Default
		}
		newest, newer := bundles.NewestInMajor(c, cur)
		want[c] = newest
		for _, v := range newer {
			notes = append(notes, fmt.Sprintf("%s %s is a new major version; a bare upgrade stays on %s. To move: obsbox upgrade %s=%s", c, v, newest, c, v))
		}
	}
	return want, notes
}

// setVersionsAndApply plans every host with the new versions before
// anything is written: a missing bundle (all of them listed), a host that
// cannot be planned or a refused downgrade ends the command with the
// inventory as it was and no host touched. Then it records the versions,
// prints the plan and applies it, over the connections and from the state
// read the plan was made with (prep, or a new one when nil).
func setVersionsAndApply(ctx context.Context, g *globalOptions, inv *inventory.Inventory, want map[string]string, f *runFlags, prep *installer.Prepared) error {
	applied := false
	defer func() {
		if prep != nil && !applied {
			prep.Close()
		}
	}()
	var changes []string
	for _, c := range sortedKeys(want) {
		if inv.Versions[c] != want[c] {
			changes = append(changes, fmt.Sprintf("%s %s → %s", c, inv.Versions[c], want[c]))
		}
	}
	next := inv
	var src []byte
	if len(changes) == 0 {
		fmt.Fprintln(g.human(), "The inventory already names these versions.")
	} else {
		var err error
		if src, err = inventory.SetVersions(inv.Source, want); err != nil {
			return usageError(err)
		}
		if next, err = reloadEdited(g, inv, src); err != nil {
			return err
		}
	}
	if prep == nil {
		var err error
		if prep, err = installer.Prepare(ctx, prepareOptions(g, inv, f)); err != nil {
			return usageError(err)
		}
	}
	rep, err := prep.Plan(ctx, next)
	if err != nil {
		return usageError(err)
	}
	if ctx.Err() != nil {
		return interruptedError(nil)
	}
	if err := preflight(rep); err != nil {
		return err
	}
	if src != nil {
		if err := writeInventory(inv.Path, src); err != nil {
			return failure(err)
		}
		fmt.Fprintf(g.human(), "%s: %s\n", inv.Path, strings.Join(changes, ", "))
	}
	if !g.json {
		rep.WritePlan(g.stdout)
	}
	if !rep.Changes() {
		return nil
	}
	var progress installer.Progress
	if g.progress() {
		progress = newApplyProgress(g.stderr)
	}
	applied = true
	return reportApply(ctx, g, inv, prep.Apply(ctx, g.human(), progress))
}

// prepareOptions are upgrade's and rollback's: plan diffs shown, and no
// progress lines while reading (the plan says per host what failed).
func prepareOptions(g *globalOptions, inv *inventory.Inventory, f *runFlags) installer.Options {
	opts := g.runOptions(inv, f)
	opts.Diffs = true
	opts.Out = nil
	return opts
}

// preflight is nil when every host could be planned. Otherwise it names
// every bundle missing on any host at once, then the other failures.
func preflight(rep *installer.Report) error {
	failed := rep.Failed()
	if len(failed) == 0 {
		return nil
	}
	var missing bundles.MissingBundles
	var other []string
	for _, h := range failed {
		var mb bundles.MissingBundles
		if errors.As(h.Err(), &mb) {
			missing = missing.Add(mb...)
			continue
		}
		other = append(other, h.Host+": "+h.Error)
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, missing.Error())
	}
	parts = append(parts, other...)
	return failure(fmt.Errorf("nothing was changed: the inventory is as it was and no host was touched, because %d of %d hosts cannot take the new versions:\n%s",
		len(failed), len(rep.Hosts), strings.Join(parts, "\n")))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newRollbackCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "rollback COMPONENT",
		Short: "Return a component to the version it ran before the last upgrade",
		Long: "Reads, on the hosts, the version the component ran before its last upgrade (the folder is kept),\n" +
			"records it in the inventory's versions block and rolls it out like an upgrade.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			comp := args[0]
			if !catalog.Known(comp) {
				return usageError(fmt.Errorf("unknown component %q: one of %s", comp, strings.Join(catalog.Names(), ", ")))
			}
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			prep, err := installer.Prepare(ctx, prepareOptions(g, inv, &f))
			if err != nil {
				return usageError(err)
			}
			previous, err := prep.PreviousVersions(comp)
			if err != nil {
				prep.Close()
				return failure(err)
			}
			var versions []string
			for v := range previous {
				versions = append(versions, v)
			}
			if len(versions) != 1 {
				prep.Close()
			}
			switch {
			case len(versions) == 0:
				return failure(fmt.Errorf("no host records a version of %s from before an upgrade: nothing to roll back to", comp))
			case len(versions) > 1:
				var parts []string
				for _, v := range versions {
					parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(previous[v], ", ")))
				}
				sort.Strings(parts)
				return failure(errors.New("the hosts ran different versions of " + comp + " before: " + strings.Join(parts, "; ") + "; use upgrade " + comp + "=VERSION"))
			}
			return setVersionsAndApply(ctx, g, inv, map[string]string{comp: versions[0]}, &f, prep)
		},
	}
	f.register(cmd, true)
	return cmd
}
