package installer

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/pki"
)

// A host keeps its own hash while it matches the password (a no-op apply
// changes nothing); hosts without one share one new hash.
func TestIssue14_HashKeptWhileItMatches(t *testing.T) {
	const pw = "web-pw-0123456789"
	mine, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	other, _ := bcrypt.GenerateFromPassword([]byte("another-password"), bcrypt.MinCost)
	r := testRun("kept", "stale", "fresh")
	r.sec = &runSecurity{comp: component.Security{BasicAuth: true, Password: inventory.NewSecret(pw)}}
	r.Hosts[0].State = &hoststate.State{WebHashes: map[string]string{"/etc/obsbox/node_exporter/web.yml": string(mine)}}
	r.Hosts[1].State = &hoststate.State{WebHashes: map[string]string{"/etc/obsbox/node_exporter/web.yml": string(other)}}
	r.Hosts[2].State = &hoststate.State{}
	got := map[string]string{}
	for _, h := range r.Hosts {
		hash, err := r.hostHash(h)
		if err != nil {
			t.Fatal(err)
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
			t.Errorf("%s: the hash is not the password's", h.Host.Name)
		}
		got[h.Host.Name] = hash
	}
	if got["kept"] != string(mine) {
		t.Errorf("a matching hash was replaced")
	}
	if got["stale"] == string(other) || got["stale"] != got["fresh"] {
		t.Errorf("hosts without a matching hash do not share one new hash: %q %q", got["stale"], got["fresh"])
	}
}

// The certificate phase asks for a new certificate only when one is due,
// and plan never makes a key.
func TestIssue14_CertificateDecisions(t *testing.T) {
	ca, err := pki.Ephemeral(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := testRun("h1")
	r.now = time.Now
	r.Opts.Inventory = &inventory.Inventory{Security: inventory.Security{TLS: true, CertValidity: 90 * 24 * time.Hour}}
	r.sec = &runSecurity{ca: ca}
	h := r.Hosts[0]
	h.Host.Address = "10.0.0.5"
	h.State = &hoststate.State{}
	if err := (certsPhase{}).Run(t.Context(), r, h); err != nil {
		t.Fatal(err)
	}
	if h.tls == nil || h.tls.Cert != nil || h.tls.Reason != "new" || h.tls.NewKey != "" {
		t.Errorf("plan of a host without a certificate: %+v", h.tls)
	}
	r.Opts.Certs = CertsKeep
	if err := (certsPhase{}).Run(t.Context(), r, h); err == nil {
		t.Errorf("upgrade on a host without a certificate did not fail")
	}
}
