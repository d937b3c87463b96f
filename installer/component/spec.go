// Package component describes, per component, what obsbox puts on a host.
// Each component lives in its own file and returns a Spec; the planner turns
// Specs into actions, so a component never talks to a host itself.
package component

import (
	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
)

// Component is one piece of the stack.
type Component interface {
	// Name is the catalog name, e.g. "node_exporter".
	Name() string
	// Runs reports whether the component belongs on host h.
	Runs(inv *inventory.Inventory, h *inventory.Host) bool
	// Spec returns what the component wants on the host.
	Spec(c *Context) (*Spec, error)
	// Port is the inventory's port of the component's health endpoint.
	Port(inv *inventory.Inventory) int
}

// Context is what a component may look at to build its Spec.
type Context struct {
	Inv     *inventory.Inventory
	Host    *inventory.Host
	Version string
	Bundle  *bundles.Bundle // nil when planning without bundles (then binaries are unknown)
	// GrafanaAdminPassword and GrafanaSecretKey are resolved once per run by the caller.
	GrafanaAdminPassword inventory.Secret
	GrafanaSecretKey     inventory.Secret
	// Security is the run's TLS and basic auth, the same for every host.
	Security Security
	// HostCert is the host's certificate PEM; nil while it is yet to be
	// issued (plan), when the key pair files show as pending.
	HostCert []byte
}

// Spec is the desired state of one component on one host.
type Spec struct {
	Component string
	Version   string
	Bundle    *bundles.Bundle
	// Binaries are paths inside the bundle that must exist (checked after extraction).
	Binaries []string
	Files    []File
	Dirs     []Dir
	Unit     []byte  // rendered unit file
	Reload   bool    // the unit supports reload (SIGHUP) for configuration changes
	Check    *Check  // validates the configuration folder before it goes live
	Checks   []Check // more checks of the same folder (web.yml with promtool)
	Health   Health
	// KeyPair is the component's copy of the host's key and certificate.
	KeyPair *KeyPair
	// BeforeRestart is shell run as root with the unit stopped, before it
	// starts again, when a file marked Hook changed.
	BeforeRestart string
	// WritesNoData: the component only reads (node_exporter), so its data
	// folder is root's, read-only to it, and root may keep files there.
	WritesNoData bool
}

// DataFolder is the component's data folder as the plan makes it: its
// service user's own, or root's when the component writes no data. Root
// writes nothing inside a folder a service user owns: that user could swap
// the file for a link and steer root's write, chmod or chown elsewhere.
func (s *Spec) DataFolder() Dir {
	if s.WritesNoData {
		return Dir{Path: catalog.DataDir(s.Component), Mode: 0o755, Owner: "root", Group: "root"}
	}
	user := catalog.UserName(s.Component)
	return Dir{Path: catalog.DataDir(s.Component), Mode: 0o750, Owner: user, Group: user}
}

// File is a file the component wants, with its full content.
type File struct {
	Path      string
	Content   []byte
	Mode      uint32
	Owner     string
	Group     string
	Sensitive bool   // wholly secret: never shown in diffs or logs
	Effect    Effect // what a change does to the running unit
	Hook      bool   // a change runs the Spec's BeforeRestart
	// Secrets names the values of the file that are secret, so a diff can
	// show everything else; nil when the file holds none.
	Secrets *Secrets
	// Targets marks a file that lists the fleet's hosts: a Prometheus host
	// that --hosts did not name still gets it.
	Targets bool
}

// Secrets says which values of a file are secret. Keys are mapping (YAML)
// or ini keys whose values are masked wherever they appear, also in the
// host's copy, which may hold secrets the inventory no longer names;
// Values are the secrets this render put in, masked wherever they appear.
type Secrets struct {
	Format string // "yaml" or "ini"
	Keys   []string
	Values []string
}

// Dir is a folder the component wants beyond the standard ones.
type Dir struct {
	Path  string
	Mode  uint32
	Owner string
	Group string
}

// Effect is what a changed file means for the running service.
type Effect int

const (
	EffectNone    Effect = iota // picked up by the service itself (file_sd targets)
	EffectReload                // reload, or restart when the unit cannot reload
	EffectRestart               // restart
)

// KeyPair is a file holding the host's key (which never leaves the host)
// and then its certificate: the apply script puts them together.
type KeyPair struct {
	Path   string
	Group  string // readable by root and this group only
	Cert   []byte // the certificate PEM; nil when not issued yet
	Effect Effect // what a new certificate does to the running unit
}

// Check runs a component's own validation tool against a candidate config folder.
// In Args, "{dir}" stands for the candidate folder and "{bin}" for the folder holding
// the (possibly not yet installed) version's binaries.
type Check struct {
	Tool string // binary name inside the bundle, e.g. "promtool"
	Args []string
	// ToolFrom is the component on the same host whose bundle holds Tool
	// ("" = the component's own).
	ToolFrom string
}

// Health is how to ask a running component whether it is ready.
type Health struct {
	Port int
	Path string
	// ReloadMetric, when set, must read 1 at Path (a metrics page) for the
	// component to count as healthy: it proves the last reload took.
	ReloadMetric string
	// BuildInfo is the metric whose version label names the running version.
	BuildInfo string
	// VersionLabel is BuildInfo's label holding it; "" means "version".
	VersionLabel string
}

// health is the catalog's health check of component, on port.
func health(component string, port int) Health {
	h := catalog.Get(component).Health
	return Health{Port: port, Path: h.Path, ReloadMetric: h.ReloadMetric, BuildInfo: h.BuildInfo, VersionLabel: h.VersionLabel}
}

// binDir is the stable path units execute from.
func binDir(component string) string { return catalog.CurrentLink(component) }

var impls = map[string]Component{}

// register adds a component's implementation; each component's file calls it from init.
func register(c Component) { impls[c.Name()] = c }

// Implemented reports whether the catalog's component name has an implementation here.
func Implemented(name string) bool { return impls[name] != nil }

// All lists the components in the catalog's install order.
func All() []Component {
	var out []Component
	for _, c := range catalog.All() {
		if impl := impls[c.Name]; impl != nil {
			out = append(out, impl)
		}
	}
	return out
}
