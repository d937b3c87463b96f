package catalog

import (
	"regexp"
	"strings"
)

// Release says where a component's upstream release files live and how they
// are named. Every string is a pattern in which {name}, {version} and {arch}
// stand for the component name, the release version (no leading v) and the
// architecture as upstream spells it (amd64, arm64).
type Release struct {
	Host     string // scheme and host, e.g. https://github.com; a mirror replaces it
	Dir      string // URL path of the folder holding both files, ending in /
	Tarball  string // file name, e.g. {name}-{version}.linux-{arch}.tar.gz
	Checksum string // checksum file name, e.g. sha256sums.txt
	Kind     ChecksumKind
	// TopFolders are the folder names the tarball may have at its top, preferred first.
	TopFolders []string
	// Flat means the tarball holds its files at its root, in no top folder
	// (VictoriaMetrics); TopFolders is then empty.
	Flat bool
}

// ChecksumKind says how the upstream checksum file is laid out.
type ChecksumKind int

const (
	// SumsFile is a sha256sum listing of every file in the release (sha256sums.txt).
	SumsFile ChecksumKind = iota
	// SingleSum is a file holding only this tarball's hash (grafana's <file>.sha256).
	SingleSum
)

// GitHubPrometheus is the layout of the release pages under github.com/prometheus/<name>.
func GitHubPrometheus() Release {
	return Release{
		Host:       "https://github.com",
		Dir:        "/prometheus/{name}/releases/download/v{version}/",
		Tarball:    "{name}-{version}.linux-{arch}.tar.gz",
		Checksum:   "sha256sums.txt",
		Kind:       SumsFile,
		TopFolders: []string{"{name}-{version}.linux-{arch}"},
	}
}

func expand(pattern, name, version, arch string) string {
	return strings.NewReplacer("{name}", name, "{version}", version, "{arch}", arch).Replace(pattern)
}

// TarballName is the upstream tarball's file name.
func (c *Component) TarballName(version, arch string) string {
	return expand(c.Release.Tarball, c.Name, version, arch)
}

// TopFolders returns the folder names the tarball may have at its top, preferred first.
func (c *Component) TopFolders(version, arch string) []string {
	var out []string
	for _, p := range c.Release.TopFolders {
		out = append(out, expand(p, c.Name, version, arch))
	}
	return out
}

// StripComponents is how many leading path elements the host's tar drops
// so that the tarball's files land in the version folder.
func (c *Component) StripComponents() int {
	if c.Release.Flat {
		return 0
	}
	return 1
}

// ReleasePaths returns the URL paths (after scheme and host) of the tarball and its checksum file.
func (c *Component) ReleasePaths(version, arch string) (tarball, checksum string) {
	dir := expand(c.Release.Dir, c.Name, version, arch)
	return dir + c.TarballName(version, arch), dir + expand(c.Release.Checksum, c.Name, version, arch)
}

// ParseTarballName reads version and architecture from a file named by the
// component's tarball pattern; ok is false when the name does not fit.
func (c *Component) ParseTarballName(file string) (version, arch string, ok bool) {
	re := tarballRE(c)
	m := re.FindStringSubmatch(file)
	if m == nil {
		return "", "", false
	}
	return m[re.SubexpIndex("version")], m[re.SubexpIndex("arch")], true
}

func tarballRE(c *Component) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	rest := c.Release.Tarball
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		switch rest[i : j+1] {
		case "{name}":
			b.WriteString(regexp.QuoteMeta(c.Name))
		case "{version}":
			b.WriteString(`(?P<version>[0-9][0-9A-Za-z.-]*)`)
		case "{arch}":
			b.WriteString(`(?P<arch>[0-9a-z]+)`)
		default:
			b.WriteString(regexp.QuoteMeta(rest[i : j+1]))
		}
		rest = rest[j+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
