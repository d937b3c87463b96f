// Package bundles knows where each component's upstream release tarball lives,
// downloads or imports it into a local cache, verifies it against the upstream
// checksum and obsbox.lock.hcl, and extracts it safely.
package bundles

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Component names, as used in the inventory's versions block and on hosts.
const (
	Prometheus   = "prometheus"
	Alertmanager = "alertmanager"
	Grafana      = "grafana"
	NodeExporter = "node_exporter"
)

// Components lists every component obsbox knows, in install order.
var Components = []string{NodeExporter, Prometheus, Alertmanager, Grafana}

// defaultVersions are the versions used when the inventory names none.
var defaultVersions = map[string]string{
	Prometheus:   "2.53.2",
	Alertmanager: "0.27.0",
	Grafana:      "11.2.2",
	NodeExporter: "1.8.2",
}

// DefaultVersion returns the catalog's default version of component, or "" if unknown.
func DefaultVersion(component string) string { return defaultVersions[component] }

// knownVersions are released upstream versions, oldest first. They stop at the
// major versions obsbox renders configuration for (Prometheus 2, Grafana 11):
// Prometheus 3 and Grafana 12 changed flags and configuration, so `upgrade`
// must not move to them on its own. Any other version can still be named
// explicitly in the inventory.
var knownVersions = map[string][]string{
	Prometheus: {
		"2.42.0", "2.43.0", "2.44.0", "2.45.0", "2.46.0", "2.47.0", "2.47.1", "2.47.2",
		"2.48.0", "2.48.1", "2.49.0", "2.49.1", "2.50.0", "2.50.1", "2.51.0", "2.51.1",
		"2.51.2", "2.52.0", "2.53.0", "2.53.1", "2.53.2", "2.53.3", "2.54.0", "2.54.1",
		"2.55.0", "2.55.1",
	},
	Alertmanager: {"0.24.0", "0.25.0", "0.26.0", "0.27.0", "0.28.0", "0.28.1"},
	NodeExporter: {"1.5.0", "1.6.0", "1.6.1", "1.7.0", "1.8.0", "1.8.1", "1.8.2", "1.9.0", "1.9.1"},
	Grafana: {
		"11.0.0", "11.1.0", "11.2.0", "11.2.2", "11.3.0", "11.4.0", "11.5.0", "11.6.0",
	},
}

// KnownVersions returns the catalog's released versions of component, oldest first.
func KnownVersions(component string) []string {
	return slices.Clone(knownVersions[component])
}

// Newest returns the newest version of component in the catalog, or "" if unknown.
func Newest(component string) string {
	vs := knownVersions[component]
	if len(vs) == 0 {
		return ""
	}
	return slices.MaxFunc(vs, CompareVersions)
}

// IsComponent reports whether name is a component obsbox knows.
func IsComponent(name string) bool { return slices.Contains(Components, name) }

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
	if !IsComponent(component) {
		return fmt.Errorf("unknown component %q: expected one of %s", component, strings.Join(Components, ", "))
	}
	if err := CheckVersion(version); err != nil {
		return fmt.Errorf("%s: %w", component, err)
	}
	if !slices.Contains(Arches, arch) {
		return fmt.Errorf("architecture %q is not supported: expected one of %s", arch, strings.Join(Arches, ", "))
	}
	return nil
}

// githubRepo is the repository under github.com/prometheus for each component
// released there; Grafana comes from dl.grafana.com instead.
var githubRepo = map[string]string{
	Prometheus:   "prometheus",
	Alertmanager: "alertmanager",
	NodeExporter: "node_exporter",
}

// requiredFiles are the files, relative to the top folder, each tarball must hold.
var requiredFiles = map[string][]string{
	Prometheus:   {"prometheus", "promtool"},
	Alertmanager: {"alertmanager", "amtool"},
	NodeExporter: {"node_exporter"},
	Grafana:      {"bin/grafana"},
}

// RequiredFiles returns the executables, relative to the bundle's top folder,
// that component's tarball must contain.
func RequiredFiles(component string) []string { return slices.Clone(requiredFiles[component]) }

// TarballName is the upstream file name, e.g. prometheus-2.53.2.linux-amd64.tar.gz.
func TarballName(component, version, arch string) string {
	return fmt.Sprintf("%s-%s.linux-%s.tar.gz", component, version, arch)
}

// key names a bundle in the cache: the tarball name without .tar.gz.
func key(component, version, arch string) string {
	return fmt.Sprintf("%s-%s.linux-%s", component, version, arch)
}

// TopFolders returns the folder names the tarball may have at its top, preferred first.
func TopFolders(component, version, arch string) []string {
	if component == Grafana {
		// Grafana 10+ uses grafana-v<V>; older releases used grafana-<V>.
		return []string{"grafana-v" + version, "grafana-" + version}
	}
	return []string{key(component, version, arch)}
}

// ChecksumKind says how the upstream checksum file is laid out.
type ChecksumKind int

const (
	// SumsFile is a sha256sum listing of every file in the release (sha256sums.txt).
	SumsFile ChecksumKind = iota
	// SingleSum is a file holding only this tarball's hash (grafana's <file>.sha256).
	SingleSum
)

// Source is where a bundle is downloaded from.
type Source struct {
	Tarball  string // URL of the tarball
	Checksum string // URL of the checksum file
	Kind     ChecksumKind
}

// upstreamPath returns the URL path (after scheme and host) of the tarball and its checksum file.
func upstreamPath(component, version, arch string) (host, tarball, checksum string, kind ChecksumKind) {
	name := TarballName(component, version, arch)
	if component == Grafana {
		p := "/oss/release/" + name
		return "https://dl.grafana.com", p, p + ".sha256", SingleSum
	}
	dir := fmt.Sprintf("/prometheus/%s/releases/download/v%s/", githubRepo[component], version)
	return "https://github.com", dir + name, dir + "sha256sums.txt", SumsFile
}

// SourceFor returns the download URLs of a bundle. A non-empty mirror (a base
// URL, optionally with a path) replaces upstream's scheme and host.
func SourceFor(mirror, component, version, arch string) (Source, error) {
	if err := checkKey(component, version, arch); err != nil {
		return Source{}, err
	}
	host, tarball, checksum, kind := upstreamPath(component, version, arch)
	if mirror != "" {
		base, err := CheckMirror(mirror)
		if err != nil {
			return Source{}, err
		}
		host = base
	}
	return Source{Tarball: host + tarball, Checksum: host + checksum, Kind: kind}, nil
}

var fileNameRE = regexp.MustCompile(`^(prometheus|alertmanager|node_exporter|grafana)-([0-9][0-9A-Za-z.-]*)\.linux-([0-9a-z]+)\.tar\.gz$`)

// ParseTarballName reads component, version and architecture from an upstream
// file name such as node_exporter-1.8.2.linux-amd64.tar.gz.
func ParseTarballName(name string) (component, version, arch string, err error) {
	m := fileNameRE.FindStringSubmatch(name)
	if m == nil {
		return "", "", "", fmt.Errorf("%s: not an upstream release file name: expected COMPONENT-VERSION.linux-ARCH.tar.gz "+
			"(e.g. %s) with COMPONENT one of %s", name, TarballName(NodeExporter, DefaultVersion(NodeExporter), AMD64), strings.Join(Components, ", "))
	}
	component, version, arch = m[1], m[2], m[3]
	if err := checkKey(component, version, arch); err != nil {
		return "", "", "", fmt.Errorf("%s: %w", name, err)
	}
	return component, version, arch, nil
}
