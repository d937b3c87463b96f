package bundles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFileName is the lock file's name, kept beside the inventory.
const LockFileName = "obsbox.lock.hcl"

// LockEntry records the tarball used for one component, version and architecture.
type LockEntry struct {
	Component string
	Version   string
	Arch      string
	File      string // upstream file name
	SHA256    string

	Pos string // file:line where it was read, for messages; empty for new entries
}

const lockHeader = `# obsbox.lock.hcl: the release tarballs this inventory uses, by SHA-256.
# Written by obsbox; commit it next to the inventory. A tarball whose hash
# differs from the one recorded here is refused.
`

// ReadLock reads a lock file. A missing file is an empty lock.
func ReadLock(path string) ([]LockEntry, error) {
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading lock file: %w", err)
	}
	return parseLock(path, src)
}

func parseLock(path string, src []byte) ([]LockEntry, error) {
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, lockDiagErr(diags)
	}
	body := file.Body.(*hclsyntax.Body)
	if len(body.Attributes) > 0 {
		for _, a := range body.Attributes {
			return nil, fmt.Errorf("%s: unexpected attribute %q in the lock file; only bundle blocks belong there", a.NameRange, a.Name)
		}
	}
	var out []LockEntry
	seen := map[string]string{}
	for _, b := range body.Blocks {
		if b.Type != "bundle" {
			return nil, fmt.Errorf("%s: unexpected block %q in the lock file; only bundle blocks belong there", b.TypeRange, b.Type)
		}
		if len(b.Labels) != 3 {
			return nil, fmt.Errorf("%s: a bundle block needs three labels: component, version and architecture", b.TypeRange)
		}
		e := LockEntry{Component: b.Labels[0], Version: b.Labels[1], Arch: b.Labels[2], Pos: fmt.Sprintf("%s:%d", path, b.TypeRange.Start.Line)}
		if err := checkKey(e.Component, e.Version, e.Arch); err != nil {
			return nil, fmt.Errorf("%s: %w", b.TypeRange, err)
		}
		for name, a := range b.Body.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, lockDiagErr(diags)
			}
			if v.Type() != cty.String || v.IsNull() {
				return nil, fmt.Errorf("%s: %s must be a string", a.NameRange, name)
			}
			switch name {
			case "file":
				e.File = v.AsString()
			case "sha256":
				sum, err := NormalizeSHA256(v.AsString())
				if err != nil {
					return nil, fmt.Errorf("%s: %w", a.Expr.Range(), err)
				}
				e.SHA256 = sum
			default:
				return nil, fmt.Errorf("%s: unexpected attribute %q in a bundle block; expected file and sha256", a.NameRange, name)
			}
		}
		if e.SHA256 == "" {
			return nil, fmt.Errorf("%s: bundle %q %q %q has no sha256", b.TypeRange, e.Component, e.Version, e.Arch)
		}
		k := key(e.Component, e.Version, e.Arch)
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("%s: bundle %q %q %q is already recorded at %s", b.TypeRange, e.Component, e.Version, e.Arch, prev)
		}
		seen[k] = e.Pos
		out = append(out, e)
	}
	return out, nil
}

func lockDiagErr(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = d.Subject.String() + ": " + msg
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("invalid lock file: %s", strings.Join(msgs, "; "))
}

// sortLock orders entries by component, version (numerically) and architecture.
func sortLock(entries []LockEntry) {
	slices.SortFunc(entries, func(a, b LockEntry) int {
		if c := strings.Compare(a.Component, b.Component); c != 0 {
			return c
		}
		if c := CompareVersions(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Arch, b.Arch)
	})
}

// renderLock formats entries as the lock file's text, in a stable order.
func renderLock(entries []LockEntry) []byte {
	entries = slices.Clone(entries)
	sortLock(entries)
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for i, e := range entries {
		if i > 0 {
			body.AppendNewline()
		}
		b := body.AppendNewBlock("bundle", []string{e.Component, e.Version, e.Arch})
		b.Body().SetAttributeValue("file", cty.StringVal(e.File))
		b.Body().SetAttributeValue("sha256", cty.StringVal(e.SHA256))
	}
	return append([]byte(lockHeader+"\n"), hclwrite.Format(f.Bytes())...)
}

// WriteLock replaces the lock file atomically: readers see the old file or the new one.
func WriteLock(path string, entries []LockEntry) error {
	return writeFileAtomic(path, renderLock(entries), 0o644)
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and renames it over path.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
