package installer

import (
	"bytes"
	"fmt"

	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/inventory"
)

// HostsAffected lists, in next's order, the hosts of both inventories
// whose rendered files (configuration and units) differ between them, or
// whose components do: the hosts an edit such as add-host or remove-host
// reaches (Alertmanager's peers, Grafana's datasources, Prometheus's
// alerting and static targets, …). It is worked out by rendering, not from
// roles, so a component whose files depend on the host set is covered by
// being there. Target lists (File.Targets) are left out: every run brings
// the Prometheus hosts in for those already. Secrets do not depend on the
// host set and are left out too; no file beside the inventory is read or made.
func HostsAffected(before, next *inventory.Inventory) ([]string, error) {
	noSecrets := func() (inventory.Secret, inventory.Secret, error) {
		// Any valid stand-in: the same on both sides.
		return inventory.NewSecret("not-compared-1"), inventory.NewSecret("not-compared-2"), nil
	}
	was := &contextBuilder{inv: before, grafanaSecrets: noSecrets}
	now := &contextBuilder{inv: next, grafanaSecrets: noSecrets}
	var out []string
	for _, h := range next.Hosts {
		old := before.Host(h.Name)
		if old == nil {
			continue
		}
		differs, err := rendersDifferently(was, old, now, h)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if differs {
			out = append(out, h.Name)
		}
	}
	return out, nil
}

func rendersDifferently(was *contextBuilder, old *inventory.Host, now *contextBuilder, h *inventory.Host) (bool, error) {
	for _, c := range component.All() {
		in, out := c.Runs(was.inv, old), c.Runs(now.inv, h)
		if in != out {
			return true, nil
		}
		if !in {
			continue
		}
		a, err := render(was, c, old)
		if err != nil {
			return false, err
		}
		b, err := render(now, c, h)
		if err != nil {
			return false, err
		}
		if !sameRender(a, b) {
			return true, nil
		}
	}
	return false, nil
}

func render(b *contextBuilder, c component.Component, h *inventory.Host) (*component.Spec, error) {
	cc, err := b.context(c.Name(), h, b.inv.Versions[c.Name()], nil)
	if err != nil {
		return nil, err
	}
	return c.Spec(cc)
}

func sameRender(a, b *component.Spec) bool {
	af, bf := notTargets(a.Files), notTargets(b.Files)
	if a.Version != b.Version || !bytes.Equal(a.Unit, b.Unit) || len(af) != len(bf) || len(a.Dirs) != len(b.Dirs) {
		return false
	}
	for i, f := range af {
		g := bf[i]
		if f.Path != g.Path || !bytes.Equal(f.Content, g.Content) || f.Mode != g.Mode || f.Owner != g.Owner || f.Group != g.Group {
			return false
		}
	}
	for i, d := range a.Dirs {
		if d != b.Dirs[i] {
			return false
		}
	}
	return true
}

func notTargets(files []component.File) []component.File {
	var out []component.File
	for _, f := range files {
		if !f.Targets {
			out = append(out, f)
		}
	}
	return out
}
