package installer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/pki"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/installer/shell"
)

// CertMode says what a run does with host certificates beyond renewal.
type CertMode int

const (
	CertsRenew       CertMode = iota // issue new, renew due ones; a rotation's old CA still counts
	CertsKeepOldCA                   // as CertsRenew (the first step of a CA rotation)
	CertsReissue                     // issue every selected host a new certificate
	CertsMoveFromOld                 // issue only where the certificate is not of the current CA
)

// runSecurity is the run's TLS and basic auth, resolved once, after every
// host was read and before any is planned.
type runSecurity struct {
	comp      component.Security
	ca        *pki.CA
	caCreated bool
	planCA    bool           // no CA yet: plan shows one the first apply will make
	roots     *x509.CertPool // what the controller's own checks trust
}

// resolveSecurity loads (apply: creates) the CA, reads the web password and
// picks its hash: one found on a host when it matches, so nothing changes,
// else a new one.
func (r *Run) resolveSecurity(hash bool) error {
	inv := r.Opts.Inventory
	s := inv.Security
	sec := &runSecurity{comp: component.Security{TLS: s.TLS, BasicAuth: s.BasicAuth}}
	if s.TLS {
		ca, created, err := pki.Load(s.CACert, s.CAKey, s.OwnCA, r.applying)
		if errors.Is(err, fs.ErrNotExist) && !r.applying && !s.OwnCA {
			// Plan before the first apply: what a CA would look like.
			ca, err = pki.Ephemeral(r.now())
			sec.planCA = true
		}
		if err != nil {
			return fmt.Errorf("the CA: %w", err)
		}
		if r.Opts.RotateCA != nil {
			if ca, err = r.Opts.RotateCA(ca); err != nil {
				return err
			}
		}
		sec.ca, sec.caCreated = ca, created
		sec.comp.CABundle = ca.Bundle()
		sec.roots = x509.NewCertPool()
		sec.roots.AppendCertsFromPEM(sec.comp.CABundle)
	}
	if s.BasicAuth {
		pw, err := inv.WebPasswordSecret()
		if err != nil {
			return err
		}
		if len(pw.Value()) > 72 {
			return fmt.Errorf("the web password in %s is %d bytes; bcrypt reads at most 72", inv.WebPasswordPath(), len(pw.Value()))
		}
		sec.comp.Password = pw
		if hash {
			if sec.comp.Hash, err = r.webHash(pw.Value()); err != nil {
				return err
			}
		}
	}
	r.sec = sec
	r.contexts.security = sec.comp
	return nil
}

// webHash returns a bcrypt hash of password: one already on the hosts when
// it matches (each distinct hash is compared once: bcrypt is slow on
// purpose), else a new one.
func (r *Run) webHash(password string) (string, error) {
	tried := map[string]bool{}
	for _, h := range r.Hosts {
		if h.State == nil {
			continue
		}
		for _, p := range sortedKeysOf(h.State.WebHashes) {
			hash := h.State.WebHashes[p]
			if hash == "" || tried[hash] || len(tried) >= 4 {
				continue
			}
			tried[hash] = true
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil {
				return hash, nil
			}
		}
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hashing the web password: %w", err)
	}
	return string(b), nil
}

// certsPhase decides the host's certificate. A new one is made where it
// is used: the host makes its key (which never leaves it) and a request,
// the controller signs it. Plan only says why one would be issued.
type certsPhase struct{}

func (certsPhase) Title() string { return "certificate" }

func (certsPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if r.sec == nil || r.sec.ca == nil {
		return nil
	}
	inv := r.Opts.Inventory
	subj := pki.Subject{Name: h.Host.Name, Address: h.Host.Address}
	now := r.now()
	ca := r.sec.ca
	current := h.State.HostCert
	var reason string
	switch r.Opts.Certs {
	case CertsReissue:
		reason = "rotation"
	case CertsMoveFromOld:
		reason = ca.Renewal(current, subj, now, false)
	default:
		reason = ca.Renewal(current, subj, now, true)
	}
	if reason == "" || r.targetsOnly(h) {
		if reason != "" && current == nil {
			current = nil // a Prometheus host outside --hosts: its targets only
		}
		h.tls = &plan.HostTLS{Cert: current}
		return nil
	}
	if !r.applying {
		h.tls = &plan.HostTLS{Reason: reason}
		return nil
	}
	if !h.State.OpenSSL {
		return fmt.Errorf("openssl is needed on the host to make its TLS key (the key never leaves the host): install it (apt-get install openssl) or set security { tls = false }")
	}
	dir, csr, err := makeKey(ctx, h, subj.Name)
	if err != nil {
		return err
	}
	cert, err := ca.Sign(csr, subj, inv.Security.CertValidity, now)
	if err != nil {
		return fmt.Errorf("signing the host's certificate: %w", err)
	}
	h.tls = &plan.HostTLS{Cert: cert, NewKey: dir + "/" + catalog.HostKeyName, Reason: reason}
	return nil
}

// makeKey has the host make a P-256 key in a root-only work folder (one a
// later run removes if this one dies) and print a request signed by it.
func makeKey(ctx context.Context, h *HostRun, name string) (dir string, csr []byte, err error) {
	script := strings.Join([]string{
		"set -eu",
		"umask 077",
		"export LC_ALL=C",
		"d=$(mktemp -d " + shell.Quote("/var/tmp/obsbox-apply.XXXXXX") + ")",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$d\"/" + shell.Quote(catalog.HostKeyName) + " 2>\"$d\"/err || { cat \"$d\"/err >&2; rm -rf \"$d\"; exit 1; }",
		"printf '%s\\n' \"$d\"",
		"openssl req -new -key \"$d\"/" + shell.Quote(catalog.HostKeyName) + " -subj " + shell.Quote("/CN="+name) + " -outform PEM 2>\"$d\"/err || { cat \"$d\"/err >&2; rm -rf \"$d\"; exit 1; }",
		"rm -f \"$d\"/err",
	}, "\n")
	out, err := h.Conn.Run(ctx, script)
	if err != nil {
		return "", nil, fmt.Errorf("making the host's key and certificate request: %w", err)
	}
	first, rest, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(first, "/var/tmp/obsbox-apply.") || strings.ContainsAny(first, " '\"\\") {
		return "", nil, fmt.Errorf("making the host's key: unexpected answer %q", clipText(first))
	}
	return first, []byte(rest), nil
}

func clipText(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// endpoint is how the controller reaches a component's endpoint on the
// host: through the SSH connection to 127.0.0.1, over TLS checked against
// the obsbox CA for the host's name, with the web user's credentials.
func (h *HostRun) endpoint(r *Run, port int) (*http.Client, string) {
	tr := &http.Transport{
		DialContext:       h.Conn.DialContext,
		DisableKeepAlives: true,
	}
	scheme := "http"
	var rt http.RoundTripper = tr
	if sec := r.sec; sec != nil {
		if sec.comp.TLS {
			scheme = "https"
			tr.TLSClientConfig = &tls.Config{RootCAs: sec.roots, ServerName: h.Host.Name, MinVersion: tls.VersionTLS12}
		}
		if sec.comp.BasicAuth {
			rt = basicAuth{next: tr, user: catalog.WebUser, password: sec.comp.Password.Value()}
		}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: rt}, fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
}

type basicAuth struct {
	next           http.RoundTripper
	user, password string
}

func (b basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(req)
}

func sortedKeysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
