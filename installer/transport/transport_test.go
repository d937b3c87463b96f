package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) {
	// Never touch the real ~/.ssh, agent or /var/tmp.
	home, err := os.MkdirTemp("", "transport-home-")
	if err != nil {
		panic(err)
	}
	staging, err := os.MkdirTemp("", "transport-staging-")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	os.Unsetenv("SSH_AUTH_SOCK")
	stagingRoot = staging
	retryBackoff = 10 * time.Millisecond
	code := m.Run()
	os.RemoveAll(home)
	os.RemoveAll(staging)
	os.Exit(code)
}

// fixture is a server with one authorized key and a config that reaches it.
type fixture struct {
	srv *testServer
	key clientKey
	cfg Config
	dir string
}

func newFixture(t testing.TB, opts ...serverOption) *fixture {
	t.Helper()
	dir := t.TempDir()
	key := writeClientKey(t, dir, "id_test", "")
	srv := newTestServer(t, []ssh.PublicKey{key.pub}, opts...)
	return &fixture{srv: srv, key: key, dir: dir, cfg: Config{
		Host:              "h1",
		Address:           "127.0.0.1",
		Port:              srv.port,
		PrivateKey:        key.path,
		KnownHosts:        filepath.Join(dir, "known_hosts"),
		AcceptNewHostKeys: true,
		ConnectTimeout:    5 * time.Second,
	}}
}

func (f *fixture) dial(t testing.TB) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func knownHostsLine(t *testing.T, addr string, key ssh.PublicKey) string {
	t.Helper()
	return knownhosts.Line([]string{addr}, key) + "\n"
}

func TestHostKeyUnknownIsRefused(t *testing.T) {
	f := newFixture(t)
	f.cfg.AcceptNewHostKeys = false
	_, err := Dial(context.Background(), f.cfg)
	var unknown *HostKeyUnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("want *HostKeyUnknownError, got %v", err)
	}
	fp := ssh.FingerprintSHA256(f.srv.hostKeys[0].PublicKey())
	for _, want := range []string{fp, "accept_new_host_keys = true", "--accept-new-host-keys",
		fmt.Sprintf("[127.0.0.1]:%d", f.srv.port)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if unknown.Fingerprint != fp || unknown.Host != "h1" || unknown.Bastion {
		t.Errorf("unexpected fields: %+v", unknown)
	}
	if _, err := os.Stat(f.cfg.KnownHosts); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("known_hosts was written although accepting was off: %v", err)
	}
	if n := f.srv.accepted.Load(); n != 1 {
		t.Errorf("a host-key refusal must not be retried; server saw %d connections", n)
	}
}

func TestHostKeyAcceptedIsRecorded(t *testing.T) {
	f := newFixture(t)
	f.cfg.KnownHosts = filepath.Join(f.dir, "new", "ssh", "known_hosts") // folders missing
	c := f.dial(t)
	c.Close()

	data, err := os.ReadFile(f.cfg.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if want := knownHostsLine(t, f.srv.addr, f.srv.hostKeys[0].PublicKey()); string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
	for p, mode := range map[string]os.FileMode{f.cfg.KnownHosts: 0o600, filepath.Dir(f.cfg.KnownHosts): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), mode)
		}
	}

	f.cfg.AcceptNewHostKeys = false
	f.dial(t) // now known
	if data2, _ := os.ReadFile(f.cfg.KnownHosts); !bytes.Equal(data, data2) {
		t.Errorf("second dial changed known_hosts: %q", data2)
	}
}

func TestHostKeyAppendKeepsExistingLines(t *testing.T) {
	f := newFixture(t)
	other := newEd25519Signer(t).PublicKey()
	existing := strings.TrimSuffix(knownHostsLine(t, "10.0.0.1", other), "\n") // no final newline
	if err := os.WriteFile(f.cfg.KnownHosts, []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	f.dial(t)
	data, _ := os.ReadFile(f.cfg.KnownHosts)
	want := existing + "\n" + knownHostsLine(t, f.srv.addr, f.srv.hostKeys[0].PublicKey())
	if string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
}

func TestHostKeyChangedIsRefusedEvenWhenAccepting(t *testing.T) {
	f := newFixture(t)
	old := newEd25519Signer(t).PublicKey()
	content := "# comment\n" + knownHostsLine(t, f.srv.addr, old)
	if err := os.WriteFile(f.cfg.KnownHosts, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(context.Background(), f.cfg) // AcceptNewHostKeys is on
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("want *HostKeyChangedError, got %v", err)
	}
	for _, want := range []string{"CHANGED", ssh.FingerprintSHA256(old),
		ssh.FingerprintSHA256(f.srv.hostKeys[0].PublicKey()), f.cfg.KnownHosts + ":2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if data, _ := os.ReadFile(f.cfg.KnownHosts); string(data) != content {
		t.Errorf("known_hosts was modified: %q", data)
	}
	if len(f.srv.loginUsers()) != 0 {
		t.Error("logged in to a host whose key changed")
	}
}

func TestKnownHostsEntryForms(t *testing.T) {
	ed := newEd25519Signer(t)
	rsaKey := newRSASigner(t)
	tests := []struct {
		name  string
		entry func(addr string, port int) string
		ok    bool
	}{
		{"bracketed host and port", func(addr string, _ int) string {
			return knownhosts.Line([]string{addr}, ed.PublicKey())
		}, true},
		{"hashed", func(addr string, _ int) string {
			return knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " +
				string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(ed.PublicKey())))
		}, true},
		{"only the other key type known", func(addr string, _ int) string {
			return knownhosts.Line([]string{addr}, rsaKey.PublicKey())
		}, true},
		{"host without port means port 22", func(string, int) string {
			return "127.0.0.1 " + string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(ed.PublicKey())))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withHostKeys(ed, rsaKey))
			f.cfg.AcceptNewHostKeys = false
			if err := os.WriteFile(f.cfg.KnownHosts, []byte(tt.entry(f.srv.addr, f.srv.port)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Dial(context.Background(), f.cfg)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			var unknown *HostKeyUnknownError
			if !errors.As(err, &unknown) {
				t.Fatalf("want *HostKeyUnknownError, got %v", err)
			}
		})
	}
}

func TestConcurrentAcceptsRecordEachKeyOnce(t *testing.T) {
	dir := t.TempDir()
	key := writeClientKey(t, dir, "id", "")
	kh := filepath.Join(dir, "known_hosts")
	var servers []*testServer
	for range 4 {
		servers = append(servers, newTestServer(t, []ssh.PublicKey{key.pub}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 20 {
		srv := servers[i%len(servers)]
		wg.Go(func() {
			c, err := Dial(context.Background(), Config{Host: fmt.Sprintf("h%d", i), Address: "127.0.0.1",
				Port: srv.port, PrivateKey: key.path, KnownHosts: kh, AcceptNewHostKeys: true})
			if err != nil {
				errs <- err
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	data, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(servers) {
		t.Fatalf("want one line per server, got:\n%s", data)
	}
	for _, srv := range servers {
		if !strings.Contains(string(data), knownHostsLine(t, srv.addr, srv.hostKeys[0].PublicKey())) {
			t.Errorf("no entry for %s", srv.addr)
		}
	}
}

// --- authentication ---

func startAgent(t *testing.T, keys ...any) {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	// Unix socket paths are short; t.TempDir() can be too long.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func TestAgentAuth(t *testing.T) {
	f := newFixture(t)
	wrong := writeClientKey(t, f.dir, "wrong", "")
	startAgent(t, wrong.priv, f.key.priv) // a key the host refuses comes first
	f.cfg.PrivateKey = ""
	c := f.dial(t)
	if out, err := c.Run(context.Background(), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
}

func TestDefaultKeyFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	key := writeClientKey(t, filepath.Join(home, ".ssh"), "id_ed25519", "")
	srv := newTestServer(t, []ssh.PublicKey{key.pub})
	c, err := Dial(context.Background(), Config{Host: "h1", Address: "127.0.0.1", Port: srv.port, AcceptNewHostKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The default known_hosts is ~/.ssh/known_hosts.
	if _, err := os.Stat(filepath.Join(home, ".ssh", "known_hosts")); err != nil {
		t.Error(err)
	}
}

func TestNoKeyAtAll(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	_, err := Dial(context.Background(), Config{Host: "h1", Address: "127.0.0.1", Port: 1})
	if err == nil || !strings.Contains(err.Error(), "no SSH key") {
		t.Fatalf("got %v", err)
	}
}

func TestLoginRefusedIsNotRetried(t *testing.T) {
	f := newFixture(t)
	f.cfg.PrivateKey = writeClientKey(t, f.dir, "other", "").path
	_, err := Dial(context.Background(), f.cfg)
	if err == nil || strings.HasPrefix(err.Error(), "h1") || !strings.Contains(err.Error(), "login refused") {
		t.Fatalf("got %v", err)
	}
	if n := f.srv.accepted.Load(); n != 1 {
		t.Errorf("login failure was retried: %d connections", n)
	}
}

// encryptedKeyPEM is one passphrase-protected OpenSSH key shared by the
// tests: bcrypt_pbkdf makes every encryption and decryption slow.
var encryptedKeyPEM = sync.OnceValues(func() ([]byte, ed25519.PrivateKey) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(testPassphrase))
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(block), priv
})

const testPassphrase = "correct horse"

// writeEncryptedKey copies the shared encrypted key to dir/name: each path
// is decrypted (and cached) on its own.
func writeEncryptedKey(t *testing.T, dir, name string) clientKey {
	t.Helper()
	data, priv := encryptedKeyPEM()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(priv.Public())
	return clientKey{path: p, priv: priv, pub: pub}
}

// writeLegacyEncryptedRSA writes an old-style encrypted PEM key, which
// carries no public key; withPub adds the usual .pub file beside it.
func writeLegacyEncryptedRSA(t *testing.T, dir string, withPub bool) (string, ssh.PublicKey) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 legacy encrypted PEM keys still exist in the wild
	block, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(priv), //nolint:staticcheck
		[]byte(testPassphrase), x509.PEMCipherAES128)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "legacy_rsa")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if withPub {
		if err := os.WriteFile(p+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p, pub
}

func TestPassphraseProtectedKey(t *testing.T) {
	t.Run("without a passphrase function", func(t *testing.T) {
		f := newFixture(t)
		key := writeEncryptedKey(t, f.dir, "enc")
		f.srv.authorize(key.pub)
		f.cfg.PrivateKey = key.path
		_, err := Dial(context.Background(), f.cfg)
		if err == nil || strings.HasPrefix(err.Error(), "h1") ||
			!strings.Contains(err.Error(), "key "+key.path+" is passphrase-protected: run on a terminal or load it into ssh-agent") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("asked once for many dials", func(t *testing.T) {
		f := newFixture(t)
		key := writeEncryptedKey(t, f.dir, "enc")
		f.srv.authorize(key.pub)
		f.cfg.PrivateKey = key.path
		var asked atomic.Int32
		f.cfg.Passphrase = func(p string) ([]byte, error) {
			asked.Add(1)
			if p != key.path {
				t.Errorf("asked for %s", p)
			}
			return []byte(testPassphrase), nil
		}
		f.dial(t)
		f.dial(t)
		if n := asked.Load(); n != 1 {
			t.Errorf("passphrase asked %d times, want 1", n)
		}
	})
	t.Run("slow typing does not time the connection out", func(t *testing.T) {
		f := newFixture(t)
		key := writeEncryptedKey(t, f.dir, "enc")
		f.srv.authorize(key.pub)
		f.cfg.PrivateKey = key.path
		f.cfg.ConnectTimeout = 500 * time.Millisecond
		f.cfg.Passphrase = func(string) ([]byte, error) {
			time.Sleep(1500 * time.Millisecond) // someone typing
			return []byte(testPassphrase), nil
		}
		f.dial(t)
		if n := f.srv.accepted.Load(); n != 1 {
			t.Errorf("%d connection attempts, want 1", n)
		}
	})
	t.Run("held by ssh-agent", func(t *testing.T) {
		f := newFixture(t)
		key := writeEncryptedKey(t, f.dir, "enc")
		f.srv.authorize(key.pub)
		f.cfg.PrivateKey = key.path
		startAgent(t, key.priv)
		f.dial(t) // no Passphrase function needed
	})
	t.Run("encrypted default key skipped when another works", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		enc := writeEncryptedKey(t, filepath.Join(home, ".ssh"), "id_ed25519")
		plain := writeClientKey(t, filepath.Join(home, ".ssh"), "id_rsa", "") // only the name matters
		srv := newTestServer(t, []ssh.PublicKey{enc.pub, plain.pub})
		c, err := Dial(context.Background(), Config{Host: "h1", Address: "127.0.0.1", Port: srv.port, AcceptNewHostKeys: true})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("legacy PEM key retyped after wrong passphrases", func(t *testing.T) {
		f := newFixture(t)
		p, pub := writeLegacyEncryptedRSA(t, f.dir, true)
		f.srv.authorize(pub)
		f.cfg.PrivateKey = p
		answers := []string{"wrong", "also wrong", testPassphrase}
		var asked int
		f.cfg.Passphrase = func(string) ([]byte, error) {
			asked++
			return []byte(answers[asked-1]), nil
		}
		f.dial(t)
		if asked != 3 {
			t.Errorf("asked %d times", asked)
		}
	})
	t.Run("legacy PEM key without .pub and a wrong passphrase", func(t *testing.T) {
		f := newFixture(t)
		p, pub := writeLegacyEncryptedRSA(t, f.dir, false)
		f.srv.authorize(pub)
		f.cfg.PrivateKey = p
		f.cfg.Passphrase = func(string) ([]byte, error) { return []byte("nope"), nil }
		_, err := Dial(context.Background(), f.cfg)
		if err == nil || !strings.Contains(err.Error(), "key "+p+": wrong passphrase (3 attempts)") {
			t.Fatalf("got %v", err)
		}
		if n := f.srv.accepted.Load(); n != 0 {
			t.Errorf("connected although the key could not be used: %d", n)
		}
	})
}

// --- connecting ---

func TestBastion(t *testing.T) {
	f := newFixture(t)
	jump := newTestServer(t, []ssh.PublicKey{f.key.pub})
	f.cfg.Bastion = jump.addr

	c1 := f.dial(t)
	cfg2 := f.cfg
	cfg2.Host = "h2"
	c2, err := Dial(context.Background(), cfg2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Conn{c1, c2} {
		if out, err := c.Run(context.Background(), "echo through"); err != nil || string(out) != "through\n" {
			t.Fatalf("Run = %q, %v", out, err)
		}
	}
	if n := jump.tunnels.Load(); n != 2 {
		t.Errorf("bastion opened %d tunnels, want 2", n)
	}
	if n := jump.accepted.Load(); n != 1 {
		t.Errorf("hosts behind one bastion should share one connection to it; it saw %d", n)
	}
	// Both keys were checked and recorded.
	data, _ := os.ReadFile(f.cfg.KnownHosts)
	for _, srv := range []*testServer{f.srv, jump} {
		if !strings.Contains(string(data), knownHostsLine(t, srv.addr, srv.hostKeys[0].PublicKey())) {
			t.Errorf("no known_hosts entry for %s", srv.addr)
		}
	}
	c1.Close()
	c2.Close()
	waitFor(t, "the bastion connection to close", func() bool { return jump.liveConns() == 0 })
}

func TestBastionHostKeyUnknown(t *testing.T) {
	f := newFixture(t)
	jump := newTestServer(t, []ssh.PublicKey{f.key.pub})
	f.cfg.Bastion = jump.addr
	f.cfg.AcceptNewHostKeys = false
	_, err := Dial(context.Background(), f.cfg)
	var unknown *HostKeyUnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("want *HostKeyUnknownError, got %v", err)
	}
	if !unknown.Bastion || unknown.Host != "h1" || unknown.Fingerprint != ssh.FingerprintSHA256(jump.hostKeys[0].PublicKey()) {
		t.Errorf("unexpected %+v", unknown)
	}
	if !strings.Contains(err.Error(), "bastion") {
		t.Errorf("error %q does not name the bastion", err)
	}
}

// A refused connection fails at once: nothing listens, and waiting will not change that.
func TestConnectionRefusedFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	dir := t.TempDir()
	key := writeClientKey(t, dir, "id", "")
	_, err = Dial(context.Background(), Config{Host: "h9", Address: "127.0.0.1", Port: port,
		PrivateKey: key.path, KnownHosts: filepath.Join(dir, "kh")})
	if err == nil {
		t.Fatal("dial succeeded")
	}
	if !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "attempts") {
		t.Errorf("error %q: want connection refused, after one attempt", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	// A server that accepts and never speaks.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	dir := t.TempDir()
	key := writeClientKey(t, dir, "id", "")
	_, err = Dial(context.Background(), Config{Host: "h9", Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		PrivateKey: key.path, KnownHosts: filepath.Join(dir, "kh"), ConnectTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d attempts, want 1: a silent host costs one timeout", n)
	}
}

func TestDeadConnectionFailsFast(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	waitFor(t, "the server to register the connection", func() bool { return f.srv.liveConns() == 1 })
	f.srv.dropAll()
	waitFor(t, "the loss to be noticed", func() bool { return c.alive() != nil })
	_, err := c.Run(context.Background(), "true")
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v", err)
	}
	err = c.Upload(context.Background(), strings.NewReader("x"), 1, "x", nil)
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v", err)
	}
}

func TestKeepaliveDetectsSilentPeer(t *testing.T) {
	oldInterval, oldTimeout := keepaliveInterval, keepaliveTimeout
	keepaliveInterval, keepaliveTimeout = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { keepaliveInterval, keepaliveTimeout = oldInterval, oldTimeout })

	f := newFixture(t)
	c := f.dial(t)
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
	f.srv.freeze.Store(true)
	waitFor(t, "the keepalive to give up", func() bool { return c.alive() != nil })
	_, err := c.Run(context.Background(), "true")
	if err == nil || !strings.Contains(err.Error(), "connection lost: no answer to keepalive") {
		t.Fatalf("got %v", err)
	}
}

func TestKeepaliveKeepsHealthyConnection(t *testing.T) {
	oldInterval, oldTimeout := keepaliveInterval, keepaliveTimeout
	keepaliveInterval, keepaliveTimeout = 5*time.Millisecond, 5*time.Second
	t.Cleanup(func() { keepaliveInterval, keepaliveTimeout = oldInterval, oldTimeout })
	f := newFixture(t)
	c := f.dial(t)
	for range 5 {
		time.Sleep(20 * time.Millisecond) // several keepalive rounds
		if _, err := c.Run(context.Background(), "true"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDialContextTunnels(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(nc, "hello from the host\n")
		nc.Close()
	}()
	nc, err := c.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(nc)
	nc.Close()
	if err != nil || string(got) != "hello from the host\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if n := f.srv.tunnels.Load(); n != 1 {
		t.Errorf("%d tunnels, want 1", n)
	}
	if s := c.Stats(); s.RoundTrips != 1 {
		t.Errorf("a tunnel is one round trip: %+v", s)
	}
	if _, err := c.DialContext(context.Background(), "tcp", "10.99.0.250:1"); err == nil || strings.HasPrefix(err.Error(), "h1") {
		t.Errorf("tunnel to a refused destination: %v", err)
	}
}

// --- Run ---

func TestRunExitCodeAndStderr(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	out, err := c.Run(context.Background(), "echo out; for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3")
	var exit *ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("want *ExitError, got %v", err)
	}
	if exit.Code != 3 || exit.Host != "h1" || !strings.Contains(exit.Stderr, "line1") {
		t.Errorf("unexpected %+v", exit)
	}
	if string(out) != "out\n" {
		t.Errorf("stdout = %q", out)
	}
	want := "script failed with exit code 3: line3; line4; line5; line6; line7"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}

	out, err = c.Run(context.Background(), "printf 'a\\nb\\n'")
	if err != nil || string(out) != "a\nb\n" {
		t.Errorf("Run = %q, %v", out, err)
	}
}

func TestRunQuoting(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	scripts := []string{
		`echo 'single quoted'`,
		`printf '%s\n' "it's" 'a '"'"'b'"'"' c'`,
		"x='$HOME'; echo \"$x\" `echo back` \\ \\\\",
		"cat <<'EOF'\nline 'one'\n  \"two\" $three\nEOF",
		"''",
	}
	for _, s := range scripts {
		want, err := runLocal(s)
		if err != nil {
			t.Fatalf("local %q: %v", s, err)
		}
		got, err := c.Run(context.Background(), s)
		if err != nil && !errors.As(err, new(*ExitError)) {
			t.Fatalf("%q: %v", s, err)
		}
		if string(got) != want {
			t.Errorf("script %q: got %q, want %q", s, got, want)
		}
	}
}

func runLocal(script string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout = &out
	err := cmd.Run()
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		return "", err
	}
	return out.String(), nil
}

// The script travels on stdin, so no command line limit applies to it.
func TestRunLargeScript(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	out, err := c.Run(context.Background(), ": "+strings.Repeat("x", 1<<20)+"\necho fine")
	if err != nil || string(out) != "fine\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
}

// Finding 5: the script was sshd's command line, hence root's argv and
// sudo's log. Now a secret-looking text in a script never reaches the exec
// request, nor sudo's arguments, with or without a sudo password.
func TestFinding5_ScriptNotOnCommandLine(t *testing.T) {
	const marker = "OBSBOX-SECRET-LOOKING-6f1d2c"
	for _, tt := range []struct{ name, user, password string }{
		{"root", "root", ""}, {"passwordless sudo", "deploy", ""}, {"sudo password", "deploy", "pw-4711"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, argvLog := fakeSudoEnv(t)
			if tt.password != "" {
				env = append(env, "FAKE_SUDO_PASSWORD="+tt.password)
			}
			f := newFixture(t, withEnv(env...))
			f.cfg.User, f.cfg.SudoPassword = tt.user, tt.password
			c := f.dial(t)
			out, err := c.Run(context.Background(), "x='"+marker+"'; echo \"$x\"; ps -o args= -p $$ $PPID")
			if err != nil {
				t.Fatal(err)
			}
			first, ps, _ := strings.Cut(string(out), "\n")
			if first != marker {
				t.Fatalf("the script did not run: %q", out)
			}
			if strings.Contains(ps, marker) {
				t.Errorf("the script is in a process's argv on the host: %s", ps)
			}
			cmds := f.srv.execCommands()
			if len(cmds) == 0 {
				t.Fatal("no exec request seen")
			}
			for _, cmd := range cmds {
				if strings.Contains(cmd, marker) || strings.Contains(cmd, "ps -o args") {
					t.Errorf("the script is on the command line: %s", cmd)
				}
			}
			if argv, _ := os.ReadFile(argvLog); strings.Contains(string(argv), marker) {
				t.Errorf("the script reached sudo's arguments: %s", argv)
			}
		})
	}
}

func TestRunTimeoutAndCancel(t *testing.T) {
	f := newFixture(t)
	f.cfg.CommandTimeout = time.Second
	c := f.dial(t)
	_, err := c.Run(context.Background(), "sleep 30")
	if err == nil || strings.HasPrefix(err.Error(), "h1") || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = c.Run(ctx, "sleep 30")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// The connection is still usable.
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
}

// gone reports whether a process has ended (a zombie counts: nobody may
// reap orphans in a test container).
func gone(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func TestAbandonedScriptIsStopped(t *testing.T) {
	for _, user := range []string{"root", "deploy"} {
		t.Run(user, func(t *testing.T) {
			env, _ := fakeSudoEnv(t)
			f := newFixture(t, withEnv(env...))
			f.cfg.User = user
			c := f.dial(t)
			pidFile := filepath.Join(t.TempDir(), "pid")
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				waitFor(t, "the script to start", func() bool {
					b, err := os.ReadFile(pidFile)
					return err == nil && bytes.HasSuffix(b, []byte("\n"))
				})
				cancel()
			}()
			// A grandchild in the background, then a wait that would
			// outlive the test.
			_, err := c.Run(ctx, "sleep 300 & echo $! > "+pidFile+"; sleep 301")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v", err)
			}
			b, _ := os.ReadFile(pidFile)
			pid := strings.TrimSpace(string(b))
			waitFor(t, "the abandoned script's process "+pid+" to end", func() bool { return gone(pid) })
		})
	}
}

// --- Upload ---

func TestUpload(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	var last atomic.Int64
	if err := c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), "bundle.tar.gz",
		func(n int64) { last.Store(n) }); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(c.StagingDir(), "bundle.tar.gz")
	got, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("uploaded content differs")
	}
	if _, err := os.Stat(final + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".part left behind: %v", err)
	}
	if last.Load() != int64(len(data)) {
		t.Errorf("progress ended at %d of %d", last.Load(), len(data))
	}
	st, _ := os.Stat(c.StagingDir())
	if st.Mode().Perm() != 0o700 {
		t.Errorf("staging folder mode %v", st.Mode().Perm())
	}
	if fst, _ := os.Stat(final); fst.Mode().Perm() != 0o600 {
		t.Errorf("uploaded file mode %v", fst.Mode().Perm())
	}

	// Overwrite with an absolute path inside staging, into a subfolder.
	small := []byte("config\n")
	abs := c.StagingDir() + "/conf/prometheus.yml"
	if err := c.Upload(context.Background(), bytes.NewReader(small), int64(len(small)), abs, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(abs); !bytes.Equal(got, small) {
		t.Errorf("got %q", got)
	}
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
	want := Stats{RoundTrips: 3, BytesSent: int64(len(data) + len(small))}
	if s := c.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func TestUploadRefusesPathsOutsideStaging(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	for _, p := range []string{"../escape", "/etc/passwd", c.StagingDir(), c.StagingDir() + "-other/x", ""} {
		err := c.Upload(context.Background(), strings.NewReader("x"), 1, p, nil)
		if err == nil || !strings.Contains(err.Error(), "outside the staging folder") {
			t.Errorf("%q: got %v", p, err)
		}
	}
}

func TestUploadShortSource(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	err := c.Upload(context.Background(), strings.NewReader("abc"), 10, "short", nil)
	if err == nil || !strings.Contains(err.Error(), "3 of 10 bytes") {
		t.Fatalf("got %v", err)
	}
	for _, name := range []string{"short", "short.part"} {
		if _, err := os.Stat(filepath.Join(c.StagingDir(), name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a failed upload", name)
		}
	}
}

// cancelAfter hands out data and cancels the upload's context once n bytes
// have been read.
type cancelAfter struct {
	n      int
	read   int
	cancel context.CancelFunc
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	if r.read >= r.n {
		r.cancel()
	}
	for i := range p {
		p[i] = 'x'
	}
	r.read += len(p)
	return len(p), nil
}

func TestUploadCancelled(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	const size = 64 << 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := c.Upload(ctx, &cancelAfter{n: 1 << 20, cancel: cancel}, size, "big.bin", nil)
	if !errors.Is(err, context.Canceled) || strings.HasPrefix(err.Error(), "h1") {
		t.Fatalf("got %v", err)
	}
	for _, name := range []string{"big.bin", "big.bin.part"} {
		if _, err := os.Stat(filepath.Join(c.StagingDir(), name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a cancelled upload", name)
		}
	}
	if s := c.Stats(); s.BytesSent >= size {
		t.Errorf("the whole file was sent: %+v", s)
	}
	// The connection and its SFTP session stay usable.
	if err := c.Upload(context.Background(), strings.NewReader("ok"), 2, "after", nil); err != nil {
		t.Fatal(err)
	}
}

func TestStagingFolderMustBeSafe(t *testing.T) {
	old := stagingRoot
	t.Cleanup(func() { stagingRoot = old })
	t.Run("symlink refused", func(t *testing.T) {
		stagingRoot = t.TempDir()
		if err := os.Symlink(t.TempDir(), filepath.Join(stagingRoot, "obsbox-staging-root")); err != nil {
			t.Fatal(err)
		}
		c := newFixture(t).dial(t)
		err := c.Upload(context.Background(), strings.NewReader("x"), 1, "x", nil)
		if err == nil || !strings.Contains(err.Error(), "is not a folder") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("open permissions tightened", func(t *testing.T) {
		stagingRoot = t.TempDir()
		dir := filepath.Join(stagingRoot, "obsbox-staging-root")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o777)
		c := newFixture(t).dial(t)
		if err := c.Upload(context.Background(), strings.NewReader("x"), 1, "x", nil); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
			t.Errorf("mode %v", st.Mode().Perm())
		}
	})
}

func TestConcurrentUseCountsEverything(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	const runs, uploads, size = 20, 10, 100 << 10
	var wg sync.WaitGroup
	errs := make(chan error, runs+uploads)
	for i := range runs {
		wg.Go(func() {
			out, err := c.Run(context.Background(), fmt.Sprintf("echo %d", i))
			if err == nil && string(out) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("run %d got %q", i, out)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	for i := range uploads {
		wg.Go(func() {
			if err := c.Upload(context.Background(), io.LimitReader(rand.Reader, size), size,
				fmt.Sprintf("concurrent/%d", i), nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := Stats{RoundTrips: runs + uploads, BytesSent: uploads * size}
	if s := c.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func BenchmarkUpload(b *testing.B) {
	f := newFixture(b)
	c := f.dial(b)
	data := make([]byte, 32<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), "bench", nil); err != nil {
			b.Fatal(err)
		}
	}
}
