package inventory

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/obsbox/obsbox/internal/owner"
)

// GrafanaPasswordFile is the file, beside the inventory, that keeps the
// generated Grafana admin password when the inventory sets none.
const GrafanaPasswordFile = ".obsbox-grafana-admin-password"

// GrafanaSecretKeyFile is the file, beside the inventory, that keeps
// Grafana's generated secret_key.
const GrafanaSecretKeyFile = ".obsbox-grafana-secret-key"

// GrafanaAdminPasswordPath is where the generated password is kept.
func (inv *Inventory) GrafanaAdminPasswordPath() string {
	return filepath.Join(inv.Dir, GrafanaPasswordFile)
}

// GrafanaSecretKeyPath is where Grafana's secret_key is kept.
func (inv *Inventory) GrafanaSecretKeyPath() string {
	return filepath.Join(inv.Dir, GrafanaSecretKeyFile)
}

// GrafanaAdminPassword returns grafana.admin_password when the inventory sets
// it; otherwise the password kept beside the inventory, generated and written
// there (mode 0600) the first time.
func (inv *Inventory) GrafanaAdminPassword() (Secret, error) {
	if inv.Grafana.AdminPassword.IsSet() {
		return inv.Grafana.AdminPassword, nil
	}
	return keptSecret(inv.GrafanaAdminPasswordPath(), "Grafana admin password", generatePassword,
		"delete it to have a new password generated, or set grafana.admin_password")
}

// GrafanaSecretKey returns Grafana's secret_key, kept beside the inventory:
// generated the first time, never changed afterwards, since Grafana encrypts
// what it stores (datasource secrets, tokens) with it.
func (inv *Inventory) GrafanaSecretKey() (Secret, error) {
	return keptSecret(inv.GrafanaSecretKeyPath(), "Grafana secret key", generateKey,
		"restore it from a backup: Grafana cannot read what it encrypted with the old key without it")
}

// keptSecret returns the secret kept in path, generating it with gen and
// writing it there (mode 0600, never replaced) when the file does not exist.
// A file others may read or write, or that another user owns, is refused: it
// may have leaked or been replaced. emptyHint says what to do with an empty file.
func keptSecret(path, what string, gen func() string, emptyHint string) (Secret, error) {
	for range 2 { // a second try when another obsbox created the file meanwhile
		if s, err := readKeptSecret(path, what, emptyHint); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return s, err
		}
		v := gen()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return Secret{}, fmt.Errorf("cannot create the %s file: %w", what, err)
		}
		_, werr := f.WriteString(v + "\n")
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			os.Remove(path)
			return Secret{}, fmt.Errorf("cannot write the %s file %s: %w", what, path, err)
		}
		return NewSecret(v), nil
	}
	return readKeptSecret(path, what, emptyHint)
}

func readKeptSecret(path, what, emptyHint string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Secret{}, err
		}
		return Secret{}, fmt.Errorf("cannot read the %s file: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat() // of the file opened, not of whatever the path names later
	if err != nil {
		return Secret{}, fmt.Errorf("cannot read the %s file: %w", what, err)
	}
	if err := secretFileProblem(path, fi); err != nil {
		return Secret{}, fmt.Errorf("%s file: %w", what, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return Secret{}, fmt.Errorf("cannot read the %s file: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, fmt.Errorf("%s is empty; %s", path, emptyHint)
	}
	return NewSecret(v), nil
}

// secretFileProblem refuses a kept secret that is not a regular file, that
// group or others may read or write, or that a user other than us or root owns.
func secretFileProblem(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: group or others may read or change it, so it may have leaked; "+
			"make it private with \"chmod 600 %s\" (and replace the secret if others could read it)", path, perm, path)
	}
	if uid, foreign := owner.Foreign(fi); foreign {
		return fmt.Errorf("%s belongs to user id %d, not to you (%d) or root, who could replace it; check it and \"chown\" it", path, uid, os.Geteuid())
	}
	return nil
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

// generateKey returns 256 random bits, URL-safe base64 (43 characters, no
// padding): nothing an ini file or a shell would treat specially.
func generateKey() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
