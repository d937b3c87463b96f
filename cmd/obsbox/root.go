package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// globalOptions holds the flags every command shares.
type globalOptions struct {
	inventory      string
	json           bool
	noProgress     bool
	verbose        bool
	concurrency    int
	lockTimeout    time.Duration
	connectTimeout time.Duration
	command        string // "obsbox apply", for the lock others see

	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// human is where human-readable output goes: stdout, or nowhere with --json.
func (g *globalOptions) human() io.Writer {
	if g.json {
		return io.Discard
	}
	return g.stdout
}

// progress reports whether progress bars may be drawn.
func (g *globalOptions) progress() bool {
	if g.noProgress || g.json {
		return false
	}
	f, ok := g.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newRootCmd() *cobra.Command {
	g := &globalOptions{stdout: os.Stdout, stderr: os.Stderr}
	root := &cobra.Command{
		Use:           "obsbox",
		Short:         "Install and run Prometheus, Alertmanager, Grafana and node_exporter on plain hosts over SSH",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			g.command = cmd.CommandPath()
			if g.lockTimeout < 0 {
				return usageError(fmt.Errorf("--lock-timeout must not be negative, got %s", g.lockTimeout))
			}
			if g.connectTimeout < 0 {
				return usageError(fmt.Errorf("--connect-timeout must not be negative, got %s", g.connectTimeout))
			}
			if g.concurrency < 1 {
				return usageError(fmt.Errorf("--concurrency must be at least 1, got %d", g.concurrency))
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError(err) })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.inventory, "inventory", "i", "./obsbox.hcl", "inventory file")
	pf.BoolVar(&g.json, "json", false, "machine-readable output on stdout; human output off")
	pf.BoolVar(&g.noProgress, "no-progress", false, "no progress bars")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug log to stderr")
	pf.IntVar(&g.concurrency, "concurrency", 16, "hosts worked on at once")
	pf.DurationVar(&g.connectTimeout, "connect-timeout", 0, "how long to wait for each host's TCP connect and SSH handshake (e.g. 3s); 0: the inventory's ssh.connect_timeout, else 10s")
	pf.DurationVar(&g.lockTimeout, "lock-timeout", 0, "how long to wait for another obsbox run's lock on a host (e.g. 5m); 0: fail that host at once")

	root.AddCommand(
		newInitCmd(g),
		newValidateCmd(g),
		newApplyCmd(g),
		newPlanCmd(g),
		newStatusCmd(g),
		newSLOCmd(g),
		newAddHostCmd(g),
		newRemoveHostCmd(g),
		newUpgradeCmd(g),
		newRollbackCmd(g),
		newUninstallCmd(g),
		newBundleCmd(g),
		newCertsCmd(g),
		newVersionCmd(g),
	)
	return root
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print obsbox's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.json {
				fmt.Fprintf(g.stdout, "{\"version\":%q}\n", version)
				return nil
			}
			fmt.Fprintf(g.stdout, "obsbox %s\n", version)
			return nil
		},
	}
}

// isUsage recognises cobra's own argument errors, which carry no type.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
