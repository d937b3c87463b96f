package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func csrFor(t *testing.T, cn string, dns ...string) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCAMadeOnceKeptPrivateAndSigns(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "obsbox-ca.crt"), filepath.Join(dir, "obsbox-ca.key")
	if _, _, err := Load(cert, key, false, false); err == nil {
		t.Fatal("a missing CA loaded without create")
	}
	ca, created, err := Load(cert, key, false, true)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", fi.Mode())
	}
	again, created, err := Load(cert, key, false, true)
	if err != nil || created || string(again.CertPEM) != string(ca.CertPEM) {
		t.Fatalf("second load made a new CA (%v, %v)", created, err)
	}
	now := time.Now()
	subj := Subject{Name: "h1", Address: "10.0.0.5"}
	// The request asks for other names: the inventory's win.
	pemCert, err := ca.Sign(csrFor(t, "evil", "bank.example"), subj, 90*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCert(pemCert)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DNSNames) != 1 || c.DNSNames[0] != "h1" || len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) {
		t.Errorf("SANs %v %v, want h1 and 10.0.0.5", c.DNSNames, c.IPAddresses)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.Bundle())
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "h1", CurrentTime: now}); err != nil {
		t.Errorf("issued certificate does not verify for h1: %v", err)
	}
	if r := ca.Renewal(pemCert, subj, now, true); r != "" {
		t.Errorf("fresh certificate wants renewal: %s", r)
	}
	if r := ca.Renewal(pemCert, subj, now.Add(61*24*time.Hour), true); !strings.HasPrefix(r, "expires in") {
		t.Errorf("certificate with under a third left: %q, want renewal", r)
	}
	if r := ca.Renewal(pemCert, Subject{Name: "h1", Address: "10.0.0.6"}, now, true); r != "names changed" {
		t.Errorf("address changed: %q", r)
	}
	if r := ca.Renewal(nil, subj, now, true); r != "new" {
		t.Errorf("no certificate: %q", r)
	}
	// Loose CA key: refused.
	os.Chmod(key, 0o644)
	if _, _, err := Load(cert, key, false, true); err == nil || !strings.Contains(err.Error(), "0644") {
		t.Errorf("loose CA key loaded: %v", err)
	}
	os.Chmod(key, 0o600)
	// A request whose signature does not match its key is refused.
	bad := csrFor(t, "h1")
	block, _ := pem.Decode(bad)
	block.Bytes[len(block.Bytes)-3] ^= 0xff
	if _, err := ca.Sign(pem.EncodeToMemory(block), subj, time.Hour, now); err == nil {
		t.Errorf("a request with a broken signature was signed")
	}
}

func TestRotationTrustsBothUntilFinished(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "obsbox-ca.crt"), filepath.Join(dir, "obsbox-ca.key")
	old, _, err := Load(cert, key, false, true)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	subj := Subject{Name: "h1", Address: "10.0.0.5"}
	hostCert, _ := old.Sign(csrFor(t, "h1"), subj, 90*24*time.Hour, now)
	next, err := old.Rotate(now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := next.Rotate(now); err == nil {
		t.Errorf("a second rotation started before the first finished")
	}
	loaded, _, err := Load(cert, key, false, false)
	if err != nil || loaded.Previous == nil {
		t.Fatalf("reloaded CA lost the previous one: %v", err)
	}
	if n := strings.Count(string(loaded.Bundle()), "BEGIN CERTIFICATE"); n != 2 {
		t.Errorf("bundle during rotation holds %d CAs, want 2", n)
	}
	if b, _ := os.ReadFile(cert); strings.Count(string(b), "BEGIN CERTIFICATE") != 2 {
		t.Errorf("the CA file users trust does not hold both CAs during the rotation")
	}
	if r := loaded.Renewal(hostCert, subj, now, true); r != "" {
		t.Errorf("old-CA certificate during rotation's first step: %q, want kept", r)
	}
	if r := loaded.Renewal(hostCert, subj, now, false); r != "issued by another CA" {
		t.Errorf("old-CA certificate when moving hosts: %q", r)
	}
	if err := loaded.FinishRotation(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(cert); strings.Count(string(b), "BEGIN CERTIFICATE") != 1 {
		t.Errorf("the CA file still holds the old CA after the rotation")
	}
	final, _, _ := Load(cert, key, false, false)
	if final.Previous != nil || strings.Count(string(final.Bundle()), "BEGIN CERTIFICATE") != 1 {
		t.Errorf("old CA still trusted after the rotation finished")
	}
	if _, err := os.Stat(key + ".retired"); err == nil {
		t.Errorf("the retired CA key was kept")
	}
}
