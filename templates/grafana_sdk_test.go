package templates

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// grafanaPanelTypes are the core panel plugins of Grafana 11 to 13 that the
// shipped dashboards may use: no Angular panel (graph, singlestat, ...), which
// Grafana 12 no longer loads.
var grafanaPanelTypes = []string{"gauge", "stat", "state-timeline", "table", "text", "timeseries"}

// sdkDecode decodes a dashboard with Grafana's own dashboard types (the
// foundation SDK): unknown fields and wrong types anywhere, down to each
// panel's options and each Prometheus query, are errors.
func sdkDecode(t *testing.T, name string, b []byte) dashboard.Dashboard {
	t.Helper()
	plugins.RegisterDefaultPlugins() // panel options and queries by their type
	var strict dashboard.Dashboard
	if err := sdkErr(strict.UnmarshalJSONStrict(b)); err != nil {
		t.Fatalf("%s: Grafana's dashboard type refuses it: %v", name, err)
	}
	// The strict decode drops every panel (PanelOrRowPanel returns before
	// keeping it on the same typed nil), so the checks read a plain decode.
	var d dashboard.Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := sdkErr(d.Validate()); err != nil {
		t.Fatalf("%s: Grafana's dashboard type does not validate it: %v", name, err)
	}
	return d
}

// sdkErr turns the SDK's typed-nil cog.BuildErrors (returned as a non-nil
// error when nothing failed) into nil.
func sdkErr(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}

// TestIssue13_DashboardsDecodeAsGrafanaDashboards: every dashboard obsbox
// ships decodes strictly into the SDK's dashboard.Dashboard; every panel is a
// core, non-Angular type whose datasource is the provisioned Prometheus.
func TestIssue13_DashboardsDecodeAsGrafanaDashboards(t *testing.T) {
	files := GrafanaDashboards()
	maps.Copy(files, BlackboxDashboards())
	maps.Copy(files, SLODashboards())
	if len(files) < 3 {
		t.Fatalf("only %d dashboards found", len(files))
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		t.Run(name, func(t *testing.T) {
			d := sdkDecode(t, name, files[name])
			if d.Uid == nil || *d.Uid == "" || d.Title == nil || *d.Title == "" {
				t.Errorf("%s: no uid or title", name)
			}
			var panels []dashboard.Panel
			for _, p := range d.Panels {
				switch {
				case p.Panel != nil:
					panels = append(panels, *p.Panel)
				case p.RowPanel != nil:
					panels = append(panels, p.RowPanel.Panels...)
				}
			}
			if len(panels) == 0 {
				t.Fatalf("%s: no panels", name)
			}
			for _, p := range panels {
				title := ""
				if p.Title != nil {
					title = *p.Title
				}
				if !slices.Contains(grafanaPanelTypes, p.Type) {
					t.Errorf("%s: panel %q has type %q, not one of %s", name, title, p.Type, strings.Join(grafanaPanelTypes, ", "))
				}
				if p.Options == nil {
					t.Errorf("%s: panel %q: no options", name, title)
				}
				ds := p.Datasource
				if ds == nil || ds.Type == nil || *ds.Type != "prometheus" || ds.Uid == nil || *ds.Uid != GrafanaDatasourceUID {
					t.Errorf("%s: panel %q: datasource is %+v, want prometheus uid %s", name, title, ds, GrafanaDatasourceUID)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: panel %q: no queries", name, title)
				}
				for i, q := range p.Targets {
					if q.DataqueryType() != "prometheus" {
						t.Errorf("%s: panel %q: query %d decodes as %q, not a Prometheus query", name, title, i, q.DataqueryType())
					}
				}
			}
		})
	}
}

// TestIssue13_SDKDecodeCatchesMistakes: the strict decode really refuses an
// unknown field, a wrong type and an unknown panel option, so the test above
// can fail.
func TestIssue13_SDKDecodeCatchesMistakes(t *testing.T) {
	b := GrafanaDashboards()["obsbox-stack-health.json"]
	for _, c := range []struct{ name, from, to string }{
		{"unknown field", `"editable":`, `"editabel": true, "editable":`},
		{"wrong type", `"refresh": "`, `"refresh": 30, "x": "`},
		{"unknown panel option", `"options": {`, `"options": {"noSuchOption": 1, `},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := string(b)
			if !strings.Contains(s, c.from) {
				t.Fatalf("dashboard has no %q to change", c.from)
			}
			bad := strings.Replace(s, c.from, c.to, 1)
			plugins.RegisterDefaultPlugins()
			var d dashboard.Dashboard
			if err := sdkErr(d.UnmarshalJSONStrict([]byte(bad))); err == nil {
				t.Errorf("%s: the strict decode accepts it", c.name)
			}
		})
	}
}
