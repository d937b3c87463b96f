package bundles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
)

// File is one regular file of an extracted bundle.
type File struct {
	Path      string      // relative to the bundle's top folder, slash-separated
	Mode      fs.FileMode // permission bits as in the tarball (setuid, setgid and sticky dropped)
	Size      int64
	SHA256    string // hex
	LocalPath string // where the file is in the cache
}

// Symlink is a symbolic link in an extracted bundle. Its target stays inside the bundle.
type Symlink struct {
	Path   string `json:"path"`   // relative to the top folder, slash-separated
	Target string `json:"target"` // relative, as stored in the tarball
}

// Bundle is a verified, extracted release tarball in the cache.
type Bundle struct {
	Component string
	Version   string
	Arch      string
	SHA256    string    // of the tarball
	Tarball   string    // path of the cached tarball
	Root      string    // path of the extracted top folder (prometheus-2.53.2.linux-amd64, grafana-v11.2.2, ...)
	Files     []File    // regular files, sorted by Path
	Symlinks  []Symlink // sorted by Path; upstream tarballs have none today
	Cached    bool      // true when it was already in the cache, false when this call downloaded or imported it
}

// FileName is the bundle's upstream tarball name.
func (b *Bundle) FileName() string { return TarballName(b.Component, b.Version, b.Arch) }

// File returns the file at p (relative to the top folder, slash-separated).
func (b *Bundle) File(p string) (File, bool) {
	i, ok := slices.BinarySearchFunc(b.Files, p, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return File{}, false
	}
	return b.Files[i], true
}

// Entry is one bundle in the cache, as listed by Store.List.
type Entry struct {
	Component string `json:"component"`
	Version   string `json:"version"`
	Arch      string `json:"arch"`
	File      string `json:"file"`
	Size      int64  `json:"size"` // of the tarball
	SHA256    string `json:"sha256"`
	Path      string `json:"path"` // of the cached tarball
}

// Store is the bundle cache on the machine that runs obsbox. Its zero value
// needs only Dir. Its methods are safe for concurrent use; at most one
// download or import of the same bundle runs at a time.
//
// Layout: Dir/<key>/ holds <key>.tar.gz, manifest.json and tree/<top folder>/,
// where key is the tarball name without .tar.gz. Each entry is assembled
// under Dir/.tmp and renamed into place complete, so an interrupted download
// or extraction never leaves anything that looks like a cached bundle.
type Store struct {
	Dir      string // cache folder; created when missing
	Mirror   string // base URL replacing upstream's scheme and host; "" for upstream
	Offline  bool   // never use the network; a missing bundle is an error
	LockFile string // obsbox.lock.hcl to verify against and record in; "" disables the lock

	HTTP        *http.Client  // nil: NewHTTPClient()
	Progress    ProgressFunc  // nil: no progress shown
	Log         *slog.Logger  // nil: no log
	Attempts    int           // download attempts per file; 0: 4
	RetryDelay  time.Duration // wait before the first retry, doubled each time; 0: 1s
	IdleTimeout time.Duration // a download receiving nothing this long is cut; 0: 60s
	MaxFileSize int64         // largest file a tarball may hold; 0: DefaultMaxFileSize

	mu     sync.Mutex
	keys   map[string]chan struct{}
	swept  bool
	lockMu sync.Mutex
}

// MissingError is returned in offline mode for a bundle that is not cached.
type MissingError struct {
	Component, Version, Arch string
	Dir                      string // the cache
	URL                      string // where it would have been downloaded from
}

func (e *MissingError) Error() string {
	name := TarballName(e.Component, e.Version, e.Arch)
	return fmt.Sprintf("%s %s (%s) is not in the bundle cache %s and bundles.offline is set, so obsbox will not download it.\n"+
		"Fetch %s (from %s) on a machine with access, copy it here and run:\n  obsbox bundle import %s",
		e.Component, e.Version, e.Arch, e.Dir, name, e.URL, name)
}

// ChecksumError is a tarball whose hash differs from the one its source publishes.
type ChecksumError struct {
	File     string // tarball name
	From     string // where the tarball came from
	Got      string
	Want     string
	WantFrom string // where Want came from
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch, the file is corrupt or not the release it claims to be; nothing was cached\n"+
		"  %s has          %s\n  %s says %s",
		e.File, e.From, e.Got, e.WantFrom, e.Want)
}

// LockMismatchError is a tarball whose hash differs from the one in obsbox.lock.hcl.
type LockMismatchError struct {
	Component, Version, Arch string
	LockFile                 string
	LockPos                  string // file:line of the entry
	Locked                   string
	Got                      string
	GotFrom                  string // what has the other hash
	Advice                   string
}

func (e *LockMismatchError) Error() string {
	return fmt.Sprintf("%s %s (%s): sha256 differs from %s, refusing it\n"+
		"  %s records %s\n  %s has %s\n"+
		"The lock records the tarball this inventory was used with; a different hash means the file changed upstream, on the mirror, in transit or on disk.\n%s",
		e.Component, e.Version, e.Arch, filepath.Base(e.LockFile), e.LockPos, e.Locked, e.GotFrom, e.Got, e.Advice)
}

const manifestName = "manifest.json"
const manifestFormat = 1

type manifest struct {
	Format    int            `json:"format"`
	Component string         `json:"component"`
	Version   string         `json:"version"`
	Arch      string         `json:"arch"`
	File      string         `json:"file"`
	Size      int64          `json:"size"`
	SHA256    string         `json:"sha256"`
	Top       string         `json:"top"`
	Files     []manifestFile `json:"files"`
	Symlinks  []Symlink      `json:"symlinks,omitempty"`
}

type manifestFile struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"` // octal, e.g. "0755"
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Store) maxFile() int64 {
	if s.MaxFileSize > 0 {
		return s.MaxFileSize
	}
	return DefaultMaxFileSize
}

func (s *Store) fetcher() *fetcher {
	f := &fetcher{client: s.HTTP, attempts: s.Attempts, delay: s.RetryDelay, idle: s.IdleTimeout, progress: s.Progress, logf: s.log().Warn}
	if f.client == nil {
		f.client = NewHTTPClient()
	}
	if f.attempts <= 0 {
		f.attempts = defaultAttempts
	}
	if f.delay <= 0 {
		f.delay = defaultRetryDelay
	}
	if f.idle <= 0 {
		f.idle = defaultIdleTimeout
	}
	return f
}

// lockKey serialises work on one bundle within this Store.
func (s *Store) lockKey(ctx context.Context, k string) (func(), error) {
	s.mu.Lock()
	if s.keys == nil {
		s.keys = map[string]chan struct{}{}
	}
	ch, ok := s.keys[k]
	if !ok {
		ch = make(chan struct{}, 1)
		s.keys[k] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tmpDir returns the folder for work in progress, removing what crashed runs left long ago.
func (s *Store) tmpDir() (string, error) {
	if s.Dir == "" {
		return "", errors.New("bundle cache folder is not set")
	}
	dir := filepath.Join(s.Dir, ".tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating bundle cache: %w", err)
	}
	s.mu.Lock()
	sweep := !s.swept
	s.swept = true
	s.mu.Unlock()
	if sweep {
		// Another obsbox may be working here right now; a day is long past any live download.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return dir, nil
}

// Ensure returns the verified, extracted bundle, downloading it when it is
// not cached (unless Offline). A download is checked against the upstream
// checksum file and the lock file, and recorded in the lock file.
func (s *Store) Ensure(ctx context.Context, component, version, arch string) (*Bundle, error) {
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	if err := checkKey(component, version, arch); err != nil {
		return nil, err
	}
	k := key(component, version, arch)
	unlock, err := s.lockKey(ctx, k)
	if err != nil {
		return nil, err
	}
	defer unlock()

	b, err := s.cached(ctx, component, version, arch)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := s.checkLock(b.Component, b.Version, b.Arch, b.SHA256, "the cached tarball "+b.Tarball,
			fmt.Sprintf("If the lock is right, delete %s and run `obsbox bundle pull` (or `obsbox bundle import` with the original file). If the cached file is right, delete that bundle block from %s.",
				filepath.Dir(b.Tarball), s.LockFile)); err != nil {
			return nil, err
		}
		return b, s.record(b)
	}
	src, err := SourceFor(s.Mirror, component, version, arch)
	if err != nil {
		return nil, err
	}
	if s.Offline {
		return nil, &MissingError{Component: component, Version: version, Arch: arch, Dir: s.Dir, URL: redactURL(src.Tarball)}
	}
	return s.download(ctx, src, component, version, arch)
}

// Cached returns the bundle when it is in the cache, or nil. It never downloads.
func (s *Store) Cached(ctx context.Context, component, version, arch string) (*Bundle, error) {
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	if err := checkKey(component, version, arch); err != nil {
		return nil, err
	}
	unlock, err := s.lockKey(ctx, key(component, version, arch))
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.cached(ctx, component, version, arch)
}

func (s *Store) download(ctx context.Context, src Source, component, version, arch string) (*Bundle, error) {
	name := TarballName(component, version, arch)
	f := s.fetcher()
	sums, err := f.getSmall(ctx, src.Checksum)
	if err != nil {
		return nil, fmt.Errorf("%s %s (%s): fetching the checksum file: %w", component, version, arch, err)
	}
	want, err := upstreamSum(src.Kind, sums, name)
	if err != nil {
		return nil, fmt.Errorf("%s %s (%s): checksum file %s: %w", component, version, arch, redactURL(src.Checksum), err)
	}
	advice := fmt.Sprintf("If you trust the new file, delete that bundle block from %s and run the command again; otherwise point bundles.mirror at the original files.", s.LockFile)
	// Compare before downloading: no point fetching a file the lock will refuse.
	if err := s.checkLock(component, version, arch, want, "the checksum file "+redactURL(src.Checksum), advice); err != nil {
		return nil, err
	}

	tmp, err := s.tmpDir()
	if err != nil {
		return nil, err
	}
	part, err := os.CreateTemp(tmp, name+".part-*")
	if err != nil {
		return nil, fmt.Errorf("creating a download file in %s: %w", tmp, err)
	}
	defer os.Remove(part.Name())
	s.log().Info("downloading bundle", "url", redactURL(src.Tarball))
	sum, size, err := f.download(ctx, src.Tarball, part, name, s.maxFile()*4)
	if cerr := part.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", part.Name(), cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s (%s): %w", component, version, arch, err)
	}
	if sum != want {
		return nil, &ChecksumError{File: name, From: redactURL(src.Tarball), Got: sum, Want: want, WantFrom: redactURL(src.Checksum)}
	}
	b, err := s.install(ctx, part.Name(), sum, size, component, version, arch, false)
	if err != nil {
		return nil, err
	}
	s.log().Info("bundle cached", "bundle", name, "sha256", sum)
	return b, s.record(b)
}

// Import adds a release tarball from a local file. Component, version and
// architecture come from the file name and are confirmed by the contents.
// The hash must match pin when given; otherwise a sha256sums.txt or
// <file>.sha256 beside the file is used when present. The lock file applies
// as for downloads.
func (s *Store) Import(ctx context.Context, path, pin string) (*Bundle, error) {
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	component, version, arch, err := ParseTarballName(name)
	if err != nil {
		return nil, err
	}
	if pin != "" {
		if pin, err = NormalizeSHA256(pin); err != nil {
			return nil, fmt.Errorf("--sha256: %w", err)
		}
	}
	unlock, err := s.lockKey(ctx, key(component, version, arch))
	if err != nil {
		return nil, err
	}
	defer unlock()

	tmp, err := s.tmpDir()
	if err != nil {
		return nil, err
	}
	copyPath, sum, size, err := copyToTemp(ctx, path, tmp, name, s.maxFile()*4)
	if err != nil {
		return nil, err
	}
	defer os.Remove(copyPath)

	want, wantFrom := pin, "--sha256"
	if want == "" {
		if want, wantFrom, err = sidecarSum(path); err != nil {
			return nil, err
		}
	}
	if want == "" {
		s.log().Warn("no checksum to verify the imported file against; recording its hash as is", "file", path, "sha256", sum)
	} else if sum != want {
		return nil, &ChecksumError{File: name, From: path, Got: sum, Want: want, WantFrom: wantFrom}
	}
	if err := s.checkLock(component, version, arch, sum, path,
		fmt.Sprintf("If you trust this file, delete that bundle block from %s and import it again; otherwise find the original file.", s.LockFile)); err != nil {
		return nil, err
	}

	old, err := s.cached(ctx, component, version, arch)
	if err != nil {
		return nil, err
	}
	if old != nil && old.SHA256 == sum {
		return old, s.record(old)
	}
	if old != nil {
		s.log().Warn("replacing a cached bundle with a different imported file", "bundle", name, "cached_sha256", old.SHA256, "imported_sha256", sum)
	}
	b, err := s.install(ctx, copyPath, sum, size, component, version, arch, old != nil)
	if err != nil {
		return nil, err
	}
	return b, s.record(b)
}

// sidecarSum looks beside path for sha256sums.txt listing it, then <path>.sha256.
// It returns "" when neither has the file's hash.
func sidecarSum(path string) (sum, from string, err error) {
	name := filepath.Base(path)
	sumsPath := filepath.Join(filepath.Dir(path), "sha256sums.txt")
	if content, err := os.ReadFile(sumsPath); err == nil {
		sum, found, err := lookupSum(content, name)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", sumsPath, err)
		}
		if found {
			return sum, sumsPath, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", err
	}
	single := path + ".sha256"
	if content, err := os.ReadFile(single); err == nil {
		sum, err := parseSingleSum(content, name)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", single, err)
		}
		return sum, single, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", err
	}
	return "", "", nil
}

// copyToTemp copies src into a new file in dir, returning its path, SHA-256 and size.
func copyToTemp(ctx context.Context, src, dir, name string, maxSize int64) (string, string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", "", 0, err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return "", "", 0, err
	} else if !fi.Mode().IsRegular() {
		return "", "", 0, fmt.Errorf("%s is not a regular file", src)
	} else if fi.Size() > maxSize {
		return "", "", 0, fmt.Errorf("%s is %d bytes, more than the %d allowed", src, fi.Size(), maxSize)
	}
	out, err := os.CreateTemp(dir, name+".part-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("creating a file in %s: %w", dir, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ctxReader{ctx, io.LimitReader(in, maxSize+1)})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxSize {
		err = fmt.Errorf("%s grew past %d bytes while being read", src, maxSize)
	}
	if err != nil {
		os.Remove(out.Name())
		return "", "", 0, fmt.Errorf("copying %s into the cache: %w", src, err)
	}
	return out.Name(), hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// install extracts the verified tarball at tarball (which it takes over),
// checks its contents and renames the assembled entry into the cache.
// With replace, an existing entry for the same bundle is swapped out.
func (s *Store) install(ctx context.Context, tarball, sum string, size int64, component, version, arch string, replace bool) (*Bundle, error) {
	k := key(component, version, arch)
	name := TarballName(component, version, arch)
	tmp, err := s.tmpDir()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(tmp, k+".work-*")
	if err != nil {
		return nil, fmt.Errorf("creating a work folder in %s: %w", tmp, err)
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil { // MkdirTemp makes it 0700
		return nil, err
	}
	treeDir := filepath.Join(work, "tree")
	if err := os.Mkdir(treeDir, 0o755); err != nil {
		return nil, err
	}
	t, err := extractTree(ctx, tarball, treeDir, s.maxFile(), catalog.Get(component).Release.Flat)
	if err != nil {
		return nil, err
	}
	top, err := t.checkContents(name, component, version, arch)
	if err != nil {
		return nil, err
	}
	for _, req := range requiredFiles(component) {
		p := filepath.Join(treeDir, top, filepath.FromSlash(req))
		if err := checkELFArch(p, arch); err != nil {
			return nil, fmt.Errorf("%s: %s/%s: %w", name, top, req, err)
		}
	}
	if err := os.Chmod(tarball, 0o644); err != nil { // CreateTemp makes it 0600
		return nil, err
	}
	if err := os.Rename(tarball, filepath.Join(work, name)); err != nil {
		return nil, err
	}

	m := manifest{Format: manifestFormat, Component: component, Version: version, Arch: arch, File: name, Size: size, SHA256: sum, Top: top}
	for p, f := range t.files {
		if rel, ok := inTop(top, p); ok {
			m.Files = append(m.Files, manifestFile{Path: rel, Mode: fmt.Sprintf("%04o", uint32(f.Mode.Perm())), Size: f.Size, SHA256: f.SHA256})
		}
	}
	slices.SortFunc(m.Files, func(a, b manifestFile) int { return strings.Compare(a.Path, b.Path) })
	for p, target := range t.symlinks {
		if rel, ok := inTop(top, p); ok {
			m.Symlinks = append(m.Symlinks, Symlink{Path: rel, Target: target})
		}
	}
	slices.SortFunc(m.Symlinks, func(a, b Symlink) int { return strings.Compare(a.Path, b.Path) })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSynced(filepath.Join(work, manifestName), data); err != nil {
		return nil, err
	}

	final := filepath.Join(s.Dir, k)
	if replace {
		if err := os.Rename(final, filepath.Join(work, "old")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("moving the old cache entry aside: %w", err)
		}
		// work (and the old entry with it) is removed by the deferred RemoveAll.
		if err := os.Rename(work, final); err != nil {
			return nil, fmt.Errorf("moving the bundle into the cache: %w", err)
		}
		_ = os.RemoveAll(filepath.Join(final, "old"))
	} else if err := os.Rename(work, final); err != nil {
		// Another obsbox process may have cached the same bundle meanwhile.
		other, oerr := s.load(component, version, arch)
		if oerr != nil || other == nil || other.SHA256 != sum {
			return nil, fmt.Errorf("moving the bundle into the cache at %s: %w", final, err)
		}
	}
	b, err := s.load(component, version, arch)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%s vanished from the cache right after it was written", final)
	}
	b.Cached = false
	return b, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// damagedError is a cache entry whose files no longer match its manifest.
type damagedError struct{ reason string }

func (e *damagedError) Error() string { return e.reason }

// inTop returns entry p relative to the top folder top ("." for a flat tarball).
func inTop(top, p string) (string, bool) {
	if top == "." {
		return p, true
	}
	return strings.CutPrefix(p, top+"/")
}

// load reads a cache entry's manifest and checks, by size only, that its
// files are still there. It returns nil, nil when the entry does not exist.
func (s *Store) load(component, version, arch string) (*Bundle, error) {
	dir := filepath.Join(s.Dir, key(component, version, arch))
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, &damagedError{fmt.Sprintf("%s: unreadable manifest: %v", dir, err)}
	}
	if m.Format != manifestFormat || m.Component != component || m.Version != version || m.Arch != arch || m.Top == "" ||
		m.File != TarballName(component, version, arch) || strings.ContainsAny(m.Top, `/\`) || m.Top == ".." || (m.Top == ".") != catalog.Get(component).Release.Flat {
		return nil, &damagedError{fmt.Sprintf("%s: the manifest does not describe %s", dir, m.File)}
	}
	b := &Bundle{
		Component: component, Version: version, Arch: arch, SHA256: m.SHA256,
		Tarball: filepath.Join(dir, m.File),
		Root:    filepath.Join(dir, "tree", m.Top),
		Cached:  true,
	}
	if fi, err := os.Stat(b.Tarball); err != nil || fi.Size() != m.Size {
		return nil, &damagedError{fmt.Sprintf("%s: the cached tarball is missing or changed size", b.Tarball)}
	}
	if err := s.entryTrusted(b.Tarball); err != nil {
		return nil, err
	}
	for _, mf := range m.Files {
		mode, err := strconv.ParseUint(mf.Mode, 8, 32)
		if err != nil || !filepath.IsLocal(mf.Path) {
			return nil, &damagedError{fmt.Sprintf("%s: bad manifest entry %q", dir, mf.Path)}
		}
		f := File{Path: mf.Path, Mode: fs.FileMode(mode).Perm(), Size: mf.Size, SHA256: mf.SHA256,
			LocalPath: filepath.Join(b.Root, filepath.FromSlash(mf.Path))}
		fi, err := os.Lstat(f.LocalPath)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size {
			return nil, &damagedError{fmt.Sprintf("%s is missing or changed", f.LocalPath)}
		}
		b.Files = append(b.Files, f)
	}
	b.Symlinks = m.Symlinks
	return b, nil
}

// cached loads a cache entry. A damaged entry is rebuilt from its tarball
// when that is intact, and otherwise removed so it can be fetched again.
func (s *Store) cached(ctx context.Context, component, version, arch string) (*Bundle, error) {
	b, err := s.load(component, version, arch)
	var damaged *damagedError
	if !errors.As(err, &damaged) {
		return b, err
	}
	dir := filepath.Join(s.Dir, key(component, version, arch))
	s.log().Warn("bundle cache entry is damaged; rebuilding it", "entry", dir, "reason", damaged.reason)
	b, err = s.rebuild(ctx, component, version, arch)
	if err == nil {
		return b, nil
	}
	s.log().Warn("could not rebuild the cache entry from its tarball; removing it", "entry", dir, "error", err)
	tmp, err := s.tmpDir()
	if err != nil {
		return nil, err
	}
	trash := filepath.Join(tmp, fmt.Sprintf("%s.removed-%d", key(component, version, arch), time.Now().UnixNano()))
	if err := os.Rename(dir, trash); err != nil {
		return nil, fmt.Errorf("removing the damaged cache entry %s: %w", dir, err)
	}
	_ = os.RemoveAll(trash)
	return nil, nil
}

// rebuild re-extracts a damaged entry from its tarball if the tarball still
// has the hash its manifest recorded.
func (s *Store) rebuild(ctx context.Context, component, version, arch string) (*Bundle, error) {
	dir := filepath.Join(s.Dir, key(component, version, arch))
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil || m.SHA256 == "" {
		return nil, fmt.Errorf("unreadable manifest")
	}
	name := TarballName(component, version, arch)
	tmp, err := s.tmpDir()
	if err != nil {
		return nil, err
	}
	copyPath, sum, size, err := copyToTemp(ctx, filepath.Join(dir, name), tmp, name, s.maxFile()*4)
	if err != nil {
		return nil, err
	}
	defer os.Remove(copyPath)
	if sum != m.SHA256 {
		return nil, fmt.Errorf("the cached tarball's sha256 is %s, not %s as when it was cached", sum, m.SHA256)
	}
	b, err := s.install(ctx, copyPath, sum, size, component, version, arch, true)
	if err != nil {
		return nil, err
	}
	b.Cached = true
	return b, nil
}

// checkDir fails when the Store has no cache folder.
func (s *Store) checkDir() error {
	if s.Dir == "" {
		return errors.New("bundle cache folder is not set")
	}
	return nil
}

// checkLock refuses sum when the lock file records another hash for the bundle.
func (s *Store) checkLock(component, version, arch, sum, from, advice string) error {
	if s.LockFile == "" {
		return nil
	}
	s.lockMu.Lock()
	entries, err := ReadLock(s.LockFile)
	s.lockMu.Unlock()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Component == component && e.Version == version && e.Arch == arch && e.SHA256 != sum {
			return &LockMismatchError{Component: component, Version: version, Arch: arch, LockFile: s.LockFile,
				LockPos: e.Pos, Locked: e.SHA256, Got: sum, GotFrom: from, Advice: advice}
		}
	}
	return nil
}

// record adds the bundle to the lock file unless it is already there.
func (s *Store) record(b *Bundle) error {
	if s.LockFile == "" {
		return nil
	}
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	entries, err := ReadLock(s.LockFile)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Component == b.Component && e.Version == b.Version && e.Arch == b.Arch {
			if e.SHA256 != b.SHA256 {
				return &LockMismatchError{Component: b.Component, Version: b.Version, Arch: b.Arch, LockFile: s.LockFile,
					LockPos: e.Pos, Locked: e.SHA256, Got: b.SHA256, GotFrom: b.Tarball,
					Advice: "The lock file changed while obsbox was running; check it and run the command again."}
			}
			return nil
		}
	}
	entries = append(entries, LockEntry{Component: b.Component, Version: b.Version, Arch: b.Arch, File: b.FileName(), SHA256: b.SHA256})
	if err := WriteLock(s.LockFile, entries); err != nil {
		return err
	}
	s.log().Debug("recorded bundle in lock file", "lock", s.LockFile, "bundle", b.FileName())
	return nil
}

// List returns the bundles in the cache, by component, version and architecture.
func (s *Store) List() ([]Entry, error) {
	dirents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the bundle cache: %w", err)
	}
	var out []Entry
	for _, d := range dirents {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		component, version, arch, ok := parseKey(d.Name())
		if !ok {
			continue // not ours
		}
		data, err := os.ReadFile(filepath.Join(s.Dir, d.Name(), manifestName))
		if err != nil {
			s.log().Warn("skipping a cache entry without a readable manifest", "entry", filepath.Join(s.Dir, d.Name()), "error", err)
			continue
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			s.log().Warn("skipping a cache entry with a broken manifest", "entry", filepath.Join(s.Dir, d.Name()), "error", err)
			continue
		}
		out = append(out, Entry{Component: component, Version: version, Arch: arch, File: m.File, Size: m.Size, SHA256: m.SHA256,
			Path: filepath.Join(s.Dir, d.Name(), m.File)})
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Component, b.Component); c != 0 {
			return c
		}
		if c := CompareVersions(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Arch, b.Arch)
	})
	return out, nil
}
