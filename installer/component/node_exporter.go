package component

import (
	"fmt"
	"path"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
)

// NodeExporter runs on every host unless the host says node_exporter = false.
type NodeExporter struct{}

func (NodeExporter) Name() string { return bundles.NodeExporter }

func (NodeExporter) Runs(_ *inventory.Inventory, h *inventory.Host) bool { return h.NodeExporter }

// TextfileDir is where other tools drop *.prom files for the textfile collector.
func (NodeExporter) TextfileDir() string { return path.Join(DataDir(bundles.NodeExporter), "textfile") }

func (n NodeExporter) Spec(c *Context) (*Spec, error) {
	name := n.Name()
	user := UserName(name)
	port := c.Inv.NodeExporter.Port
	unit, err := systemd.Render(name, systemd.Unit{
		Description: "obsbox node_exporter: host metrics",
		User:        user,
		Group:       user,
		ExecStart: []string{
			path.Join(BinDir(name), "node_exporter"),
			fmt.Sprintf("--web.listen-address=:%d", port),
			"--collector.systemd",
			"--collector.textfile.directory=" + n.TextfileDir(),
		},
		ReadWritePaths: []string{DataDir(name)},
	})
	if err != nil {
		return nil, err
	}
	return &Spec{
		Component: name,
		Version:   c.Version,
		Bundle:    c.Bundle,
		Binaries:  []string{"node_exporter"},
		// Readable by all: anything on the host may drop metrics here (root writes them).
		Dirs:   []Dir{{Path: n.TextfileDir(), Mode: 0o755, Owner: "root", Group: "root"}},
		Unit:   unit,
		Reload: systemd.Reloadable(name),
		Health: Health{Port: port, Path: "/metrics", BuildInfo: "node_exporter_build_info"},
	}, nil
}
