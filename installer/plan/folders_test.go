package plan_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
)

// Root writes nothing inside a folder another user can change: that user
// could swap the file for a link between two of the script's commands, and
// root's write, chmod or chown would land where the link points. The
// textfile folder sat in node_exporter's data folder, which node_exporter's
// user owned and could write (found by hand: that user made root overwrite
// and chmod a file of its choosing).
func TestRootWritesOnlyInRootFolders(t *testing.T) {
	inv := loadInventory(t, testInventory+`host "all-1" {
  address = "10.0.0.8"
  roles   = ["prometheus", "alertmanager", "grafana", "victoriametrics"]
}
probe "self" {
  module  = "tcp_connect"
  targets = ["10.0.0.8:22"]
}
`)
	sp := specs(t, inv, "all-1")
	var names []string
	for _, s := range sp {
		names = append(names, s.Component)
	}
	for _, c := range catalog.All() {
		if !slices.Contains(names, c.Name) {
			t.Fatalf("the host carries %v, not every component (%s is missing)", names, c.Name)
		}
	}
	fresh, err := plan.Build(plan.Input{Host: "all-1", Specs: sp, State: emptyState(), StagingDir: "/var/tmp/obsbox-staging-root"})
	if err != nil {
		t.Fatalf("every component from scratch: %v", err)
	}

	for _, s := range sp {
		if s.Component != catalog.NodeExporter {
			continue
		}
		if d := s.DataFolder(); d.Owner != "root" || d.Mode&0o022 != 0 {
			t.Errorf("node_exporter's data folder holds the textfile folder but is %s's, mode %o", d.Owner, d.Mode)
		}
		if strings.Contains(string(s.Unit), "ReadWritePaths") {
			t.Errorf("node_exporter writes nothing, yet its unit has a writable path:\n%s", s.Unit)
		}
	}

	// A component that keeps a root file in its own user's data folder is
	// refused, naming the file and the folder.
	for name, bend := range map[string]func(s *component.Spec){
		"node_exporter as before": func(s *component.Spec) {
			if s.Component == catalog.NodeExporter {
				s.WritesNoData = false
			}
		},
		"a file in Prometheus's data folder": func(s *component.Spec) {
			if s.Component == catalog.Prometheus {
				s.Files = append(s.Files, component.File{Path: catalog.DataDir(s.Component) + "/x.yml", Content: []byte("x"), Mode: 0o644, Owner: "root", Group: "root"})
			}
		},
		"a folder in Grafana's data folder": func(s *component.Spec) {
			if s.Component == catalog.Grafana {
				s.Dirs = append(s.Dirs, component.Dir{Path: catalog.DataDir(s.Component) + "/plugins", Mode: 0o755, Owner: "root", Group: "root"})
			}
		},
	} {
		bent := specs(t, inv, "all-1")
		for _, s := range bent {
			bend(s)
		}
		_, err := plan.Build(plan.Input{Host: "all-1", Specs: bent, State: emptyState(), StagingDir: "/var/tmp/obsbox-staging-root"})
		if err == nil || !strings.Contains(err.Error(), "root would write "+catalog.DataRoot+"/") || !strings.Contains(err.Error(), "obsbox-") {
			t.Errorf("%s: Build = %v, want a refusal naming the path and the folder's owner", name, err)
		}
	}

	// Not only the folder right above: on a host where the textfile folder
	// is already right, only the metrics file changes, and the folder around
	// the textfile folder is what its owner could swap.
	bent := specs(t, inv, "all-1")
	prom := component.NodeExporter{}.TextfileDir() + "/obsbox-certificates.prom"
	for _, s := range bent {
		if s.Component == catalog.NodeExporter {
			s.WritesNoData = false
			s.Files = append(s.Files, component.File{Path: prom, Content: []byte("x 1\n"), Mode: 0o644, Owner: "root", Group: "root"})
		}
	}
	st := converged(bent, fresh.Record)
	st.Paths[prom] = hoststate.Path{Kind: hoststate.KindFile, Mode: 0o644, Owner: "root", Group: "root", SHA256: "0000"}
	_, err = plan.Build(plan.Input{Host: "all-1", Specs: bent, State: st, StagingDir: "/var/tmp/obsbox-staging-root"})
	if want := "root would write " + prom + " inside " + catalog.DataDir(catalog.NodeExporter) + ","; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("only the metrics file changing: Build = %v, want %q", err, want)
	}
}
