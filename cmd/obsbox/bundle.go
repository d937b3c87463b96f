package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
)

func newBundleCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Manage the cache of upstream release tarballs",
		Long: "Bundles are the upstream release tarballs obsbox installs from. They are downloaded once\n" +
			"into a cache on this machine (never on the hosts), verified against the upstream checksum\n" +
			"file and recorded in obsbox.lock.hcl beside the inventory.",
	}
	cmd.AddCommand(newBundlePullCmd(g), newBundleImportCmd(g), newBundleListCmd(g))
	return cmd
}

// bundleResult is one line of pull or import output.
type bundleResult struct {
	Component string `json:"component"`
	Version   string `json:"version"`
	Arch      string `json:"arch"`
	File      string `json:"file"`
	Status    string `json:"status"` // downloaded, imported, cached, failed
	SHA256    string `json:"sha256,omitempty"`
	Path      string `json:"path,omitempty"` // the cached tarball
	Error     string `json:"error,omitempty"`
}

func newBundlePullCmd(g *globalOptions) *cobra.Command {
	var arches []string
	cmd := &cobra.Command{
		Use:   "pull [COMPONENT@VERSION ...]",
		Short: "Download release tarballs into the cache",
		Long: "Downloads the release tarballs of the inventory's versions (for the components its hosts\n" +
			"use) or of the named COMPONENT@VERSION pairs, verifies them against the upstream checksum\n" +
			"file and obsbox.lock.hcl, and records them in the lock. Cached bundles are not downloaded again.\n" +
			"A COMPONENT without @VERSION means the inventory's (or the catalog's default) version.",
		Example: "  obsbox bundle pull\n  obsbox bundle pull prometheus@2.53.2 node_exporter --arch amd64 --arch arm64",
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range arches {
				if !slices.Contains(bundles.Arches, a) {
					return usageError(fmt.Errorf("--arch %q is not supported: use %s (uname -m x86_64 is amd64, aarch64 is arm64)", a, strings.Join(bundles.Arches, " or ")))
				}
			}
			var inv *inventory.Inventory
			var store *bundles.Store
			var err error
			if len(args) == 0 {
				if inv, err = loadInventory(g); err != nil {
					return err
				}
				store = newStore(g, inv)
			} else if store, inv, err = bundleStoreFallback(g); err != nil {
				return err
			}
			wanted, err := pullTargets(args, inv)
			if err != nil {
				return usageError(err)
			}
			if len(wanted) == 0 {
				fmt.Fprintln(g.human(), "No components to pull: no host in the inventory runs any.")
				return writeBundleResults(g, nil)
			}
			ctx, stop := signalContext()
			defer stop()
			var results []bundleResult
			for _, w := range wanted {
				for _, arch := range uniqueStrings(arches) {
					b, err := store.Ensure(ctx, w[0], w[1], arch)
					results = append(results, reportBundle(g, w[0], w[1], arch, "downloaded", b, err))
					if ctx.Err() != nil {
						return failure(fmt.Errorf("interrupted: %w", ctx.Err()))
					}
				}
			}
			return finishBundles(g, results, "pull")
		},
	}
	cmd.Flags().StringSliceVar(&arches, "arch", []string{bundles.AMD64}, "architecture to pull, amd64 or arm64 (repeatable)")
	return cmd
}

// pullTargets turns COMPONENT[@VERSION] arguments (or, with none, the
// components the inventory's hosts use) into component/version pairs.
func pullTargets(args []string, inv *inventory.Inventory) ([][2]string, error) {
	version := func(component string) string {
		if inv != nil && inv.Versions[component] != "" {
			return inv.Versions[component]
		}
		return catalog.Get(component).Default
	}
	var out [][2]string
	add := func(c, v string) {
		if !slices.Contains(out, [2]string{c, v}) {
			out = append(out, [2]string{c, v})
		}
	}
	if len(args) == 0 {
		for _, c := range catalog.Names() {
			if inventoryUsesComponent(inv, c) {
				add(c, version(c))
			}
		}
		return out, nil
	}
	for _, arg := range args {
		c, v, hasVersion := strings.Cut(arg, "@")
		if !catalog.Known(c) {
			hint := ""
			if alt := strings.ReplaceAll(c, "-", "_"); catalog.Known(alt) {
				hint = fmt.Sprintf(" (did you mean %s?)", alt)
			}
			return nil, fmt.Errorf("%q: unknown component %q%s; expected COMPONENT@VERSION with COMPONENT one of %s",
				arg, c, hint, strings.Join(catalog.Names(), ", "))
		}
		if !hasVersion {
			v = version(c)
		}
		if err := bundles.CheckVersion(v); err != nil {
			return nil, fmt.Errorf("%q: %w", arg, err)
		}
		add(c, v)
	}
	return out, nil
}

// usesComponent reports whether any host in the inventory runs component.
func inventoryUsesComponent(inv *inventory.Inventory, component string) bool {
	for _, h := range inv.Hosts {
		if c := catalog.Get(component); c.Role == "" && h.NodeExporter || inv.Places(c, h) {
			return true
		}
	}
	return false
}

func newBundleImportCmd(g *globalOptions) *cobra.Command {
	var pin string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Add release tarballs to the cache by hand (air-gapped machines)",
		Long: "Adds upstream release tarballs, named as upstream names them (e.g.\n" +
			"node_exporter-1.8.2.linux-amd64.tar.gz), to the cache. Component, version and architecture\n" +
			"come from the file name and are checked against the tarball's contents. The hash is checked\n" +
			"against --sha256 when given, otherwise against a sha256sums.txt or FILE.sha256 beside the\n" +
			"file when there is one, and always against obsbox.lock.hcl. The network is never used.",
		Example: "  obsbox bundle import ./node_exporter-1.8.2.linux-amd64.tar.gz\n" +
			"  obsbox bundle import prometheus-2.53.2.linux-amd64.tar.gz --sha256 3f...",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pin != "" {
				if len(args) > 1 {
					return usageError(fmt.Errorf("--sha256 pins one file, but %d files were given: import them one at a time", len(args)))
				}
				if _, err := bundles.NormalizeSHA256(pin); err != nil {
					return usageError(fmt.Errorf("--sha256: %w", err))
				}
			}
			for _, a := range args {
				if _, _, _, err := bundles.ParseTarballName(filepath.Base(a)); err != nil {
					return usageError(err)
				}
			}
			store, _, err := bundleStoreFallback(g)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			var results []bundleResult
			for _, a := range args {
				c, v, arch, _ := bundles.ParseTarballName(filepath.Base(a))
				b, err := store.Import(ctx, a, pin)
				results = append(results, reportBundle(g, c, v, arch, "imported", b, err))
				if ctx.Err() != nil {
					return failure(fmt.Errorf("interrupted: %w", ctx.Err()))
				}
			}
			return finishBundles(g, results, "import")
		},
	}
	cmd.Flags().StringVar(&pin, "sha256", "", "expected SHA-256 of the file (hex); refuses the file when it differs")
	return cmd
}

func newBundleListCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Show the bundles in the cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := bundleStoreFallback(g)
			if err != nil {
				return err
			}
			entries, err := store.List()
			if err != nil {
				return failure(err)
			}
			locked, err := bundles.ReadLock(store.LockFile)
			if err != nil {
				return failure(fmt.Errorf("%s: %w", store.LockFile, err))
			}
			rows := make([]bundleListRow, 0, len(entries))
			for _, e := range entries {
				rows = append(rows, bundleListRow{Entry: e, Lock: bundleLockState(e, locked)})
			}
			if g.json {
				return writeBundleJSON(g.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(g.stdout, "No bundles in %s.\n", store.Dir)
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tVERSION\tARCH\tSIZE\tLOCK\tSHA256")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Component, r.Version, r.Arch, bundles.HumanSize(r.Size), r.Lock, r.SHA256)
			}
			return tw.Flush()
		},
	}
}

// bundleListRow is a cache entry with how it stands against obsbox.lock.hcl.
type bundleListRow struct {
	bundles.Entry
	Lock string `json:"lock"` // ok, mismatch, or - when the lock does not record it
}

func bundleLockState(e bundles.Entry, locked []bundles.LockEntry) string {
	for _, l := range locked {
		if l.Component == e.Component && l.Version == e.Version && l.Arch == e.Arch {
			if l.SHA256 == e.SHA256 {
				return "ok"
			}
			return "mismatch"
		}
	}
	return "-"
}

// bundleStoreFallback opens the cache the inventory names or, when there is
// no inventory file, the default cache with a lock beside where it would be.
func bundleStoreFallback(g *globalOptions) (*bundles.Store, *inventory.Inventory, error) {
	if _, err := os.Stat(g.inventory); errors.Is(err, fs.ErrNotExist) {
		dir, err := filepath.Abs(filepath.Dir(g.inventory))
		if err != nil {
			return nil, nil, failure(err)
		}
		if g.log != nil {
			g.log.Debug("no inventory file; using the default bundle cache", "inventory", g.inventory, "cache", inventory.DefaultBundlesDir())
		}
		return newStore(g, &inventory.Inventory{Dir: dir, Bundles: inventory.Bundles{Dir: inventory.DefaultBundlesDir()}}), nil, nil
	}
	inv, err := loadInventory(g)
	if err != nil {
		return nil, nil, err
	}
	return newStore(g, inv), inv, nil
}

// reportBundle prints one bundle's outcome (human output) and returns it for JSON.
func reportBundle(g *globalOptions, component, version, arch, fresh string, b *bundles.Bundle, err error) bundleResult {
	r := bundleResult{Component: component, Version: version, Arch: arch, File: bundles.TarballName(component, version, arch)}
	if err != nil {
		r.Status, r.Error = "failed", err.Error()
		return r
	}
	r.Status, r.SHA256, r.Path = fresh, b.SHA256, b.Tarball
	if b.Cached {
		r.Status = "cached"
	}
	fmt.Fprintf(g.human(), "%-13s %-8s %-5s  %-10s  sha256 %s\n", component, version, arch, r.Status, b.SHA256)
	return r
}

// finishBundles writes JSON output and turns failures into one error naming each.
func finishBundles(g *globalOptions, results []bundleResult, verb string) error {
	if err := writeBundleResults(g, results); err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		if r.Status == "failed" {
			msg := strings.TrimPrefix(r.Error, fmt.Sprintf("%s %s (%s): ", r.Component, r.Version, r.Arch))
			failed = append(failed, fmt.Sprintf("%s %s (%s): %s", r.Component, r.Version, r.Arch, msg))
		}
	}
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return failure(errors.New(failed[0]))
	}
	for i, f := range failed {
		failed[i] = "- " + strings.ReplaceAll(f, "\n", "\n  ")
	}
	return failure(fmt.Errorf("%d of %d bundles failed to %s:\n%s", len(failed), len(results), verb, strings.Join(failed, "\n")))
}

func writeBundleResults(g *globalOptions, results []bundleResult) error {
	if !g.json {
		return nil
	}
	if results == nil {
		results = []bundleResult{}
	}
	return writeBundleJSON(g.stdout, results)
}

func writeBundleJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func uniqueStrings(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
