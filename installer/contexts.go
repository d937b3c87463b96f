package installer

import (
	"sync"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/inventory"
)

// contextBuilder builds the Context each component's Spec is rendered
// from. Grafana's admin password and secret key are read (or made, the
// first time) when a Grafana spec first needs them, once per run, by
// whichever host gets there first; the run itself knows nothing of them.
type contextBuilder struct {
	inv *inventory.Inventory
	// grafanaSecrets resolves the secrets; nil reads the inventory's files.
	grafanaSecrets func() (password, key inventory.Secret, err error)

	security component.Security // the run's, resolved once

	once          sync.Once
	password, key inventory.Secret
	err           error
	reads         int // how often the secrets were resolved, for tests
}

func (b *contextBuilder) context(comp string, h *inventory.Host, version string, bundle *bundles.Bundle) (*component.Context, error) {
	c := &component.Context{Inv: b.inv, Host: h, Version: version, Bundle: bundle, Security: b.security}
	if comp != catalog.Grafana {
		return c, nil
	}
	b.once.Do(func() {
		b.reads++
		resolve := b.grafanaSecrets
		if resolve == nil {
			resolve = b.readGrafanaSecrets
		}
		b.password, b.key, b.err = resolve()
	})
	if b.err != nil {
		return nil, b.err
	}
	c.GrafanaAdminPassword, c.GrafanaSecretKey = b.password, b.key
	return c, nil
}

func (b *contextBuilder) readGrafanaSecrets() (inventory.Secret, inventory.Secret, error) {
	pw, err := b.inv.GrafanaAdminPassword()
	if err != nil {
		return inventory.Secret{}, inventory.Secret{}, err
	}
	key, err := b.inv.GrafanaSecretKey()
	return pw, key, err
}
