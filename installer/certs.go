package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/pki"
)

// CertRow is one certificate on one host, for `obsbox certs`.
type CertRow struct {
	Host      string    `json:"host"`
	Component string    `json:"component"` // "host" for the host's own certificate
	NotAfter  time.Time `json:"not_after"`
	Days      int       `json:"days_left"`
	Issuer    string    `json:"issuer"`
	// State: ok, renew (apply renews it), old-ca (a rotation's retired CA),
	// other-ca, missing, stale (a component's copy differs from the host's).
	State string `json:"state"`
}

// CertsReport lists every certificate obsbox issued on the hosts.
type CertsReport struct {
	CA     string        `json:"ca"`
	CAFile string        `json:"ca_file"`
	Rows   []CertRow     `json:"certificates"`
	Hosts  []*HostResult `json:"hosts"`
}

// Certs reads every host's certificate and each component's copy of it.
func Certs(ctx context.Context, opts Options) (*CertsReport, error) {
	inv := opts.Inventory
	if !inv.Security.TLS {
		return nil, fmt.Errorf("security.tls is off in %s: obsbox issues no certificates", inv.Path)
	}
	ca, _, err := pki.Load(inv.Security.CACert, inv.Security.CAKey, inv.Security.OwnCA, false)
	if err != nil {
		return nil, fmt.Errorf("the CA: %w", err)
	}
	r, err := newRunOver(opts, false)
	if err != nil {
		return nil, err
	}
	r.runPhases(ctx, []Phase{connectPhase{}, probePhase{}})
	r.finish()
	rep := &CertsReport{CA: pki.ID(ca.Cert), CAFile: inv.Security.CACert}
	now := time.Now()
	for _, h := range r.Hosts {
		rep.Hosts = append(rep.Hosts, h.Result)
		if h.State == nil {
			continue
		}
		row := CertRow{Host: h.Host.Name, Component: "host", State: "missing"}
		certSum := ""
		if cert, err := pki.ParseCert(h.State.HostCert); err == nil {
			s := sha256.Sum256(h.State.HostCert)
			certSum = hex.EncodeToString(s[:])
			row.NotAfter, row.Days = cert.NotAfter, int(cert.NotAfter.Sub(now).Hours()/24)
			row.Issuer = cert.Issuer.CommonName
			subj := pki.Subject{Name: h.Host.Name, Address: h.Host.Address}
			switch reason := ca.Renewal(h.State.HostCert, subj, now, false); {
			case reason == "":
				row.State = "ok"
			case ca.Previous != nil && cert.CheckSignatureFrom(ca.Previous) == nil:
				row.State = "old-ca"
			case reason == "issued by another CA":
				row.State = "other-ca"
			default:
				row.State = "renew (" + reason + ")"
			}
		}
		rep.Rows = append(rep.Rows, row)
		for _, c := range component.All() {
			kp := catalog.KeyPairPath(c.Name())
			got, ok := h.State.KeyPairCerts[kp]
			if !ok {
				continue
			}
			cr := row
			cr.Component = c.Name()
			if got != certSum {
				cr.State = "stale (apply replaces it)"
			}
			rep.Rows = append(rep.Rows, cr)
		}
	}
	return rep, nil
}
