package bundles

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits on what a tarball may unpack to. Upstream release tarballs are far
// below them; they stop a hostile or broken file from filling the disk.
const (
	DefaultMaxFileSize  = 1 << 30 // one file
	defaultMaxTotalSize = 4 << 30 // all files together
	maxEntries          = 200_000
)

// ExtractError is a tarball entry that was refused.
type ExtractError struct {
	Tarball string // file name of the tarball
	Entry   string // the entry's name as stored in the tarball
	Reason  string
}

func (e *ExtractError) Error() string {
	return fmt.Sprintf("%s: refusing entry %q: %s", e.Tarball, e.Entry, e.Reason)
}

// tree is what one extraction produced; paths are slash-separated and
// relative to the extraction folder (they include the top folder).
//
// The host unpacks the same tarball with tar --strip-components=1: the top
// folder's contents become the version folder. Every check here judges an
// entry where the host will put it, relative to the version folder: names
// must be canonical (tar strips the raw first component, "./" included),
// every entry lies in the one top folder, and link targets may not climb
// above it. A flat tarball (catalog Release.Flat) has no top folder: the host
// unpacks it without stripping, and its root is the version folder.
type tree struct {
	flat     bool
	top      string          // the one top folder; "" when flat
	files    map[string]File // regular files (hardlinks become regular files)
	symlinks map[string]string
	dirs     map[string]bool
	tops     map[string]bool // first path element of every entry
}

// extractTarGz unpacks the gzip'd tarball at src into dest, which must exist
// and be empty. It refuses entries that would land or point outside dest,
// devices, fifos and oversized files, naming the entry.
func extractTarGz(ctx context.Context, src, dest string, maxFile int64) (*tree, error) {
	return extractTree(ctx, src, dest, maxFile, false)
}

// extractTree is extractTarGz for a tarball that is flat or has one top folder.
func extractTree(ctx context.Context, src, dest string, maxFile int64, flat bool) (*tree, error) {
	name := filepath.Base(src)
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip file: %w", name, err)
	}
	defer gz.Close()
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	t := &tree{flat: flat, files: map[string]File{}, symlinks: map[string]string{}, dirs: map[string]bool{}, tops: map[string]bool{}}
	refuse := func(entry, format string, args ...any) error {
		return &ExtractError{Tarball: name, Entry: entry, Reason: fmt.Sprintf(format, args...)}
	}
	tr := tar.NewReader(gz)
	var total int64
	for count := 0; ; count++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: extraction stopped: %w", name, err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: corrupt or truncated tarball after %d entries: %w", name, count, err)
		}
		if count >= maxEntries {
			return nil, fmt.Errorf("%s: more than %d entries; not a release tarball", name, maxEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		raw := hdr.Name
		if strings.HasPrefix(raw, "/") {
			return nil, refuse(raw, "absolute path")
		}
		p := path.Clean(raw)
		if p == "." {
			continue // "./": tar with --strip-components=1 skips it too
		}
		if !filepath.IsLocal(p) || strings.Contains(p, "\\") {
			return nil, refuse(raw, "path escapes the extraction folder")
		}
		if raw != p && raw != p+"/" {
			return nil, refuse(raw, "name is not in canonical form (%q): the host's tar would unpack it elsewhere", p)
		}
		top, _, _ := strings.Cut(p, "/")
		if t.top == "" && !flat {
			t.top = top
		}
		if !flat && top != t.top {
			return nil, refuse(raw, "lies outside the top folder %q: the host unpacks every entry into the version folder", t.top)
		}
		if through := t.symlinkAncestor(p); through != "" {
			return nil, refuse(raw, "path goes through symlink %q", through)
		}
		if t.exists(p) {
			return nil, refuse(raw, "duplicate entry")
		}
		t.tops[strings.SplitN(p, "/", 2)[0]] = true

		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(p, 0o755); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			t.dirs[p] = true

		case tar.TypeReg, tar.TypeRegA:
			if hdr.Size < 0 || hdr.Size > maxFile {
				return nil, refuse(raw, "file is %d bytes, more than the %d allowed", hdr.Size, maxFile)
			}
			if total += hdr.Size; total > defaultMaxTotalSize {
				return nil, refuse(raw, "the tarball unpacks to more than %d bytes", int64(defaultMaxTotalSize))
			}
			if err := t.mkParents(root, p); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			sum, err := writeFile(root, p, tr, hdr.Size)
			if err != nil {
				return nil, refuse(raw, "%v", err)
			}
			mode := safeMode(hdr.Mode)
			if err := root.Chmod(p, mode); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			t.files[p] = File{Path: p, Mode: mode, Size: hdr.Size, SHA256: sum}

		case tar.TypeSymlink:
			target := hdr.Linkname
			if target == "" {
				return nil, refuse(raw, "symlink with an empty target")
			}
			if path.IsAbs(target) {
				return nil, refuse(raw, "symlink to %q points outside the version folder (absolute target)", target)
			}
			if !filepath.IsLocal(path.Join(path.Dir(t.inVersion(p)), target)) {
				return nil, refuse(raw, "symlink to %q points outside the version folder", target)
			}
			if err := t.mkParents(root, p); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			if err := root.Symlink(target, p); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			t.symlinks[p] = target

		case tar.TypeLink:
			target := hdr.Linkname
			if strings.HasPrefix(target, "/") {
				return nil, refuse(raw, "hardlink to %q points outside the version folder (absolute target)", target)
			}
			tp := path.Clean(target)
			if !filepath.IsLocal(tp) {
				return nil, refuse(raw, "hardlink to %q points outside the version folder", target)
			}
			// The host strips the target's raw first component too.
			if tp != target {
				return nil, refuse(raw, "hardlink target %q is not in canonical form: the host's tar would link elsewhere", target)
			}
			if top, rest, _ := strings.Cut(tp, "/"); !flat && (top != t.top || rest == "") {
				return nil, refuse(raw, "hardlink to %q points outside the version folder", target)
			}
			orig, ok := t.files[tp]
			if !ok {
				return nil, refuse(raw, "hardlink to %q, which is not a regular file earlier in the tarball", target)
			}
			if err := t.mkParents(root, p); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			if err := root.Link(tp, p); err != nil {
				return nil, refuse(raw, "%v", err)
			}
			orig.Path = p
			t.files[p] = orig

		case tar.TypeChar, tar.TypeBlock:
			return nil, refuse(raw, "device file")
		case tar.TypeFifo:
			return nil, refuse(raw, "named pipe (fifo)")
		default:
			return nil, refuse(raw, "unsupported entry type %q", string(hdr.Typeflag))
		}
	}
	// A symlink checked on its own can still escape through another symlink
	// met along its target (a/b -> .. then c -> a/b/..); check every one
	// against the final set.
	for p, target := range t.symlinks {
		if err := t.checkLinkPath(p, target); err != "" {
			return nil, refuse(p, "symlink to %q %s", target, err)
		}
	}
	return t, nil
}

// exists reports whether p was already extracted.
func (t *tree) exists(p string) bool {
	_, f := t.files[p]
	_, s := t.symlinks[p]
	return f || s || t.dirs[p]
}

// symlinkAncestor returns the first parent of p that is a symlink, or "".
func (t *tree) symlinkAncestor(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if _, ok := t.symlinks[p[:i]]; ok {
				return p[:i]
			}
		}
	}
	return ""
}

// inVersion is where the host puts entry p: inside the version folder,
// after tar strips the top folder ("" for the top folder itself).
func (t *tree) inVersion(p string) string {
	if t.flat {
		return p
	}
	_, rest, _ := strings.Cut(p, "/")
	return rest
}

// entry is the tarball's name of stack, a path inside the version folder.
func (t *tree) entry(stack []string) string {
	if t.flat {
		return strings.Join(stack, "/")
	}
	return t.top + "/" + strings.Join(stack, "/")
}

// checkLinkPath walks a symlink's target element by element from where the
// host puts the link, and refuses it when it climbs above the version
// folder or passes through another symlink.
func (t *tree) checkLinkPath(link, target string) string {
	var stack []string
	if d := path.Dir(t.inVersion(link)); d != "." && d != "" {
		stack = strings.Split(d, "/")
	}
	elems := strings.Split(target, "/")
	for i, e := range elems {
		switch e {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return "points outside the version folder"
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, e)
		if i == len(elems)-1 {
			break // the final element may itself be a symlink that stays inside
		}
		through := t.entry(stack)
		if _, ok := t.symlinks[through]; ok {
			return fmt.Sprintf("goes through symlink %q", through)
		}
	}
	return ""
}

// mkParents creates p's parent folders, which tarballs may leave implicit.
func (t *tree) mkParents(root *os.Root, p string) error {
	dir := path.Dir(p)
	if dir == "." || t.dirs[dir] {
		return nil
	}
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for d := dir; d != "." && !t.dirs[d]; d = path.Dir(d) {
		if _, isFile := t.files[d]; isFile {
			return fmt.Errorf("parent %q is a file", d)
		}
		t.dirs[d] = true
	}
	return nil
}

// writeFile creates p (it must not exist) with size bytes from r and returns their SHA-256.
func writeFile(root *os.Root, p string, r io.Reader, size int64) (string, error) {
	out, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("truncated: %d of %d bytes", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// safeMode keeps permission bits, drops setuid/setgid/sticky, and keeps the
// file readable and writable by its owner so the cache can be cleaned.
func safeMode(m int64) fs.FileMode {
	return fs.FileMode(m)&0o777 | 0o600
}

// checkContents confirms that the tree is the release tarball of the given
// component, version and architecture: one top folder with the expected name,
// holding the expected executables. It returns the top folder's name, "."
// for a flat tarball, whose root holds the executables.
func (t *tree) checkContents(tarball, component, version, arch string) (string, error) {
	if t.flat {
		if len(t.tops) == 0 {
			return "", fmt.Errorf("%s: the tarball is empty", tarball)
		}
		for _, req := range requiredFiles(component) {
			f, ok := t.files[req]
			if !ok {
				return "", fmt.Errorf("%s: %s is missing at the top of the tarball: not a %s release tarball", tarball, req, component)
			}
			if f.Mode&0o100 == 0 {
				return "", fmt.Errorf("%s: %s is not executable (mode %04o)", tarball, req, f.Mode.Perm())
			}
		}
		return ".", nil
	}
	want := TopFolders(component, version, arch)
	tops := make([]string, 0, len(t.tops))
	for top := range t.tops {
		tops = append(tops, top)
	}
	slices.Sort(tops)
	if len(tops) == 0 {
		return "", fmt.Errorf("%s: the tarball is empty", tarball)
	}
	if len(tops) > 1 {
		return "", fmt.Errorf("%s: expected everything under one folder %s/, found %d top-level entries: %s",
			tarball, want[0], len(tops), strings.Join(firstN(tops, 5), ", "))
	}
	top := tops[0]
	if !slices.Contains(want, top) || !t.dirs[top] {
		return "", fmt.Errorf("%s: the top folder is %q, expected %s/: the tarball is not %s %s for %s",
			tarball, top, want[0], component, version, arch)
	}
	for _, req := range requiredFiles(component) {
		f, ok := t.files[top+"/"+req]
		if !ok {
			return "", fmt.Errorf("%s: %s/%s is missing: not a %s release tarball", tarball, top, req, component)
		}
		if f.Mode&0o100 == 0 {
			return "", fmt.Errorf("%s: %s/%s is not executable (mode %04o)", tarball, top, req, f.Mode.Perm())
		}
	}
	return top, nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), "…")
	}
	return s
}

// checkELFArch confirms that an executable was built for arch. Files that are
// not ELF (scripts) are not judged.
func checkELFArch(localPath, arch string) error {
	got, isELF, err := elfArch(localPath)
	if err != nil || !isELF {
		return err
	}
	if got != arch {
		return fmt.Errorf("%s is built for %s, not %s", filepath.Base(localPath), got, arch)
	}
	return nil
}

// elfArch reads the architecture an ELF executable was built for. isELF is
// false for files that do not start with the ELF magic number.
func elfArch(p string) (arch string, isELF bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != elf.ELFMAG {
		return "", false, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", true, fmt.Errorf("%s: broken ELF executable: %w", filepath.Base(p), err)
	}
	switch ef.Machine {
	case elf.EM_X86_64:
		return AMD64, true, nil
	case elf.EM_AARCH64:
		return ARM64, true, nil
	}
	return ef.Machine.String(), true, nil
}
