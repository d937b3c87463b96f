package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/obsbox/obsbox/installer"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/pki"
)

func newCertsCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Show every certificate obsbox issued: host, component, expiry, issuing CA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			opts := g.runOptions(inv, &f)
			opts.Out = nil
			rep, err := installer.Certs(ctx, opts)
			if err != nil {
				return usageError(err)
			}
			if g.json {
				return json.NewEncoder(g.stdout).Encode(rep)
			}
			fmt.Fprintf(g.stdout, "CA: %s (%s)\n", rep.CA, rep.CAFile)
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tCOMPONENT\tEXPIRES\tDAYS\tISSUER\tSTATE")
			for _, r := range rep.Rows {
				exp, days := "-", "-"
				if !r.NotAfter.IsZero() {
					exp, days = r.NotAfter.UTC().Format(time.DateOnly), fmt.Sprint(r.Days)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Host, r.Component, exp, days, r.Issuer, r.State)
			}
			tw.Flush()
			var failed []string
			for _, h := range rep.Hosts {
				if !h.OK {
					failed = append(failed, h.Host+": "+h.Error)
				}
			}
			if len(failed) > 0 {
				return failure(fmt.Errorf("%d hosts could not be read:\n  %s", len(failed), strings.Join(failed, "\n  ")))
			}
			return nil
		},
	}
	f.register(cmd, true)
	cmd.AddCommand(newCertsRotateCmd(g))
	return cmd
}

// newCertsRotateCmd replaces host certificates, or the CA and then every
// host certificate. Clients trust the new CA before any server presents a
// certificate of it, and keep trusting the old one until every host has
// moved, so nothing stops talking; certificates are files the services
// read again, so only Grafana (and clustered Alertmanagers, for a new CA)
// restart.
func newCertsRotateCmd(g *globalOptions) *cobra.Command {
	var f runFlags
	var newCA bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Issue new host certificates; with --ca first a new CA, trusted beside the old until every host has moved",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := loadInventory(g)
			if err != nil {
				return err
			}
			sec := inv.Security
			if !sec.TLS {
				return usageError(fmt.Errorf("security.tls is off in %s: there are no certificates to rotate", inv.Path))
			}
			ca, _, err := pki.Load(sec.CACert, sec.CAKey, sec.OwnCA, false)
			if err != nil {
				return usageError(fmt.Errorf("the CA: %w (run apply first)", err))
			}
			if newCA && sec.OwnCA {
				return usageError(errors.New("security.ca_cert is your own CA: obsbox does not replace it; give the new one in ca_cert/ca_key and run `obsbox certs rotate`"))
			}
			if newCA && len(f.hosts) > 0 {
				return usageError(errors.New("--ca moves every host to the new CA: leave out --hosts"))
			}
			step := func(title string, opts installer.Options) (*installer.Report, error) {
				fmt.Fprintf(g.human(), "== %s\n", title)
				rep, err := runRotateStep(g, opts)
				return rep, err
			}
			base := g.runOptions(inv, &f)
			finishing := ca.Previous != nil
			if newCA {
				o := base
				o.RotateCA = func(c *pki.CA) (*pki.CA, error) { return c.Rotate(time.Now()) }
				if _, err := step("1/3 new CA, trusted beside the old one on every host", o); err != nil {
					return failure(fmt.Errorf("%w\nthe new CA is in %s; run `obsbox certs rotate` when every host is reachable to finish", err, sec.CACert))
				}
				finishing = true
			}
			o := base
			title := "host certificates issued anew"
			switch {
			case finishing:
				o.Hosts, o.Certs, title = nil, installer.CertsMoveFromOld, "2/3 every host moves to a certificate of the new CA"
			default:
				o.Certs = installer.CertsReissue
			}
			if _, err := step(title, o); err != nil {
				if finishing {
					return failure(fmt.Errorf("%w\nhosts keep trusting both CAs; run `obsbox certs rotate` again to finish", err))
				}
				return err
			}
			if !finishing {
				return nil
			}
			ca, _, err = pki.Load(sec.CACert, sec.CAKey, sec.OwnCA, false)
			if err != nil {
				return failure(err)
			}
			if err := ca.FinishRotation(); err != nil {
				return failure(fmt.Errorf("retiring the old CA: %w", err))
			}
			o = base
			o.Hosts = nil
			_, err = step("3/3 the old CA is trusted no more", o)
			return err
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&newCA, "ca", false, "make a new CA first (obsbox's own CA only)")
	return cmd
}

// runRotateStep applies one step of a rotation and fails when any host did.
func runRotateStep(g *globalOptions, opts installer.Options) (*installer.Report, error) {
	ctx, cancel := signalContext()
	defer cancel()
	rep, err := installer.Apply(ctx, opts)
	if err != nil {
		return nil, usageError(err)
	}
	if g.json {
		if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
			return rep, err
		}
	} else {
		rep.WriteSummary(g.stdout)
	}
	if ctx.Err() != nil {
		return rep, interruptedError(rep)
	}
	return rep, hostFailures(rep)
}

// writeAccess says, after an apply, where to point a browser and what to trust.
func writeAccess(g *globalOptions, inv *inventory.Inventory) {
	w := g.human()
	sec := inv.Security
	scheme := "http"
	if sec.TLS {
		scheme = "https"
	}
	var lines []string
	for _, h := range inv.Hosts {
		for _, role := range []struct {
			name string
			port int
		}{{"prometheus", inv.Prometheus.Port}, {"alertmanager", inv.Alertmanager.Port}, {"grafana", inv.Grafana.Port}} {
			if h.HasRole(role.name) {
				lines = append(lines, fmt.Sprintf("  %-13s %s://%s  (%s)", role.name, scheme, hostPortOf(h.Address, role.port), h.Name))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nopen:")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if sec.TLS {
		fmt.Fprintf(w, "trust the CA %s\n", sec.CACert)
	} else {
		fmt.Fprintln(w, "warning: TLS is off (security.tls = false): everything crosses the network in clear")
	}
	if sec.BasicAuth {
		where := inv.WebPasswordPath()
		if sec.WebPassword.IsSet() {
			where = "security.web_password"
		}
		fmt.Fprintf(w, "web user %s, password in %s\n", inventory.WebUser, where)
	} else {
		fmt.Fprintln(w, "warning: basic auth is off (security.basic_auth = false): anyone who reaches a port is let in")
	}
	if len(inv.HostsWithRole("grafana")) > 0 {
		where := inv.GrafanaAdminPasswordPath()
		if inv.Grafana.AdminPassword.IsSet() {
			where = "grafana.admin_password"
		}
		fmt.Fprintf(w, "Grafana user %s, password in %s\n", inv.Grafana.AdminUser, where)
	}
}

func hostPortOf(addr string, port int) string { return net.JoinHostPort(addr, strconv.Itoa(port)) }
