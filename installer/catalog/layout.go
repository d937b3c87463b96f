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

// TLS on a host. The host's key is made on the host and never leaves it;
// each component gets its own copy of key and certificate, readable by its
// user only, in one file so a renewal swaps both at once.
const (
	HostTLSDirName = "tls"            // under ConfigRoot: root's own key and the public certificate
	HostKeyName    = "host.key"       // 0600 root
	HostCertName   = "host.crt"       // the certificate, public
	KeyPairRel     = "tls/server.pem" // under a component's ConfigDir: key, then certificate
	CABundleRel    = "tls/ca.crt"     // under a component's ConfigDir: the CAs it trusts
	WebConfigName  = "web.yml"        // exporter-toolkit web configuration in a ConfigDir
	WebUser        = "obsbox"         // the user of every endpoint's basic auth
)

// HostTLSDir is root's TLS folder on a host.
func HostTLSDir() string { return path.Join(ConfigRoot, HostTLSDirName) }

// HostKeyPath is the host's private key.
func HostKeyPath() string { return path.Join(HostTLSDir(), HostKeyName) }

// HostCertPath is the host's certificate.
func HostCertPath() string { return path.Join(HostTLSDir(), HostCertName) }

// KeyPairPath is component's copy of the host's key and certificate.
func KeyPairPath(component string) string { return path.Join(ConfigDir(component), KeyPairRel) }

// CABundlePath is the CA bundle component trusts.
func CABundlePath(component string) string { return path.Join(ConfigDir(component), CABundleRel) }
