// Package pki is obsbox's certificate authority: it keeps the CA beside the
// inventory, signs the hosts' certificate requests (the keys stay on the
// hosts) and says when a host certificate must be renewed.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/obsbox/obsbox/internal/owner"
)

// caValidity is the generated CA's life; it is rotated with `certs rotate --ca`.
const caValidity = 10 * 365 * 24 * time.Hour

// PreviousSuffix names the retired CA certificate kept, during a rotation,
// beside the current one: obsbox-ca.crt -> obsbox-ca.previous.crt.
const PreviousSuffix = ".previous.crt"

// CA is the authority that signs host certificates.
type CA struct {
	CertPath, KeyPath string
	Cert              *x509.Certificate
	CertPEM           []byte
	key               crypto.Signer
	// Previous is the CA a rotation retired, trusted until every host moved.
	Previous    *x509.Certificate
	PreviousPEM []byte
}

// PreviousPath is where the retired CA of a rotation is kept.
func PreviousPath(certPath string) string {
	return strings.TrimSuffix(certPath, filepath.Ext(certPath)) + PreviousSuffix
}

// Load reads the CA at certPath/keyPath. With create, a missing CA is
// generated there (key 0600); the user's own CA (own) is never created.
func Load(certPath, keyPath string, own, create bool) (*CA, bool, error) {
	ca, err := read(certPath, keyPath)
	if err == nil {
		return ca, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || own || !create {
		if own && errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("the CA given in security.ca_cert/ca_key cannot be read: %w", err)
		}
		return nil, false, err
	}
	if _, serr := os.Stat(certPath); serr == nil {
		return nil, false, fmt.Errorf("%s exists but its key %s does not: restore the key, or move both away to have a new CA made", certPath, keyPath)
	}
	ca, err = generate(certPath, keyPath, time.Now())
	return ca, err == nil, err
}

func read(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate (basic constraints say CA:FALSE)", certPath)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("%s does not hold the key of %s", keyPath, certPath)
	}
	// During a rotation the file holds the new CA and then the old one (what
	// users trust meanwhile); the CA itself is the first.
	ca := &CA{CertPath: certPath, KeyPath: keyPath, Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key}
	if prevPEM, err := os.ReadFile(PreviousPath(certPath)); err == nil {
		prev, err := ParseCert(prevPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", PreviousPath(certPath), err)
		}
		ca.Previous, ca.PreviousPEM = prev, prevPEM
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return ca, nil
}

// readKey reads a private key that only its owner may read.
func readKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: group or others may read or change the CA key; \"chmod 600 %s\" (and rotate the CA with `obsbox certs rotate --ca` if others could read it)", path, perm, path)
	}
	if uid, foreign := owner.Foreign(fi); foreign {
		return nil, fmt.Errorf("%s belongs to user id %d, not to you or root, who could replace it", path, uid)
	}
	b := make([]byte, 64<<10)
	n, _ := f.Read(b)
	block, _ := pem.Decode(b[:n])
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM private key", path)
	}
	var k any
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the private key (%s)", path, block.Type)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type", path)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// generate makes a new CA and writes it: the key first, 0600, created
// exclusively, so two runs never make two CAs.
func generate(certPath, keyPath string, now time.Time) (*CA, error) {
	ca, keyPEM, err := newCA(now)
	if err != nil {
		return nil, err
	}
	if err := writeExclusive(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("cannot write the CA key: %w", err)
	}
	if err := writeAtomic(certPath, ca.CertPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return nil, fmt.Errorf("cannot write the CA certificate: %w", err)
	}
	ca.CertPath, ca.KeyPath = certPath, keyPath
	return ca, nil
}

// Ephemeral is a CA that exists only in memory: what plan shows before the
// first apply creates the real one.
func Ephemeral(now time.Time) (*CA, error) {
	ca, _, err := newCA(now)
	return ca, err
}

func newCA(now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "obsbox CA " + now.UTC().Format("2006-01-02 15:04:05"), Organization: []string{"obsbox"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, keyPEM, nil
}

func writeExclusive(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".obsbox-tmp"
	os.Remove(tmp)
	if err := writeExclusive(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Rotate retires the current CA (kept as the previous one, trusted until
// every host has moved) and makes a new one in its place.
func (ca *CA) Rotate(now time.Time) (*CA, error) {
	if ca.Previous != nil {
		return nil, fmt.Errorf("a CA rotation is still under way (%s exists): run `obsbox certs rotate` or `obsbox apply` until every host has a certificate of the new CA first", PreviousPath(ca.CertPath))
	}
	if err := writeAtomic(PreviousPath(ca.CertPath), ca.CertPEM, 0o644); err != nil {
		return nil, err
	}
	oldKey := ca.KeyPath + ".retired"
	if err := os.Rename(ca.KeyPath, oldKey); err != nil {
		return nil, err
	}
	next, err := generate(ca.CertPath, ca.KeyPath, now)
	if err != nil {
		os.Rename(oldKey, ca.KeyPath)
		os.Remove(PreviousPath(ca.CertPath))
		return nil, err
	}
	os.Remove(oldKey) // the retired key signs nothing more
	next.Previous, next.PreviousPEM = ca.Cert, ca.CertPEM
	// Whoever trusts the CA file trusts both until every host has moved.
	if err := writeAtomic(next.CertPath, next.Bundle(), 0o644); err != nil {
		return nil, err
	}
	return next, nil
}

// FinishRotation stops trusting the previous CA: every host has moved.
func (ca *CA) FinishRotation() error {
	if ca.Previous == nil {
		return nil
	}
	if err := writeAtomic(ca.CertPath, ca.CertPEM, 0o644); err != nil {
		return err
	}
	if err := os.Remove(PreviousPath(ca.CertPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ca.Previous, ca.PreviousPEM = nil, nil
	return nil
}

// Bundle is what every host trusts: the current CA, and the previous one
// while a rotation is under way.
func (ca *CA) Bundle() []byte {
	out := bytes.Clone(ca.CertPEM)
	if ca.PreviousPEM != nil {
		out = append(out, ca.PreviousPEM...)
	}
	return out
}

// ID names a CA certificate in tables: its common name and the start of its fingerprint.
func ID(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return c.Subject.CommonName + " (" + hex.EncodeToString(s[:4]) + ")"
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("no randomness: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

// Subject is what a host certificate is for.
type Subject struct {
	Name    string // the inventory's host name
	Address string // its address: an IP or a DNS name
}

func (s Subject) sans() (dns []string, ips []net.IP) {
	dns = append(dns, s.Name)
	if ip := net.ParseIP(s.Address); ip != nil {
		ips = append(ips, ip)
	} else if s.Address != s.Name {
		dns = append(dns, s.Address)
	}
	return dns, ips
}

// Sign checks that the request is signed by the key it carries and issues
// a certificate for subject, whatever names the request asked for: the
// inventory, not the host, says what a host is called.
func (ca *CA) Sign(csrPEM []byte, s Subject, validity time.Duration, now time.Time) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("the host sent no PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the host's certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the host's certificate request is not signed by its key: %w", err)
	}
	dns, ips := s.sans()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.Name, Organization: []string{"obsbox"}},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    now.Add(-5 * time.Minute), // a host clock a little behind still accepts it
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client auth too: Alertmanager's gossip is mutual TLS.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ParseCert reads the first certificate of a PEM file.
func ParseCert(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("no PEM certificate found")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// Renewal says why a host's certificate must be issued anew, or "" when
// the one it has serves: signed by the current CA (or, with keepPrevious,
// by the CA a rotation retired: until every client trusts the new one, a
// host keeps its old certificate), for the host's names, with more than a
// third of its life left.
func (ca *CA) Renewal(certPEM []byte, s Subject, now time.Time, keepPrevious bool) string {
	if len(certPEM) == 0 {
		return "new"
	}
	cert, err := ParseCert(certPEM)
	if err != nil {
		return "unreadable"
	}
	if cert.CheckSignatureFrom(ca.Cert) != nil &&
		(!keepPrevious || ca.Previous == nil || cert.CheckSignatureFrom(ca.Previous) != nil) {
		return "issued by another CA"
	}
	dns, ips := s.sans()
	if !sameStrings(cert.DNSNames, dns) || !sameIPs(cert.IPAddresses, ips) {
		return "names changed"
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	if left := cert.NotAfter.Sub(now); left < life/3 {
		if left <= 0 {
			return "expired"
		}
		return fmt.Sprintf("expires in %s", Days(left))
	}
	return ""
}

// Days prints a duration in whole days (hours below one).
func Days(d time.Duration) string {
	if d < 24*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameIPs(a, b []net.IP) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
