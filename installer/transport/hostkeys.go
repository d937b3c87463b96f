package transport

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsMu serialises every read and append of known_hosts files in the
// process: many hosts are dialled at once and may all record keys.
var knownHostsMu sync.Mutex

const acceptHint = "set accept_new_host_keys = true in the inventory's ssh block or pass --accept-new-host-keys"

// HostKeyUnknownError is returned when the host (or its bastion) presents
// a key that known_hosts has no entry for and accepting new keys is off.
type HostKeyUnknownError struct {
	Host        string // inventory host name
	Address     string // as written in known_hosts: "10.0.0.5" or "[10.0.0.5]:2222"
	Bastion     bool   // the key is the jump host's
	KeyType     string
	Fingerprint string // SHA256:...
	KnownHosts  string // the file consulted
}

func (e *HostKeyUnknownError) hostKeyError() {}

func (e *HostKeyUnknownError) Error() string {
	return fmt.Sprintf("%s %s has an unknown host key %s %s (not in %s); "+
		"compare the fingerprint with the host's (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then %s",
		e.what(), e.Address, e.KeyType, e.Fingerprint, e.KnownHosts, keyFileName(e.KeyType), acceptHint)
}

func (e *HostKeyUnknownError) what() string {
	if e.Bastion {
		return "bastion"
	}
	return "host"
}

// KnownKey is one known_hosts entry that matched the host.
type KnownKey struct {
	File        string
	Line        int
	KeyType     string
	Fingerprint string
}

// HostKeyChangedError is returned when known_hosts has keys for the host
// and the one it presents is none of them. It is never accepted
// automatically, whatever AcceptNewHostKeys says.
type HostKeyChangedError struct {
	Host        string
	Address     string
	Bastion     bool
	KeyType     string // what the host presented now
	Fingerprint string
	Known       []KnownKey
}

func (e *HostKeyChangedError) hostKeyError() {}

func (e *HostKeyChangedError) Error() string {
	what := "host"
	if e.Bastion {
		what = "bastion"
	}
	var known []string
	for _, k := range e.Known {
		known = append(known, fmt.Sprintf("%s:%d has %s %s", k.File, k.Line, k.KeyType, k.Fingerprint))
	}
	fix := ""
	if len(e.Known) > 0 {
		fix = fmt.Sprintf("; if the host was reinstalled, remove the old entry (ssh-keygen -R '%s' -f %s) and connect again",
			e.Address, e.Known[0].File)
	}
	return fmt.Sprintf("HOST KEY CHANGED for %s %s: it now presents %s %s but %s; "+
		"someone may be intercepting the connection, so nothing was sent%s",
		what, e.Address, e.KeyType, e.Fingerprint, strings.Join(known, ", "), fix)
}

func keyFileName(keyType string) string {
	switch keyType {
	case ssh.KeyAlgoED25519:
		return "ed25519"
	case ssh.KeyAlgoRSA:
		return "rsa"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ecdsa"
	}
	return "*"
}

// hostKeyVerifier checks presented host keys against one known_hosts file.
type hostKeyVerifier struct {
	host    string
	file    string
	accept  bool
	bastion bool
	log     *slog.Logger
}

// load reads the known_hosts file; a missing file is an empty one.
// Callers hold knownHostsMu.
func (v *hostKeyVerifier) load() (cb ssh.HostKeyCallback, hasAuthorities bool, err error) {
	data, err := os.ReadFile(v.file)
	if errors.Is(err, fs.ErrNotExist) {
		cb, err = knownhosts.New()
		return cb, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("known_hosts: %w", err)
	}
	cb, err = knownhosts.New(v.file)
	if err != nil {
		return nil, false, fmt.Errorf("known_hosts %s: %w", v.file, err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("@cert-authority")) {
			hasAuthorities = true
		}
	}
	return cb, hasAuthorities, nil
}

// probeKey matches no real host; checking it lists every key known for an
// address, because knownhosts reports them all on a mismatch.
var probeKey, _ = ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())

// hostKeyAlgorithms restricts negotiation to the key types known_hosts holds
// for addr. Otherwise a server offering a type that is not recorded (say
// ECDSA while the file has its Ed25519 key) would look like a changed key.
// Unknown hosts are offered plain keys only, Ed25519 first, so the key that
// gets recorded is the one ssh-keyscan would show.
func (v *hostKeyVerifier) hostKeyAlgorithms(addr string) ([]string, error) {
	knownHostsMu.Lock()
	cb, hasAuthorities, err := v.load()
	knownHostsMu.Unlock()
	if err != nil {
		return nil, err
	}
	if hasAuthorities {
		return nil, nil // certificates may be in use: keep the library's defaults
	}
	var want []knownhosts.KnownKey
	var keyErr *knownhosts.KeyError
	if err := cb(addr, placeholderAddr(addr), probeKey); errors.As(err, &keyErr) {
		want = keyErr.Want
	}
	var algos []string
	for _, k := range want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	if len(algos) > 0 {
		return algos, nil
	}
	algos = []string{ssh.KeyAlgoED25519}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !strings.Contains(a, "-cert-") && !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos, nil
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func placeholderAddr(addr string) net.Addr {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := net.LookupPort("tcp", port)
	return &net.TCPAddr{IP: net.IPv4zero, Port: p}
}

// check is the ssh.HostKeyCallback.
func (v *hostKeyVerifier) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	cb, _, err := v.load()
	if err != nil {
		return err
	}
	err = cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if errors.As(err, &keyErr) {
		if len(keyErr.Want) > 0 {
			return v.changed(hostname, key, keyErr.Want)
		}
		if !v.accept {
			return &HostKeyUnknownError{
				Host: v.host, Address: knownhosts.Normalize(hostname), Bastion: v.bastion,
				KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: v.file,
			}
		}
		return v.record(hostname, key)
	}
	var revoked *knownhosts.RevokedError
	if errors.As(err, &revoked) {
		return fmt.Errorf("host key %s %s of %s is revoked in %s:%d", key.Type(), ssh.FingerprintSHA256(key),
			knownhosts.Normalize(hostname), revoked.Revoked.Filename, revoked.Revoked.Line)
	}
	return fmt.Errorf("host key of %s: %w", knownhosts.Normalize(hostname), err)
}

func (v *hostKeyVerifier) changed(hostname string, key ssh.PublicKey, want []knownhosts.KnownKey) error {
	e := &HostKeyChangedError{
		Host: v.host, Address: knownhosts.Normalize(hostname), Bastion: v.bastion,
		KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
	}
	for _, k := range want {
		e.Known = append(e.Known, KnownKey{File: k.Filename, Line: k.Line,
			KeyType: k.Key.Type(), Fingerprint: ssh.FingerprintSHA256(k.Key)})
	}
	return e
}

// record appends the key for hostname. Callers hold knownHostsMu and have
// just re-read the file, so no other goroutine recorded it in between.
func (v *hostKeyVerifier) record(hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(v.file), 0o700); err != nil {
		return fmt.Errorf("recording host key: %w", err)
	}
	f, err := os.OpenFile(v.file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording host key: %w", err)
	}
	defer f.Close()
	line := knownhosts.Line([]string{hostname}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("recording host key in %s: %w", v.file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording host key in %s: %w", v.file, err)
	}
	v.log.Info("recorded new host key", "host", v.host, "address", knownhosts.Normalize(hostname),
		"bastion", v.bastion, "key", key.Type()+" "+ssh.FingerprintSHA256(key), "known_hosts", v.file)
	return nil
}
