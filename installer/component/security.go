package component

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/templates"
)

// Security is what every component renders TLS and basic auth from. The
// run resolves it once: the CA bundle, the web password and its bcrypt
// hash (kept from the hosts when it still matches, so a second apply
// changes nothing).
type Security struct {
	TLS       bool
	BasicAuth bool
	CABundle  []byte // the CAs every client trusts (PEM)
	Password  inventory.Secret
	Hash      string // bcrypt of Password
}

// Scheme is the scheme of every endpoint obsbox installs.
func (s Security) Scheme() string {
	if s.TLS {
		return "https"
	}
	return "http"
}

// Origin is the base URL of an endpoint at address:port.
func (s Security) Origin(address string, port int) string {
	return s.Scheme() + "://" + hostPort(address, port)
}

// Userinfo is the web user, for clients that take credentials in a URL;
// nil without basic auth.
func (s Security) Userinfo() *url.Userinfo {
	if !s.BasicAuth {
		return nil
	}
	return url.UserPassword(catalog.WebUser, s.Password.Value())
}

// webPasswordFile is where Prometheus reads the web password (password_file).
func webPasswordFile() string {
	return path.Join(catalog.ConfigDir(catalog.Prometheus), "web-password")
}

// webEndpoint is what an exporter-toolkit endpoint (Prometheus,
// Alertmanager, node_exporter, blackbox_exporter) gets: web.yml, the key
// pair, and the flag that names the web config. Its files change without
// a restart: the toolkit reads web.yml and the certificate on every
// request. Switching TLS on or off changes the unit's flag: a restart.
func (c *Context) webEndpoint(comp string) (files []File, dirs []Dir, kp *KeyPair, flags []string, checks []Check, err error) {
	sec := c.Security
	if !sec.TLS && !sec.BasicAuth {
		return nil, nil, nil, nil, nil, nil
	}
	user := catalog.UserName(comp)
	wc := templates.WebConfig{}
	if sec.TLS {
		wc.KeyPairFile = catalog.KeyPairRel
		dirs = append(dirs, Dir{Path: path.Join(catalog.ConfigDir(comp), path.Dir(catalog.KeyPairRel)), Mode: 0o750, Owner: "root", Group: user})
		kp = &KeyPair{Path: catalog.KeyPairPath(comp), Group: user, Cert: c.HostCert, Effect: EffectNone}
	}
	if sec.BasicAuth {
		wc.Users = map[string]string{catalog.WebUser: sec.Hash}
	}
	yml, err := templates.RenderWebConfig(wc)
	if err != nil {
		return nil, nil, nil, nil, nil, fmt.Errorf("%s web config: %w", comp, err)
	}
	webPath := path.Join(catalog.ConfigDir(comp), catalog.WebConfigName)
	files = append(files, File{Path: webPath, Content: yml, Mode: 0o640, Owner: "root", Group: user,
		Effect: EffectReload, Secrets: &Secrets{Format: "yaml", Keys: []string{catalog.WebUser}, Values: []string{sec.Hash}}})
	flags = append(flags, "--web.config.file="+webPath)
	// promtool checks the web config where there is one: on the Prometheus hosts.
	if c.Host.HasRole(catalog.Prometheus) {
		checks = append(checks, Check{Tool: "promtool", Args: []string{"check", "web-config", catalog.WebConfigName}, ToolFrom: catalog.Prometheus})
	}
	return files, dirs, kp, flags, checks, nil
}

// caBundleFile is the CA bundle a client component trusts, readable by it only.
func (c *Context) caBundleFile(comp string, effect Effect) []File {
	if !c.Security.TLS {
		return nil
	}
	return []File{{Path: catalog.CABundlePath(comp), Content: c.Security.CABundle, Mode: 0o640, Owner: "root",
		Group: catalog.UserName(comp), Effect: effect}}
}

// prometheusClient is how Prometheus on this host reaches obsbox's endpoints.
func (c *Context) prometheusClient() *templates.PrometheusClient {
	sec := c.Security
	if !sec.TLS && !sec.BasicAuth {
		return nil
	}
	pc := &templates.PrometheusClient{}
	if sec.TLS {
		pc.CAFile = catalog.CABundlePath(catalog.Prometheus)
	}
	if sec.BasicAuth {
		pc.Username, pc.PasswordFile = catalog.WebUser, webPasswordFile()
	}
	return pc
}

// certMetricsFile is the textfile collector's file with the host
// certificate's validity, which CertificateExpiringSoon watches.
const certMetricsFile = "obsbox-certificates.prom"

// certificateMetrics renders the validity of the host's certificate; nil
// when there is none yet.
func certificateMetrics(certPEM []byte) []byte {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	var b strings.Builder
	b.WriteString("# Managed by obsbox: the certificate obsbox issued to this host.\n")
	for _, m := range []struct {
		name, help string
		t          time.Time
	}{
		{"obsbox_certificate_not_before_seconds", "Start of the host certificate's validity.", cert.NotBefore},
		{"obsbox_certificate_not_after_seconds", "End of the host certificate's validity; apply renews it with a third left.", cert.NotAfter},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s{serial=\"%x\"} %d\n", m.name, m.help, m.name, m.name, cert.SerialNumber, m.t.Unix())
	}
	return []byte(b.String())
}

// secretValues lists the set secrets among vs, for a file's Secrets.
func secretValues(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
