package catalog

import (
	"path"
	"strings"
)

// Fixed roots of the host layout (SPEC.md "What lands on a host").
const (
	OptRoot    = "/opt/obsbox"
	ConfigRoot = "/etc/obsbox"
	DataRoot   = "/var/lib/obsbox"
	UnitDir    = "/etc/systemd/system"
)

// UnitName is the systemd unit, e.g. obsbox-node-exporter.service.
func UnitName(component string) string {
	return "obsbox-" + strings.ReplaceAll(component, "_", "-") + ".service"
}

// UserName is the system user (and group) the component runs as.
func UserName(component string) string {
	return "obsbox-" + strings.ReplaceAll(component, "_", "-")
}

// BaseDir holds every version of a component's binaries.
func BaseDir(component string) string { return path.Join(OptRoot, component) }

// VersionDir holds one version's binaries.
func VersionDir(component, version string) string { return path.Join(OptRoot, component, version) }

// CurrentLink points at the active version folder; units execute from it.
func CurrentLink(component string) string { return path.Join(OptRoot, component, "current") }

// ConfigDir holds the component's configuration.
func ConfigDir(component string) string { return path.Join(ConfigRoot, component) }

// DataDir holds the component's data; it survives upgrades and rollbacks.
func DataDir(component string) string { return path.Join(DataRoot, component) }

// UnitPath is where the unit file lives.
func UnitPath(component string) string { return path.Join(UnitDir, UnitName(component)) }
