// Package catalog holds, per component, every fact that does not depend on a
// host: names, ports, health endpoints, binaries, release naming, known
// versions, rollout policy and the host layout. Each component registers
// itself from its own file; everything else iterates All or looks up Get.
// It imports only the standard library so that every package can use it.
package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// installOrder is the one install order: a component is installed (and
// upgraded) after those before it. Every registered component must appear.
// VictoriaMetrics comes before Grafana, whose default datasource it is.
var installOrder = []string{NodeExporter, BlackboxExporter, Prometheus, Alertmanager, VictoriaMetrics, Grafana}

// Component is what is fixed about one component.
type Component struct {
	// Name is the versions key, the bundle's component and the folder name
	// under /opt/obsbox, /etc/obsbox and /var/lib/obsbox.
	Name string
	// Role is the inventory role that places the component on a host; ""
	// means every host (node_exporter, unless the host says node_exporter = false).
	// Several components may share a role.
	Role string
	// Feature is the inventory block the component also needs on a host of
	// its Role (e.g. "probe": at least one probe block); "" when the role alone places it.
	Feature string
	// Unit and User are derived from Name by Register (UnitName, UserName).
	Unit string
	User string
	// Ports are the default listeners; the inventory may change the numbers.
	Ports []Port
	// Health is how a running instance shows it is ready and which version it runs.
	Health Health
	// Reload means the unit reloads (SIGHUP) on a configuration change instead of restarting.
	Reload bool
	// Binaries are the executables the release tarball holds, relative to its
	// top folder (to its root when Release.Flat).
	Binaries []string
	// Release names the upstream tarball and checksum file.
	Release Release
	// Versions are released upstream versions, oldest first; Default is one of them.
	Versions []string
	Default  string
	// BatchDivisor: a rollout switches len(hosts)/BatchDivisor hosts at a time
	// (at least one); 0 or 1 means one host at a time.
	BatchDivisor int
	// DataKind is the history its data folder holds, for plan notes when the
	// component moves between hosts; "" when it holds none worth a note.
	DataKind string
	// DataDescription says what the data folder holds, for uninstall --keep-data.
	DataDescription string
	// Secrets names, by enclosing inventory block path, the settings whose values are secret.
	Secrets map[string][]string
	// MajorChanges says, per major version, what changes for the user when a
	// fleet moves to it, for the major upgrade's plan note.
	MajorChanges map[int]string
	// DowngradeFloor, when set, bounds how far back a host may go once it
	// has run a version at or above Ran; nil: any version may follow any.
	DowngradeFloor *Floor
	// AlertRules names the alert rules the component adds to Prometheus's
	// rules file; rules.disable and rule blocks may name them.
	AlertRules []string
}

// Floor: a host whose component has run Ran or newer may not go below Min
// (its data folder would be unreadable), for Reason.
type Floor struct {
	Ran, Min, Reason string
}

// Port is one default listener.
type Port struct {
	Name    string // "web", "cluster"
	Default int
	Scope   Scope
}

// Scope is where a listener accepts connections.
type Scope int

const (
	ScopeAll      Scope = iota // every address of the host
	ScopeHost                  // the host's inventory address only
	ScopeLoopback              // 127.0.0.1 only
)

// Health is the scheme-independent part of a component's health check.
type Health struct {
	Path string // answers 2xx when ready
	// ReloadMetric, when set, must read 1 at Path (a metrics page): it proves the last reload took.
	ReloadMetric string
	// BuildInfo is the metric whose version label names the running version.
	BuildInfo string
	// VersionLabel is BuildInfo's label holding that version; "" means "version".
	VersionLabel string
}

// Batch returns how many of n hosts a rollout switches at a time.
func (c *Component) Batch(n int) int {
	if c.BatchDivisor <= 1 {
		return 1
	}
	return max(1, n/c.BatchDivisor)
}

// WebPort returns the default of the component's first (main) port.
func (c *Component) WebPort() int { return c.Ports[0].Default }

var registry = map[string]*Component{}

// Register adds a component; each component's file calls it from init.
func Register(c Component) {
	if c.Name == "" || registry[c.Name] != nil {
		panic(fmt.Sprintf("catalog: component %q registered twice or without a name", c.Name))
	}
	c.Unit, c.User = UnitName(c.Name), UserName(c.Name)
	registry[c.Name] = &c
}

// All returns every component in install order.
func All() []*Component {
	out := make([]*Component, 0, len(installOrder))
	for _, n := range installOrder {
		if c := registry[n]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Names returns every component's name in install order.
func Names() []string {
	var out []string
	for _, c := range All() {
		out = append(out, c.Name)
	}
	return out
}

// Get returns the component called name, or nil.
func Get(name string) *Component { return registry[name] }

// Known reports whether name is a registered component.
func Known(name string) bool { return registry[name] != nil }

// Index returns name's position in the install order, or -1.
func Index(name string) int { return slices.Index(installOrder, name) }

// Roles returns the inventory roles, each once, in install order.
func Roles() []string {
	var out []string
	for _, c := range All() {
		if c.Role != "" && !slices.Contains(out, c.Role) {
			out = append(out, c.Role)
		}
	}
	return out
}

// Registered returns every registered name, sorted, including any missing
// from the install order (which the registry's test rejects).
func Registered() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// InstallOrder returns the install order as declared.
func InstallOrder() []string { return slices.Clone(installOrder) }

// NameList is the names joined for messages: "node_exporter, prometheus, …".
func NameList() string { return strings.Join(Names(), ", ") }

// AlertRuleNames returns the alert rules every component adds, in install order.
func AlertRuleNames() []string {
	var out []string
	for _, c := range All() {
		out = append(out, c.AlertRules...)
	}
	return out
}

// DefaultPort returns the default number of component's port called port, or 0.
func DefaultPort(component, port string) int {
	if c := Get(component); c != nil {
		for _, p := range c.Ports {
			if p.Name == port {
				return p.Default
			}
		}
	}
	return 0
}
