//go:build e2e

package e2e_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The stacks obsbox installs are https with basic auth by default. Every
// request the tests make to a test host goes through webTransport, which
// reads the current stack's CA and web password (written beside its
// inventory by the first apply) and, when they exist, speaks https with
// them; tests that must see the bare endpoint use plainClient.
var (
	webMu  sync.Mutex
	webDir string // the folder of the inventory in use
	plain  = &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, DisableKeepAlives: true}
)

func init() { http.DefaultTransport = webTransport{} }

// useStackDir makes dir's CA and password the ones requests use.
func useStackDir(dir string) {
	webMu.Lock()
	webDir = dir
	webMu.Unlock()
}

// plainClient sends requests exactly as written: no TLS upgrade, no credentials.
func plainClient() *http.Client { return &http.Client{Timeout: 5 * time.Second, Transport: plain} }

// caClient trusts the stack's CA but sends no credentials.
func caClient(dir string) *http.Client {
	pool := x509.NewCertPool()
	if b, err := os.ReadFile(filepath.Join(dir, "obsbox-ca.crt")); err == nil {
		pool.AppendCertsFromPEM(b)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
}

// obsboxPorts are the endpoints obsbox installs (the webhook and the
// tests' own servers are other ports).
var obsboxPorts = map[string]bool{"9090": true, "9093": true, "9100": true, "9115": true, "3000": true, "8428": true}

type webTransport struct{}

func (webTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	webMu.Lock()
	dir := webDir
	webMu.Unlock()
	host := req.URL.Hostname()
	if dir == "" || !(strings.HasPrefix(host, "10.99.0.") || host == "127.0.0.1") {
		return plain.RoundTrip(req)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "obsbox-ca.crt"))
	if err != nil {
		return plain.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	if req.URL.Scheme == "http" && obsboxPorts[req.URL.Port()] {
		req.URL.Scheme = "https"
	}
	if pw, err := os.ReadFile(filepath.Join(dir, ".obsbox-web-password")); err == nil && req.Header.Get("Authorization") == "" && req.URL.User == nil {
		req.SetBasicAuth("obsbox", strings.TrimSpace(string(pw)))
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	t := &http.Transport{DialContext: plain.DialContext, DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}
	return t.RoundTrip(req)
}
