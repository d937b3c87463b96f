package component

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/templates"
)

// Finding 4 of issue 11: grafana.ini carried no secret_key, so Grafana used
// its public default. The key kept beside the inventory is rendered into
// [security], only into files marked sensitive, and never a default.
func TestFinding4_GrafanaSecretKeyRendered(t *testing.T) {
	const key = "k3y-Only_in-grafana-ini-0123456789abcdefghij"
	inv, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"),
		[]byte("host \"mon-1\" {\n  address = \"10.0.0.5\"\n  roles = [\"prometheus\", \"grafana\"]\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx := &Context{Inv: inv, Host: inv.Host("mon-1"), Version: inv.Versions[catalog.Grafana],
		GrafanaAdminPassword: inventory.NewSecret("admin-pw-123"), GrafanaSecretKey: inventory.NewSecret(key)}
	spec, err := Grafana{}.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range spec.Files {
		has := bytes.Contains(f.Content, []byte(key))
		if f.Path == templates.GrafanaINIPath {
			if f.Secrets == nil || !slices.Contains(f.Secrets.Values, key) || f.Mode&0o007 != 0 {
				t.Errorf("grafana.ini must declare secret_key as a secret and not be world-readable: mode %o, secrets %v", f.Mode, f.Secrets != nil)
			}
			found = bytes.Contains(f.Content, []byte("\nsecret_key = "+key+"\n"))
			continue
		}
		if has {
			t.Errorf("the secret key is in %s", f.Path)
		}
	}
	if !found {
		t.Error("grafana.ini's [security] has no secret_key = <kept key>")
	}
	if strings.Contains(string(spec.Unit), key) || strings.Contains(spec.BeforeRestart, key) {
		t.Error("the secret key is in the unit or the hook")
	}

	ctx.GrafanaSecretKey = inventory.Secret{}
	if _, err := (Grafana{}).Spec(ctx); err == nil {
		t.Error("a Spec without a secret key must fail, not use Grafana's public default")
	}
}
