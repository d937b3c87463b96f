package catalog_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
)

// TestFinding12_RegistryConsistent keeps a component from being half
// registered: every catalog entry has its unit template, its implementation,
// a default among its known versions, a place in the install order, and
// ports, units and users no other component has.
func TestFinding12_RegistryConsistent(t *testing.T) {
	if got, want := catalog.Registered(), slices.Sorted(slices.Values(catalog.InstallOrder())); !slices.Equal(got, want) {
		t.Errorf("registered components %v, install order %v: each must be in both, once", got, catalog.InstallOrder())
	}
	ports, units, users, roles := map[int]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	for _, name := range catalog.Registered() {
		c := catalog.Get(name)
		if !systemd.HasTemplate(c.Name) {
			t.Errorf("%s: no unit template systemd/%s.tmpl", c.Name, c.Unit)
		}
		if !component.Implemented(c.Name) {
			t.Errorf("%s: no implementation in installer/component", c.Name)
		}
		if len(c.Versions) == 0 || !slices.Contains(c.Versions, c.Default) {
			t.Errorf("%s: default version %q is not among the known versions %v", c.Name, c.Default, c.Versions)
		}
		if !slices.IsSortedFunc(c.Versions, bundles.CompareVersions) {
			t.Errorf("%s: known versions are not oldest first: %v", c.Name, c.Versions)
		}
		if len(c.Ports) == 0 {
			t.Errorf("%s: no port (the first is the health endpoint's)", c.Name)
		}
		for _, p := range c.Ports {
			if other, dup := ports[p.Default]; dup {
				t.Errorf("%s: port %d is %s's too", c.Name, p.Default, other)
			}
			ports[p.Default] = c.Name + " " + p.Name
		}
		for _, m := range []struct {
			what, v string
			seen    map[string]string
		}{{"unit", c.Unit, units}, {"user", c.User, users}, {"role", c.Role, roles}} {
			// A component that needs a feature rides along with its role's owner.
			if m.what == "role" && (m.v == "" || c.Feature != "") {
				continue
			}
			if other, dup := m.seen[m.v]; dup {
				t.Errorf("%s: %s %q is %s's too", c.Name, m.what, m.v, other)
			}
			m.seen[m.v] = c.Name
		}
		if c.Health.Path == "" || c.Health.BuildInfo == "" {
			t.Errorf("%s: health path or build-info metric missing", c.Name)
		}
		if len(c.Binaries) == 0 || c.Release.Host == "" || c.Release.Tarball == "" || c.Release.Checksum == "" || (len(c.Release.TopFolders) == 0) != c.Release.Flat {
			t.Errorf("%s: binaries or release naming missing (a tarball has top folders or is flat, not both)", c.Name)
		}
		if c.Feature != "" && (c.Role == "" || catalog.Get(c.Role) == nil || !slices.Contains(inventory.Features, c.Feature)) {
			t.Errorf("%s: feature %q is not an inventory feature %v, or its role %q is no component's own", c.Name, c.Feature, inventory.Features, c.Role)
		}
		if c.DataDescription == "" {
			t.Errorf("%s: what its data folder holds is not described", c.Name)
		}
		// The release naming must read back what it wrote, or `bundle import` cannot tell the file.
		for _, arch := range bundles.Arches {
			file := c.TarballName(c.Default, arch)
			if name, v, a, err := bundles.ParseTarballName(file); err != nil || name != c.Name || v != c.Default || a != arch {
				t.Errorf("%s: %s parses as %s %s %s, %v", c.Name, file, name, v, a, err)
			}
		}
	}
}

// TestFinding12_CatalogIsALeaf: the catalog sits below every package that
// needs a component fact, so it imports nothing of obsbox's.
func TestFinding12_CatalogIsALeaf(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") {
			t.Errorf("installer/catalog imports %s; it may use the standard library only", imp)
		}
	}
}

func TestFinding12_ReleaseNaming(t *testing.T) {
	// A component with another naming scheme is data: VictoriaMetrics' layout.
	vm := &catalog.Component{Name: "victoria-metrics", Release: catalog.Release{
		Host: "https://github.com", Dir: "/VictoriaMetrics/VictoriaMetrics/releases/download/v{version}/",
		Tarball: "victoria-metrics-linux-{arch}-v{version}.tar.gz", Checksum: "victoria-metrics-linux-{arch}-v{version}_checksums.txt",
	}}
	tb, sum := vm.ReleasePaths("1.151.0", "amd64")
	if tb != "/VictoriaMetrics/VictoriaMetrics/releases/download/v1.151.0/victoria-metrics-linux-amd64-v1.151.0.tar.gz" ||
		sum != "/VictoriaMetrics/VictoriaMetrics/releases/download/v1.151.0/victoria-metrics-linux-amd64-v1.151.0_checksums.txt" {
		t.Errorf("paths %s %s", tb, sum)
	}
	if v, a, ok := vm.ParseTarballName("victoria-metrics-linux-arm64-v1.151.0.tar.gz"); !ok || v != "1.151.0" || a != "arm64" {
		t.Errorf("parse = %q %q %v", v, a, ok)
	}
	if _, _, ok := vm.ParseTarballName("victoria-metrics-linux-arm64-1.151.0.tar.gz"); ok {
		t.Error("a name without the v parsed")
	}
	// The registered entry names its files so, and its flat tarball is unpacked without stripping.
	real := catalog.Get(catalog.VictoriaMetrics)
	if tb2, sum2 := real.ReleasePaths("1.151.0", "amd64"); tb2 != tb || sum2 != sum {
		t.Errorf("victoriametrics release paths %s %s, want %s %s", tb2, sum2, tb, sum)
	}
	if real.StripComponents() != 0 || catalog.Get(catalog.Prometheus).StripComponents() != 1 {
		t.Errorf("strip components: victoriametrics %d, prometheus %d; want 0 and 1",
			real.StripComponents(), catalog.Get(catalog.Prometheus).StripComponents())
	}
}

func TestFinding12_Layout(t *testing.T) {
	want := map[string][2]string{
		catalog.Prometheus:       {"/etc/systemd/system/obsbox-prometheus.service", "obsbox-prometheus"},
		catalog.Alertmanager:     {"/etc/systemd/system/obsbox-alertmanager.service", "obsbox-alertmanager"},
		catalog.Grafana:          {"/etc/systemd/system/obsbox-grafana.service", "obsbox-grafana"},
		catalog.NodeExporter:     {"/etc/systemd/system/obsbox-node-exporter.service", "obsbox-node-exporter"},
		catalog.BlackboxExporter: {"/etc/systemd/system/obsbox-blackbox-exporter.service", "obsbox-blackbox-exporter"},
		catalog.VictoriaMetrics:  {"/etc/systemd/system/obsbox-victoriametrics.service", "obsbox-victoriametrics"},
	}
	for _, c := range catalog.All() {
		if got := [2]string{catalog.UnitPath(c.Name), c.User}; got != want[c.Name] || c.Unit != catalog.UnitName(c.Name) {
			t.Errorf("%s: unit path and user %v, want %v", c.Name, got, want[c.Name])
		}
	}
	if got := catalog.Names(); !slices.Equal(got, []string{"node_exporter", "blackbox_exporter", "prometheus", "alertmanager", "victoriametrics", "grafana"}) {
		t.Errorf("install order %v", got)
	}
	if got := catalog.Roles(); !slices.Equal(got, []string{"prometheus", "alertmanager", "victoriametrics", "grafana"}) {
		t.Errorf("roles %v", got)
	}
	if catalog.VersionDir("grafana", "11.2.2") != "/opt/obsbox/grafana/11.2.2" || catalog.CurrentLink("grafana") != "/opt/obsbox/grafana/current" ||
		catalog.ConfigDir("grafana") != "/etc/obsbox/grafana" || catalog.DataDir("grafana") != "/var/lib/obsbox/grafana" {
		t.Error("host layout moved")
	}
	ne := catalog.Get(catalog.NodeExporter)
	for n, want := range map[int]int{1: 1, 4: 1, 8: 2, 10: 2} {
		if got := ne.Batch(n); got != want {
			t.Errorf("node_exporter batch of %d hosts = %d, want %d", n, got, want)
		}
	}
	if got := catalog.Get(catalog.Prometheus).Batch(10); got != 1 {
		t.Errorf("prometheus batch = %d, want 1", got)
	}
}

// TestIssue13_CatalogIsCurrent: the defaults are the newest releases tested
// here, among the known versions, and `obsbox init` writes them.
func TestIssue13_CatalogIsCurrent(t *testing.T) {
	want := map[string]string{catalog.Prometheus: "3.16.0", catalog.Alertmanager: "0.35.0", catalog.NodeExporter: "1.12.1", catalog.BlackboxExporter: "0.27.0", catalog.VictoriaMetrics: "1.151.0"}
	for c, v := range want {
		if got := catalog.Get(c).Default; got != v {
			t.Errorf("%s default %s, want %s", c, got, v)
		}
	}
	for _, v := range []string{"2.53.3", "3.5.3", "3.16.0"} {
		if !slices.Contains(catalog.Get(catalog.Prometheus).Versions, v) {
			t.Errorf("prometheus %s (2.53 and 3.5 LTS, newest) is not known", v)
		}
	}
	inv, diags := inventory.LoadSource("obsbox.hcl", inventory.ExampleInventory())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, c := range catalog.All() {
		if inv.Versions[c.Name] != c.Default {
			t.Errorf("obsbox init writes %s %s, the catalog's default is %s", c.Name, inv.Versions[c.Name], c.Default)
		}
	}
}

// TestIssue13_BareUpgradeStaysInItsMajor: from every known version, a bare
// upgrade picks the newest of the same major (0.x counts as one major, as
// upstream keeps its minors compatible), never an older one, and names the
// newer majors only as notes.
func TestIssue13_BareUpgradeStaysInItsMajor(t *testing.T) {
	for _, c := range catalog.All() {
		for _, v := range c.Versions {
			got, newer := bundles.NewestInMajor(c.Name, v)
			gv, _ := bundles.ParseVersion(got)
			cv, _ := bundles.ParseVersion(v)
			if gv.Major != cv.Major || bundles.CompareVersions(got, v) < 0 {
				t.Errorf("%s %s: bare upgrade to %s", c.Name, v, got)
			}
			for _, n := range newer {
				if nv, _ := bundles.ParseVersion(n); nv.Major <= cv.Major || !slices.Contains(c.Versions, n) {
					t.Errorf("%s %s: %s named as a newer major", c.Name, v, n)
				}
			}
		}
	}
	if got, newer := bundles.NewestInMajor(catalog.Prometheus, "2.53.3"); got != "2.55.1" || !slices.Equal(newer, []string{"3.16.0"}) {
		t.Errorf("prometheus 2.53.3: bare upgrade to %s, newer majors %v; want 2.55.1, [3.16.0]", got, newer)
	}
	if got, newer := bundles.NewestInMajor(catalog.Prometheus, "3.5.3"); got != "3.16.0" || newer != nil {
		t.Errorf("prometheus 3.5.3: %s %v", got, newer)
	}
	if got, _ := bundles.NewestInMajor(catalog.Alertmanager, "0.27.0"); got != "0.35.0" {
		t.Errorf("alertmanager 0.27.0: %s", got)
	}
	// A version newer than the catalog knows is never downgraded.
	if got, _ := bundles.NewestInMajor(catalog.NodeExporter, "1.99.0"); got != "1.99.0" {
		t.Errorf("node_exporter 1.99.0: %s", got)
	}
}
