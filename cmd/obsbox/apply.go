package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/transport"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// runFlags are the flags shared by commands that contact hosts.
type runFlags struct {
	hosts             []string
	acceptNewHostKeys bool
}

func (f *runFlags) register(cmd *cobra.Command, hostsFlag bool) {
	if hostsFlag {
		cmd.Flags().StringSliceVar(&f.hosts, "hosts", nil, "only these hosts (comma-separated), plus the Prometheus hosts' targets")
	}
	cmd.Flags().BoolVar(&f.acceptNewHostKeys, "accept-new-host-keys", false, "trust unknown host keys on first use and record them in known_hosts")
}

// loadInventory reads and validates the inventory; problems end the command with exit 2.
func loadInventory(g *globalOptions) (*inventory.Inventory, error) {
	inv, diags := inventory.Load(g.inventory)
	if diags.HasErrors() {
		writeDiagnostics(g, diags)
		return nil, silentExit(2)
	}
	if len(diags) > 0 {
		writeDiagnostics(g, diags)
	}
	return inv, nil
}

// writeDiagnostics prints the inventory's problems: with --json as the JSON
// array validate --json prints (file, line, column, severity, summary,
// detail) on stdout, where a script reads the command's answer; else with
// the source lines on stderr.
func writeDiagnostics(g *globalOptions, diags hcl.Diagnostics) {
	if g.json {
		if b, err := inventory.DiagnosticsJSON(diags); err == nil && diags.HasErrors() {
			fmt.Fprintf(g.stdout, "%s\n", b)
			return
		}
	}
	src, _ := os.ReadFile(g.inventory)
	inventory.WriteDiagnostics(g.stderr, diags, map[string][]byte{g.inventory: src})
}

// newStore opens the bundle cache the inventory names.
func newStore(g *globalOptions, inv *inventory.Inventory) *bundles.Store {
	progress := bundles.LineProgress(g.stderr)
	if g.progress() {
		progress = bundles.BarProgress(g.stderr)
	}
	if g.json {
		progress = nil
	}
	return &bundles.Store{
		Dir:      inv.Bundles.Dir,
		Mirror:   inv.Bundles.Mirror,
		Offline:  inv.Bundles.Offline,
		LockFile: filepath.Join(inv.Dir, "obsbox.lock.hcl"),
		Progress: progress,
		Log:      g.log,
	}
}

// signalContext is cancelled, with cause installer.ErrInterrupted, on
// Ctrl-C or SIGTERM, so hosts stop cleanly (their scripts stopped, their
// locks let go). A second signal ends the process at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	stop := make(chan struct{})
	go func() {
		select {
		case <-sig:
			cancel(installer.ErrInterrupted)
		case <-stop:
			return
		}
		select {
		case <-sig:
			fmt.Fprintln(os.Stderr, "Second interrupt: exiting now; the hosts stop their scripts when the connections close.")
			os.Exit(exitInterrupted)
		case <-stop:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sig)
			close(stop)
			cancel(nil)
		})
	}
}

// exitInterrupted is the exit code of a run stopped by Ctrl-C or SIGTERM:
// 128+SIGINT, as shells report it; neither success (0), a failure of the
// work (1) nor bad usage (2).
const exitInterrupted = 130

// interruptedError ends a stopped run: the one message that says so.
func interruptedError(rep *installer.Report) error {
	msg := "interrupted: the run stopped before it was done"
	if rep != nil {
		if n := len(rep.Interrupted()); n > 0 {
			msg = fmt.Sprintf("interrupted: %d of %d hosts were stopped part way; each is as it was or where the next apply finishes it", n, len(rep.Hosts))
		}
	}
	return &exitError{code: exitInterrupted, err: errors.New(msg)}
}

// passphrasePrompt asks on the terminal; the transport asks once per key
// however many hosts use it. Without a terminal there is nobody to ask.
func passphrasePrompt() func(string) ([]byte, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil
	}
	return transport.TerminalPassphrase
}

func (g *globalOptions) runOptions(inv *inventory.Inventory, f *runFlags) installer.Options {
	return installer.Options{
		Inventory:         inv,
		Hosts:             f.hosts,
		Concurrency:       g.concurrency,
		Store:             newStore(g, inv),
		AcceptNewHostKeys: f.acceptNewHostKeys,
		Passphrase:        passphrasePrompt(),
		Out:               g.human(),
		Log:               g.log,
		LockTimeout:       g.lockTimeout,
		ConnectTimeout:    g.connectTimeout,
		Command:           g.command,
	}
}

func newApplyCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:     "apply",
		Aliases: []string{"install"},
		Short:   "Converge every host to the inventory: install, configure, upgrade",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			opts := g.runOptions(inv, &f)
			if g.progress() {
				opts.Progress = newApplyProgress(g.stderr)
			}
			return runApply(g, inv, opts)
		},
	}
	f.register(cmd, true)
	return cmd
}

// runApply applies and prints the summary; any failed host makes exit 1.
func runApply(g *globalOptions, inv *inventory.Inventory, opts installer.Options) error {
	ctx, cancel := signalContext()
	defer cancel()
	// --json carries each action's diff, secrets masked, as plan's does.
	opts.Diffs = opts.Diffs || g.json
	rep, err := installer.Apply(ctx, opts)
	if err != nil {
		return usageError(err)
	}
	return reportApply(ctx, g, inv, rep)
}

// reportApply prints an apply's summary (or --json report) and turns it
// into the exit: interrupted, hosts failed, or nil.
func reportApply(ctx context.Context, g *globalOptions, inv *inventory.Inventory, rep *installer.Report) error {
	if g.json {
		if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteSummary(g.stdout)
		writeAccess(g, inv)
	}
	if ctx.Err() != nil {
		return interruptedError(rep)
	}
	return hostFailures(rep)
}

// hostFailures is exit 1 naming every failed host, or nil; the summary
// printed before it says why each failed.
func hostFailures(rep *installer.Report) error {
	failed := rep.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, h := range failed {
		names[i] = h.Host
	}
	return failure(fmt.Errorf("%d of %d hosts failed: %s", len(failed), len(rep.Hosts), strings.Join(names, ", ")))
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show, per host, what apply would create, change, restart or remove; change nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			opts := g.runOptions(inv, &f)
			opts.Diffs = true
			opts.Out = g.stderr
			if g.json {
				opts.Out = nil
			}
			rep, _, err := installer.Plan(ctx, opts)
			if err != nil {
				return usageError(err)
			}
			if ctx.Err() != nil {
				return interruptedError(nil)
			}
			if g.json {
				if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WritePlan(g.stdout)
				if sec := inv.Security; sec.TLS && !sec.OwnCA {
					if _, err := os.Stat(sec.CACert); err != nil {
						fmt.Fprintf(g.stdout, "\napply will create the CA %s (and its key beside it, 0600); every host's certificate comes from it\n", sec.CACert)
					}
				}
			}
			if failed := rep.Failed(); len(failed) > 0 {
				return failure(fmt.Errorf("%d of %d hosts could not be planned", len(failed), len(rep.Hosts)))
			}
			if detailed && rep.Changes() {
				return silentExit(2)
			}
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when changes are pending")
	return cmd
}
