package installer

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
)

// Topology is how the monitoring hosts work together, for plan and status:
// the Prometheus replicas (each scrapes every target and alerts every
// Alertmanager), the Alertmanager cluster, and where the samples go.
type Topology struct {
	Prometheus   []TopologyMember `json:"prometheus_replicas"`
	Alertmanager []TopologyMember `json:"alertmanager_cluster"`
	ClusterPort  int              `json:"alertmanager_cluster_port,omitempty"`
	// RemoteWrite is where every Prometheus sends its samples, by name;
	// URLs are secrets and never shown.
	RemoteWrite []string `json:"remote_write"`
}

// TopologyMember is one replica or cluster member. Status fills in what the
// member itself reports; plan leaves it empty.
type TopologyMember struct {
	Host    string `json:"host"`
	Address string `json:"address"`
	// Members is how many cluster members this Alertmanager sees (status only).
	Members *int `json:"cluster_members,omitempty"`
}

// topologyOf reads the topology from the inventory; nil when there is
// nothing beyond one Prometheus and at most one Alertmanager to show.
func topologyOf(inv *inventory.Inventory) *Topology {
	t := &Topology{Prometheus: []TopologyMember{}, Alertmanager: []TopologyMember{}, RemoteWrite: remoteWriteDestinations(inv)}
	for _, h := range inv.HostsWithRole(catalog.Prometheus) {
		t.Prometheus = append(t.Prometheus, TopologyMember{Host: h.Name, Address: h.Address})
	}
	for _, h := range inv.HostsWithRole(catalog.Alertmanager) {
		t.Alertmanager = append(t.Alertmanager, TopologyMember{Host: h.Name, Address: h.Address})
	}
	if len(t.Alertmanager) > 1 {
		t.ClusterPort = inv.Alertmanager.ClusterPort
	}
	if len(t.Prometheus) < 2 && len(t.Alertmanager) < 2 && len(t.RemoteWrite) == 0 {
		return nil
	}
	return t
}

// remoteWriteDestinations names each remote_write target of the Prometheus
// hosts, in the order prometheus.yml lists them.
func remoteWriteDestinations(inv *inventory.Inventory) []string {
	out := []string{}
	for _, rw := range inv.Prometheus.RemoteWrite {
		out = append(out, strconv.Quote(rw.Name)+" (URL sensitive)")
	}
	return out
}

// Write prints the topology as a few indented lines under a heading.
func (t *Topology) Write(w io.Writer) {
	if t == nil {
		return
	}
	fmt.Fprintln(w, "Topology:")
	if n := len(t.Prometheus); n > 0 {
		what := "Prometheus"
		if n > 1 {
			what = fmt.Sprintf("Prometheus replicas (%d, alike: each scrapes every target and alerts every Alertmanager)", n)
		}
		fmt.Fprintf(w, "  %s: %s\n", what, t.members(t.Prometheus, 0))
	}
	switch n := len(t.Alertmanager); {
	case n > 1:
		fmt.Fprintf(w, "  Alertmanager cluster (%d members, gossip on port %d): %s\n", n, t.ClusterPort, t.members(t.Alertmanager, n))
	case n == 1:
		fmt.Fprintf(w, "  Alertmanager: %s\n", t.members(t.Alertmanager, 0))
	}
	if len(t.RemoteWrite) > 0 {
		fmt.Fprintf(w, "  Samples go to: %s\n", strings.Join(t.RemoteWrite, ", "))
	}
}

// members lists hosts; with size > 0, each followed by how many members it sees.
func (t *Topology) members(ms []TopologyMember, size int) string {
	var parts []string
	for _, m := range ms {
		s := fmt.Sprintf("%s (%s)", m.Host, m.Address)
		if size > 0 && m.Members != nil {
			s = fmt.Sprintf("%s (%s, sees %d/%d)", m.Host, m.Address, *m.Members, size)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
