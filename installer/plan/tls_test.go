package plan_test

import (
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/installer/plan"
)

const testCert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// tlsSpecs are mon-1's specs with TLS and basic auth on.
func tlsSpecs(t *testing.T, cert string) []*component.Spec {
	t.Helper()
	inv := loadInventory(t, testInventory)
	h := inv.Host("mon-1")
	sec := component.Security{TLS: true, BasicAuth: true, CABundle: []byte(testCert), Password: inventory.NewSecret("web-pw-0123456789"),
		Hash: "$2a$10$abcdefghijklmnopqrstuuQeQzcXWxIlnA0mi8TGaf9yWr2NqEaW."}
	var out []*component.Spec
	for _, c := range component.All() {
		if !c.Runs(inv, h) {
			continue
		}
		v := inv.Versions[c.Name()]
		s, err := c.Spec(&component.Context{Inv: inv, Host: h, Version: v, Bundle: fakeBundle(c.Name(), v), Security: sec, HostCert: []byte(cert),
			GrafanaAdminPassword: inventory.NewSecret("s3cret-pw"), GrafanaSecretKey: inventory.NewSecret("test-secret-key")})
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		out = append(out, s)
	}
	return out
}

// withKeyPairs is st after an apply that installed every key pair and the host certificate.
func withKeyPairs(st *hoststate.State, specs []*component.Spec, cert string) *hoststate.State {
	st.Paths[catalog.HostTLSDir()] = hoststate.Path{Kind: hoststate.KindDir, Mode: 0o700, Owner: "root", Group: "root"}
	st.Paths[catalog.HostCertPath()] = hoststate.Path{Kind: hoststate.KindFile, Mode: 0o644, Owner: "root", Group: "root", SHA256: sum([]byte(cert))}
	st.KeyPairCerts = map[string]string{}
	for _, s := range specs {
		if s.KeyPair != nil {
			st.Paths[s.KeyPair.Path] = hoststate.Path{Kind: hoststate.KindFile, Mode: 0o640, Owner: "root", Group: s.KeyPair.Group}
			st.KeyPairCerts[s.KeyPair.Path] = sum([]byte(cert))
		}
	}
	return st
}

// The key pair is put together on the host from the key that never left
// it; a converged host with the same certificate has nothing to do; a new
// certificate replaces every key pair without restarting what re-reads it.
func TestIssue14_KeyPairsFromTheHostKey(t *testing.T) {
	specs := tlsSpecs(t, testCert)
	fresh := build(t, plan.Input{Host: "mon-1", Specs: specs, State: emptyState(),
		TLS: &plan.HostTLS{Cert: []byte(testCert), NewKey: "/var/tmp/obsbox-apply.AbC123/host.key", Reason: "new"}})
	script := fresh.Script()
	for _, c := range []string{catalog.Prometheus, catalog.Alertmanager, catalog.NodeExporter, catalog.Grafana} {
		if !has(actions(fresh), "create file "+catalog.KeyPairPath(c)) {
			t.Errorf("no key pair for %s: %v", c, actions(fresh))
		}
	}
	if !strings.Contains(script, "(umask 077 && cat '/var/tmp/obsbox-apply.AbC123/host.key' ") ||
		!strings.Contains(script, "mv -f '/var/tmp/obsbox-apply.AbC123/host.key' '/etc/obsbox/tls/host.key'") {
		t.Errorf("script does not build key pairs from the host's new key and keep it:\n%s", script)
	}
	if strings.Contains(script, "PRIVATE KEY") {
		t.Errorf("a private key is in the script")
	}
	if !strings.Contains(script, "check web-config") {
		t.Errorf("web configs are not checked with promtool:\n%s", script)
	}

	st := withKeyPairs(converged(specs, fresh.Record), specs, testCert)
	again := build(t, plan.Input{Host: "mon-1", Specs: specs, State: st, TLS: &plan.HostTLS{Cert: []byte(testCert)}})
	if !again.Empty() {
		t.Errorf("converged TLS host has work: %v", actions(again))
	}

	renewed := "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
	next := tlsSpecs(t, renewed)
	p := build(t, plan.Input{Host: "mon-1", Specs: next, State: st,
		TLS: &plan.HostTLS{Cert: []byte(renewed), NewKey: "/var/tmp/obsbox-apply.XyZ789/host.key", Reason: "expires in 20d"}})
	acts := actions(p)
	for _, want := range []string{"change file " + catalog.KeyPairPath(catalog.Prometheus), "change file " + catalog.KeyPairPath(catalog.NodeExporter)} {
		if !has(acts, want) {
			t.Errorf("renewal misses %q: %v", want, acts)
		}
	}
	for _, unit := range []string{catalog.UnitName(catalog.Prometheus), catalog.UnitName(catalog.NodeExporter), catalog.UnitName(catalog.Alertmanager)} {
		for _, a := range acts {
			if strings.HasSuffix(a, " "+unit) && (strings.HasPrefix(a, "restart") || strings.HasPrefix(a, "reload")) {
				t.Errorf("renewal restarts %s: %v", unit, acts)
			}
		}
	}
	if !has(acts, "restart service "+catalog.UnitName(catalog.Grafana)) {
		t.Errorf("Grafana reads its certificate at start only, but renewal does not restart it: %v", acts)
	}
}
