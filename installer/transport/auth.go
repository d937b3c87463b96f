package transport

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// passphraseAttempts is how often a wrong passphrase may be retyped.
const passphraseAttempts = 3

// authMethods holds the keys one Dial offers, in order.
type authMethods struct {
	signers []ssh.Signer
	tried   []string // human names of the keys, for the login-failed error
	notes   []string // keys skipped, and why
	agent   net.Conn
}

func (a *authMethods) methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeys(a.signers...)}
}

// pauseDuring installs the hook that encrypted keys call around waiting for
// a passphrase, so the dial in progress can stop its handshake clock; nil
// removes it.
func (a *authMethods) pauseDuring(pause func() (resume func())) {
	for _, s := range a.signers {
		if k, ok := s.(*encryptedKey); ok {
			k.pause = pause
		}
	}
}

func (a *authMethods) close() {
	if a.agent != nil {
		a.agent.Close()
	}
}

// explain adds the keys that were offered to a login failure.
func (a *authMethods) explain(err error) error {
	if !strings.Contains(err.Error(), "unable to authenticate") {
		return err
	}
	msg := fmt.Sprintf("login refused; offered %s", strings.Join(a.tried, ", "))
	if len(a.notes) > 0 {
		msg += "; " + strings.Join(a.notes, "; ")
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// newAuth gathers the keys to offer. An explicit PrivateKey is the only key
// offered (through ssh-agent when the agent holds it, so no passphrase is
// asked); without one, every agent key and then ~/.ssh/id_ed25519 and
// ~/.ssh/id_rsa. Encrypted keys are decrypted only when the server is
// willing to accept them.
func newAuth(cfg Config) (*authMethods, error) {
	a := &authMethods{}
	agentKeys := a.connectAgent()

	if cfg.PrivateKey != "" {
		s, err := loadKeyFile(cfg.PrivateKey, cfg.Passphrase, agentKeys)
		if err != nil {
			a.close()
			return nil, err
		}
		a.signers = append(a.signers, s)
		a.tried = append(a.tried, cfg.PrivateKey)
		return a, nil
	}

	for _, s := range agentKeys {
		a.signers = append(a.signers, s)
		a.tried = append(a.tried, "ssh-agent key "+ssh.FingerprintSHA256(s.PublicKey()))
	}
	home, err := os.UserHomeDir()
	if err == nil {
		for _, name := range []string{"id_ed25519", "id_rsa"} {
			p := filepath.Join(home, ".ssh", name)
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			s, err := loadKeyFile(p, cfg.Passphrase, agentKeys)
			if err != nil {
				a.notes = append(a.notes, err.Error())
				continue
			}
			if inAgent(s.PublicKey(), agentKeys) != nil {
				continue // already offered through the agent
			}
			if _, encrypted := s.(*encryptedKey); encrypted && cfg.Passphrase == nil {
				// Offering it would end the login at its signature even if a
				// later key would have worked.
				a.notes = append(a.notes, fmt.Sprintf("key %s is passphrase-protected: run on a terminal or load it into ssh-agent", p))
				continue
			}
			a.signers = append(a.signers, s)
			a.tried = append(a.tried, p)
		}
	}
	if len(a.signers) == 0 {
		a.close()
		msg := "no SSH key to log in with: set ssh.private_key, load a key into ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519"
		if len(a.notes) > 0 {
			msg += " (" + strings.Join(a.notes, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	return a, nil
}

// connectAgent returns the agent's keys; an unreachable agent is noted,
// not fatal, since key files may still work.
func (a *authMethods) connectAgent() []ssh.Signer {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		a.notes = append(a.notes, fmt.Sprintf("ssh-agent at %s is unreachable: %v", sock, err))
		return nil
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		a.notes = append(a.notes, fmt.Sprintf("ssh-agent at %s: %v", sock, err))
		return nil
	}
	a.agent = conn
	return signers
}

func inAgent(pub ssh.PublicKey, agentKeys []ssh.Signer) ssh.Signer {
	if pub == nil {
		return nil
	}
	for _, s := range agentKeys {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s
		}
	}
	return nil
}

// loadKeyFile returns a signer for a private key file. For an encrypted
// key it returns the agent's signer when the agent holds the key, else a
// signer that asks for the passphrase on first use.
func loadKeyFile(path string, passphrase func(string) ([]byte, error), agentKeys []ssh.Signer) (ssh.Signer, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err == nil {
		return s, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	pub := missing.PublicKey
	if pub == nil {
		pub = readPublicKey(path + ".pub") // old PEM keys keep it only beside
	}
	if s := inAgent(pub, agentKeys); s != nil {
		return s, nil
	}
	lazy := &encryptedKey{path: path, pub: pub, data: data, passphrase: passphrase}
	if pub == nil {
		// Without the public key the decryption cannot wait for the server.
		return lazy.signer()
	}
	return lazy, nil
}

// readKeyFile reads a private key file, refusing it as ssh does when group
// or others may read or write it: such a key may be anyone's by now.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("UNPROTECTED PRIVATE KEY FILE %s: permissions %04o are too open, group or others may read it; "+
			"it is refused, as ssh does: run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return data, nil
}

func readPublicKey(path string) ssh.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return pub
}

// decrypted caches passphrase results per key file for the process, so
// dialling a thousand hosts asks once. The mutex also keeps prompts from
// concurrent dials from interleaving on the terminal.
var (
	decryptedMu sync.Mutex
	decrypted   = map[string]decryptResult{}
)

type decryptResult struct {
	signer ssh.Signer
	err    error
}

// encryptedKey is an ssh.Signer for a passphrase-protected key file that
// decrypts it when the server first asks for a signature, which it does
// only for a key it would accept.
type encryptedKey struct {
	path       string
	pub        ssh.PublicKey
	data       []byte
	passphrase func(string) ([]byte, error)
	pause      func() (resume func()) // set by the dial using this key
}

func (k *encryptedKey) signer() (ssh.Signer, error) {
	// Waiting for a prompt (ours or another dial's) is not the network's
	// fault, so it must not count against the connect timeout.
	if k.pause != nil {
		defer k.pause()()
	}
	decryptedMu.Lock()
	defer decryptedMu.Unlock()
	if r, ok := decrypted[k.path]; ok {
		return r.signer, r.err
	}
	if k.passphrase == nil {
		return nil, fmt.Errorf("key %s is passphrase-protected: run on a terminal or load it into ssh-agent", k.path)
	}
	var err error
	for range passphraseAttempts {
		var pass []byte
		pass, err = k.passphrase(k.path)
		if err != nil {
			return nil, fmt.Errorf("key %s is passphrase-protected and the passphrase could not be read: %w", k.path, err)
		}
		var s ssh.Signer
		s, err = ssh.ParsePrivateKeyWithPassphrase(k.data, pass)
		if err == nil {
			decrypted[k.path] = decryptResult{signer: s}
			return s, nil
		}
		if !errors.Is(err, x509.IncorrectPasswordError) {
			break
		}
	}
	if errors.Is(err, x509.IncorrectPasswordError) {
		err = fmt.Errorf("key %s: wrong passphrase (%d attempts)", k.path, passphraseAttempts)
	} else {
		err = fmt.Errorf("key %s: %w", k.path, err)
	}
	decrypted[k.path] = decryptResult{err: err}
	return nil, err
}

func (k *encryptedKey) PublicKey() ssh.PublicKey { return k.pub }

func (k *encryptedKey) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := k.signer()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (k *encryptedKey) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := k.signer()
	if err != nil {
		return nil, err
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign with %s", k.path, algorithm)
	}
	return as.SignWithAlgorithm(rand, data, algorithm)
}

// TerminalPassphrase asks for a key's passphrase on the controlling
// terminal, without echo. The CLI passes it as Config.Passphrase when it
// runs on a terminal.
func TerminalPassphrase(keyPath string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("no terminal to ask on: %w", err)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Enter passphrase for key %s: ", keyPath)
	pass, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	return pass, nil
}
