package inventory

import (
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/duration"
)

// Files beside the inventory that the security block's defaults create.
const (
	CACertFile      = "obsbox-ca.crt"
	CAKeyFile       = "obsbox-ca.key"
	WebPasswordFile = ".obsbox-web-password"
	// WebUser is the user every endpoint's basic auth knows.
	WebUser = catalog.WebUser
	// bcryptMaxBytes is bcrypt's input limit: longer passwords are refused, not cut.
	bcryptMaxBytes = 72
)

// DefaultCertValidity is how long a host certificate lasts; apply renews it
// with a third of that left.
const DefaultCertValidity = 90 * 24 * time.Hour

// Security is how the endpoints are protected. Both switches are on unless
// the inventory turns them off.
type Security struct {
	TLS       bool
	BasicAuth bool
	// CACert and CAKey are absolute paths: the user's CA, or the generated
	// one beside the inventory.
	CACert, CAKey string
	// OwnCA: the user gave ca_cert/ca_key; obsbox never creates or rotates it.
	OwnCA        bool
	CertValidity time.Duration
	WebPassword  Secret // set when the inventory gives one; else the kept file
}

type rawSecurity struct {
	TLS          *bool   `hcl:"tls,optional"`
	BasicAuth    *bool   `hcl:"basic_auth,optional"`
	CACert       *string `hcl:"ca_cert,optional"`
	CAKey        *string `hcl:"ca_key,optional"`
	CertValidity *string `hcl:"cert_validity,optional"`
	WebPassword  *string `hcl:"web_password,optional"`

	TLSRange          hcl.Range `hcl:"tls,attr_value_range"`
	BasicAuthRange    hcl.Range `hcl:"basic_auth,attr_value_range"`
	CACertRange       hcl.Range `hcl:"ca_cert,attr_value_range"`
	CAKeyRange        hcl.Range `hcl:"ca_key,attr_value_range"`
	CertValidityRange hcl.Range `hcl:"cert_validity,attr_value_range"`
	WebPasswordRange  hcl.Range `hcl:"web_password,attr_value_range"`
	DefRange          hcl.Range `hcl:",def_range"`
}

func buildSecurity(dir string, r *rawSecurity) Security {
	s := Security{TLS: true, BasicAuth: true, CertValidity: DefaultCertValidity,
		CACert: filepath.Join(dir, CACertFile), CAKey: filepath.Join(dir, CAKeyFile)}
	if r == nil {
		return s
	}
	s.TLS = deref(r.TLS, true)
	s.BasicAuth = deref(r.BasicAuth, true)
	if r.CACert != nil && r.CAKey != nil {
		s.CACert, s.CAKey, s.OwnCA = resolvePath(dir, *r.CACert), resolvePath(dir, *r.CAKey), true
	}
	if r.CertValidity != nil {
		if d, err := duration.Parse(*r.CertValidity); err == nil {
			s.CertValidity = d
		}
	}
	s.WebPassword = NewSecret(deref(r.WebPassword, ""))
	return s
}

func (v *validator) security(r *rawSecurity) {
	if r == nil {
		return
	}
	if r.TLS != nil && !*r.TLS {
		v.warnf(r.TLSRange, "TLS is off", "security.tls = false: every endpoint serves plain HTTP, and passwords cross the network in clear; keep it only behind a proxy that terminates TLS")
	}
	if r.BasicAuth != nil && !*r.BasicAuth {
		v.warnf(r.BasicAuthRange, "Basic auth is off", "security.basic_auth = false: anyone who reaches a port reads every metric and can silence every alert; keep it only behind a proxy that authenticates")
	}
	switch {
	case r.CACert != nil && r.CAKey == nil:
		v.errorf(r.CACertRange, "CA certificate without key", "ca_cert needs ca_key beside it: obsbox signs the hosts' certificates with it")
	case r.CAKey != nil && r.CACert == nil:
		v.errorf(r.CAKeyRange, "CA key without certificate", "ca_key needs ca_cert beside it")
	}
	for _, p := range []struct {
		val *string
		rng hcl.Range
		key string
	}{{r.CACert, r.CACertRange, "ca_cert"}, {r.CAKey, r.CAKeyRange, "ca_key"}} {
		if p.val != nil && *p.val == "" {
			v.errorf(p.rng, "Empty path", "security.%s is empty", p.key)
		}
	}
	if r.CertValidity != nil {
		d, err := duration.Parse(*r.CertValidity)
		switch {
		case err != nil:
			v.errorf(r.CertValidityRange, "Invalid duration", "security.cert_validity: %v", err)
		case d < 24*time.Hour:
			v.errorf(r.CertValidityRange, "Certificate validity too short", "security.cert_validity must be at least 24h: apply renews a certificate with a third of its life left, so it must outlive the time between two applies")
		case d > 825*24*time.Hour:
			v.errorf(r.CertValidityRange, "Certificate validity too long", "security.cert_validity must be at most 825 days (19800h), the limit clients such as browsers enforce")
		}
	}
	if r.WebPassword != nil {
		switch n := len(*r.WebPassword); {
		case n == 0:
			v.errorf(r.WebPasswordRange, "Empty web password", "security.web_password is empty; leave it out to have one generated in %s", WebPasswordFile)
		case n > bcryptMaxBytes:
			v.errorf(r.WebPasswordRange, "Web password over bcrypt's limit", "security.web_password is %d bytes; bcrypt, which hashes it on every endpoint, reads at most %d", n, bcryptMaxBytes)
		case n < 12:
			v.errorf(r.WebPasswordRange, "Weak web password", "security.web_password has %d characters; use at least 12", n)
		}
	}
}

// WebPasswordPath is where the generated web password is kept.
func (inv *Inventory) WebPasswordPath() string { return filepath.Join(inv.Dir, WebPasswordFile) }

// WebPasswordSecret returns the web user's password: the inventory's, or the
// kept one beside it (generated on first use).
func (inv *Inventory) WebPasswordSecret() (Secret, error) {
	if inv.Security.WebPassword.IsSet() {
		return inv.Security.WebPassword, nil
	}
	return keptSecret(inv.WebPasswordPath(), "web password", generatePassword,
		"delete it to have a new password generated, or set security.web_password")
}
