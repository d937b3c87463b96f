package transport

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Finding 9 of issue 11: a private key group or others may read was used.
// Like ssh, the transport refuses it, naming the file and its mode, whether
// it is ssh.private_key or a default key (which is then skipped, as ssh does).
func TestFinding9_UnprotectedKeyRefused(t *testing.T) {
	t.Run("private_key", func(t *testing.T) {
		f := newFixture(t)
		os.Chmod(f.key.path, 0o644)
		_, err := Dial(context.Background(), f.cfg)
		if err == nil || !strings.Contains(err.Error(), "UNPROTECTED PRIVATE KEY FILE "+f.key.path) || !strings.Contains(err.Error(), "0644") {
			t.Fatalf("got %v", err)
		}
		if n := f.srv.accepted.Load(); n != 0 {
			t.Errorf("the host was contacted with a refused key (%d connections)", n)
		}
		os.Chmod(f.key.path, 0o600)
		f.dial(t) // the same key, private again, logs in
	})
	t.Run("default key", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("SSH_AUTH_SOCK", "")
		key := writeClientKey(t, filepath.Join(home, ".ssh"), "id_ed25519", "")
		os.Chmod(key.path, 0o640)
		srv := newTestServer(t, []ssh.PublicKey{key.pub})
		_, err := Dial(context.Background(), Config{Host: "h1", Address: "127.0.0.1", Port: srv.port, AcceptNewHostKeys: true})
		if err == nil || !strings.Contains(err.Error(), "UNPROTECTED PRIVATE KEY FILE "+key.path) || !strings.Contains(err.Error(), "0640") {
			t.Fatalf("got %v", err)
		}
	})
}
