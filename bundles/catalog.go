// Package bundles finds each component's upstream release tarball (named by the catalog),
// downloads or imports it into a local cache, verifies it against the upstream
// checksum and obsbox.lock.hcl, and extracts it safely.
package bundles

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
)

// Newest returns the newest version of component in the catalog, or "" if unknown.
func Newest(component string) string {
	c := catalog.Get(component)
	if c == nil || len(c.Versions) == 0 {
		return ""
	}
	return slices.MaxFunc(c.Versions, CompareVersions)
}

// NewestInMajor is what a bare `upgrade` moves component to from current: the
// newest catalog release with current's major version, never older than
// current (a version newer than the catalog knows stays). newer lists, oldest
// first, the newest release of each later major, which only an explicit
// COMPONENT=VERSION moves to. For 0.x (Alertmanager, blackbox_exporter) the
// major is 0: SemVer lets 0.MINOR break, but upstream keeps them compatible
// and obsbox renders every one it knows, so a bare upgrade takes 0.27 to 0.35.
// A current that does not parse is returned as it is.
func NewestInMajor(component, current string) (newest string, newer []string) {
	c := catalog.Get(component)
	cur, err := ParseVersion(current)
	if c == nil || err != nil {
		return current, nil
	}
	newest = current
	byMajor := map[uint64]string{}
	for _, v := range c.Versions {
		pv, err := ParseVersion(v)
		if err != nil || pv.Pre != nil {
			continue
		}
		switch {
		case pv.Major == cur.Major && CompareVersions(v, newest) > 0:
			newest = v
		case pv.Major > cur.Major && (byMajor[pv.Major] == "" || CompareVersions(v, byMajor[pv.Major]) > 0):
			byMajor[pv.Major] = v
		}
	}
	for _, m := range slices.Sorted(maps.Keys(byMajor)) {
		newer = append(newer, byMajor[m])
	}
	return newest, newer
}

// Architectures obsbox has bundles for, named as in upstream file names.
const (
	AMD64 = "amd64"
	ARM64 = "arm64"
)

// Arches lists the supported architectures.
var Arches = []string{AMD64, ARM64}

// ArchFromUname maps `uname -m` output to a bundle architecture.
func ArchFromUname(m string) (string, error) {
	switch strings.TrimSpace(m) {
	case "x86_64", "amd64":
		return AMD64, nil
	case "aarch64", "arm64":
		return ARM64, nil
	case "":
		return "", fmt.Errorf("uname -m printed nothing: cannot tell the host's architecture")
	}
	return "", fmt.Errorf("architecture %q (uname -m) is not supported: obsbox has bundles for x86_64 (amd64) and aarch64 (arm64) only", strings.TrimSpace(m))
}

// checkKey validates a component, version and architecture triple.
func checkKey(component, version, arch string) error {
	if !catalog.Known(component) {
		return fmt.Errorf("unknown component %q: expected one of %s", component, catalog.NameList())
	}
	if err := CheckVersion(version); err != nil {
		return fmt.Errorf("%s: %w", component, err)
	}
	if !slices.Contains(Arches, arch) {
		return fmt.Errorf("architecture %q is not supported: expected one of %s", arch, strings.Join(Arches, ", "))
	}
	return nil
}

// requiredFiles are the files, relative to the top folder, each tarball must hold.
func requiredFiles(component string) []string {
	if c := catalog.Get(component); c != nil {
		return c.Binaries
	}
	return nil
}

// TarballName is the upstream file name, e.g. prometheus-2.53.2.linux-amd64.tar.gz.
func TarballName(component, version, arch string) string {
	return catalog.Get(component).TarballName(version, arch)
}

// key names a bundle in the cache: obsbox's own name, whatever upstream's.
func key(component, version, arch string) string {
	return fmt.Sprintf("%s-%s.linux-%s", component, version, arch)
}

// parseKey reads a cache entry's name (key): obsbox's own naming, which
// need not be upstream's tarball name.
func parseKey(k string) (component, version, arch string, ok bool) {
	for _, c := range catalog.All() {
		rest, found := strings.CutPrefix(k, c.Name+"-")
		if !found {
			continue
		}
		i := strings.LastIndex(rest, ".linux-")
		if i < 0 {
			continue
		}
		v, a := rest[:i], rest[i+len(".linux-"):]
		if checkKey(c.Name, v, a) == nil && key(c.Name, v, a) == k {
			return c.Name, v, a, true
		}
	}
	return "", "", "", false
}

// TopFolders returns the folder names the tarball may have at its top, preferred first.
func TopFolders(component, version, arch string) []string {
	return catalog.Get(component).TopFolders(version, arch)
}

// Source is where a bundle is downloaded from.
type Source struct {
	Tarball  string // URL of the tarball
	Checksum string // URL of the checksum file
	Kind     catalog.ChecksumKind
}

// SourceFor returns the download URLs of a bundle. A non-empty mirror (a base
// URL, optionally with a path) replaces upstream's scheme and host.
func SourceFor(mirror, component, version, arch string) (Source, error) {
	if err := checkKey(component, version, arch); err != nil {
		return Source{}, err
	}
	c := catalog.Get(component)
	host := c.Release.Host
	tarball, checksum := c.ReleasePaths(version, arch)
	if mirror != "" {
		base, err := CheckMirror(mirror)
		if err != nil {
			return Source{}, err
		}
		host = base
	}
	return Source{Tarball: host + tarball, Checksum: host + checksum, Kind: c.Release.Kind}, nil
}

// ParseTarballName reads component, version and architecture from an upstream
// file name such as node_exporter-1.8.2.linux-amd64.tar.gz.
func ParseTarballName(name string) (component, version, arch string, err error) {
	for _, c := range catalog.All() {
		if v, a, ok := c.ParseTarballName(name); ok {
			if err := checkKey(c.Name, v, a); err != nil {
				return "", "", "", fmt.Errorf("%s: %w", name, err)
			}
			return c.Name, v, a, nil
		}
	}
	ne := catalog.Get(catalog.NodeExporter)
	return "", "", "", fmt.Errorf("%s: not an upstream release file name: expected COMPONENT-VERSION.linux-ARCH.tar.gz "+
		"(e.g. %s) with COMPONENT one of %s", name, ne.TarballName(ne.Default, AMD64), catalog.NameList())
}
