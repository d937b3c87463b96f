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
	"sync"
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
	CertsReissue                     // issue every selected host a new certificate
	CertsMoveFromOld                 // issue only where the certificate is not of the current CA
	CertsKeep                        // issue none (upgrade, rollback): a host without one fails
)

// runSecurity is the run's TLS and basic auth, resolved once, after every
// host was read and before any is planned.
type runSecurity struct {
	comp      component.Security
	ca        *pki.CA
	caCreated bool

	hashMu  sync.Mutex
	matches map[string]bool // bcrypt hash -> whether it is the password's
	fresh   string          // the run's new hash, for hosts without a matching one
	planCA  bool            // no CA yet: plan shows one the first apply will make
	roots   *x509.CertPool  // what the controller's own checks trust
}

// resolveSecurity loads (apply: creates) the CA and reads the web password,
// once, before any host is contacted. Each host's hash is its own while it
// matches (hostHash), so a no-op apply changes nothing and no host waits
// for another's state.
func (r *Run) resolveSecurity() error {
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
	}
	r.sec = sec
	r.contexts.security = sec.comp
	return nil
}

// hostHash is the web user's hash for h: the one in h's web configs when
// it matches the password (each distinct hash is compared once per run:
// bcrypt is slow on purpose), else one new hash shared by the run.
func (r *Run) hostHash(h *HostRun) (string, error) {
	sec := r.sec
	pw := []byte(sec.comp.Password.Value())
	sec.hashMu.Lock()
	defer sec.hashMu.Unlock()
	if sec.matches == nil {
		sec.matches = map[string]bool{}
	}
	if h.State != nil {
		for _, p := range sortedKeysOf(h.State.WebHashes) {
			hash := h.State.WebHashes[p]
			if hash == "" {
				continue
			}
			ok, seen := sec.matches[hash]
			if !seen {
				ok = bcrypt.CompareHashAndPassword([]byte(hash), pw) == nil
				sec.matches[hash] = ok
			}
			if ok {
				return hash, nil
			}
		}
	}
	if sec.fresh == "" {
		b, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
		if err != nil {
			return "", fmt.Errorf("hashing the web password: %w", err)
		}
		sec.fresh = string(b)
		sec.matches[sec.fresh] = true
	}
	return sec.fresh, nil
}

// certsPhase decides the host's certificate. A new one is made where it
// is used: the host makes its key (which never leaves it) and a request,
// the controller signs it. Plan only says why one would be issued.
type certsPhase struct{}

func (certsPhase) Title() string { return "certificate" }

func (certsPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if r.sec != nil && r.sec.comp.BasicAuth {
		hash, err := r.hostHash(h)
		if err != nil {
			return err
		}
		h.webHash = hash
	}
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
	case CertsKeep:
		if current == nil && !r.targetsOnly(h) {
			return fmt.Errorf("the host has no TLS certificate yet: run obsbox apply first")
		}
	default:
		reason = ca.Renewal(current, subj, now, true)
	}
	// A Prometheus host outside --hosts takes part for its targets only: its
	// certificate waits for a run that names it (refusal keeps a clear-text
	// one out of the run).
	if reason == "" || r.targetsOnly(h) {
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
	// Kept alive: a gate's passes and checks reuse one tunnel and one TLS
	// session instead of paying their round trips again; callers close the
	// idle ones when done.
	tr := &http.Transport{
		DialContext:     h.Conn.DialContext,
		IdleConnTimeout: 30 * time.Second,
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

// CloseIdleConnections passes http.Client's on to the transport.
func (b basicAuth) CloseIdleConnections() {
	if c, ok := b.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func sortedKeysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
