package inventory

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// GrafanaPasswordFile is the file, beside the inventory, that keeps the
// generated Grafana admin password when the inventory sets none.
const GrafanaPasswordFile = ".obsbox-grafana-admin-password"

// GrafanaAdminPasswordPath is where the generated password is kept.
func (inv *Inventory) GrafanaAdminPasswordPath() string {
	return filepath.Join(inv.Dir, GrafanaPasswordFile)
}

// GrafanaAdminPassword returns grafana.admin_password when the inventory sets
// it; otherwise the password kept beside the inventory, generated and written
// there (mode 0600) the first time.
func (inv *Inventory) GrafanaAdminPassword() (Secret, error) {
	if inv.Grafana.AdminPassword.IsSet() {
		return inv.Grafana.AdminPassword, nil
	}
	path := inv.GrafanaAdminPasswordPath()
	for range 2 { // a second try when another obsbox created the file meanwhile
		if s, err := readPasswordFile(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return s, err
		}
		pw := generatePassword()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return Secret{}, fmt.Errorf("cannot create the Grafana admin password file: %w", err)
		}
		_, werr := f.WriteString(pw + "\n")
		cerr := f.Close()
		if werr != nil || cerr != nil {
			os.Remove(path)
			return Secret{}, fmt.Errorf("cannot write the Grafana admin password file %s: %w", path, errors.Join(werr, cerr))
		}
		return NewSecret(pw), nil
	}
	return readPasswordFile(path)
}

func readPasswordFile(path string) (Secret, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Secret{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// Ours to keep private: tighten it rather than fail every run.
		if err := os.Chmod(path, 0o600); err != nil {
			return Secret{}, fmt.Errorf("%s is readable by others and cannot be made 0600: %w", path, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("cannot read the Grafana admin password file: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return Secret{}, fmt.Errorf("%s is empty; delete it to have a new password generated, or set grafana.admin_password", path)
	}
	return NewSecret(pw), nil
}

// generatePassword returns 24 random letters and digits (about 140 bits).
func generatePassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 24)
	rand.Read(b) // never fails on supported platforms
	// 256 is not a multiple of len(alphabet): reject the top values to stay uniform.
	out := make([]byte, 0, len(b))
	limit := byte(256 - 256%len(alphabet))
	for len(out) < 24 {
		for _, c := range b {
			if c < limit && len(out) < 24 {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
		rand.Read(b)
	}
	return string(out)
}
