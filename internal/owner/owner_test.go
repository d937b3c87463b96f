package owner

import (
	"os"
	"path/filepath"
	"testing"
)

func TestForeign(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if uid, foreign := Foreign(fi); foreign || int(uid) != os.Geteuid() {
		t.Errorf("our own file: uid %d, foreign %v", uid, foreign)
	}
	if os.Geteuid() != 0 {
		t.Skip("another owner needs root to make")
	}
	if err := os.Chown(p, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(p)
	if uid, foreign := Foreign(fi); foreign || uid != 4242 {
		t.Errorf("as root, uid 4242's file: uid %d, foreign %v (root trusts any owner)", uid, foreign)
	}
}
