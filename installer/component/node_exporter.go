package component

import (
	"fmt"
	"path"
	"slices"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/obsbox/obsbox/systemd"
	"github.com/obsbox/obsbox/templates"
)

// NodeExporter runs on every host unless the host says node_exporter = false.
type NodeExporter struct{}

func init() { register(NodeExporter{}) }

func (NodeExporter) Port(inv *inventory.Inventory) int { return inv.NodeExporter.Port }

func (NodeExporter) Name() string { return catalog.NodeExporter }

func (NodeExporter) Runs(_ *inventory.Inventory, h *inventory.Host) bool { return h.NodeExporter }

// TextfileDir is where other tools drop *.prom files for the textfile collector.
func (NodeExporter) TextfileDir() string {
	return path.Join(catalog.DataDir(catalog.NodeExporter), "textfile")
}

// flags is the unit's command line, and the one place the version would
// decide node_exporter's rendering: 1.5 to 1.12 take the same flags
// (checked against each line's --help, installer/component lines_test.go).
// The systemd collector's old unit-whitelist/blacklist names were gone
// before 1.5; --collector.textfile.directory became repeatable in 1.7 and
// one use means the same everywhere; --web.listen-address and
// --web.config.file are exporter-toolkit's, stable throughout.
func (n NodeExporter) flags(_ string, port int) []string {
	return []string{
		path.Join(binDir(catalog.NodeExporter), "node_exporter"),
		fmt.Sprintf("--web.listen-address=:%d", port),
		"--collector.systemd",
		"--collector.textfile.directory=" + n.TextfileDir(),
	}
}

func (n NodeExporter) Spec(c *Context) (*Spec, error) {
	name := n.Name()
	user := catalog.UserName(name)
	port := c.Inv.NodeExporter.Port
	files, dirs, kp, webFlags, checks, err := c.webEndpoint(name)
	if err != nil {
		return nil, err
	}
	// The expiry of the certificate obsbox issued, for CertificateExpiringSoon.
	if prom := certificateMetrics(c.HostCert); prom != nil {
		files = append(files, File{Path: path.Join(n.TextfileDir(), certMetricsFile), Content: prom, Mode: 0o644,
			Owner: "root", Group: "root", Effect: EffectNone})
	}
	// No writable path: node_exporter keeps no data.
	unit, err := systemd.Render(name, systemd.Unit{
		Description: "obsbox node_exporter: host metrics",
		User:        user,
		Group:       user,
		ExecStart:   append(n.flags(c.Version, port), webFlags...),
	})
	if err != nil {
		return nil, err
	}
	return &Spec{
		Component: name,
		Version:   c.Version,
		Bundle:    c.Bundle,
		Binaries:  slices.Clone(catalog.Get(name).Binaries),
		// Readable by all: anything on the host may drop metrics here (root writes them).
		Dirs:         append([]Dir{{Path: n.TextfileDir(), Mode: 0o755, Owner: "root", Group: "root"}}, dirs...),
		Files:        files,
		KeyPair:      kp,
		Checks:       checks,
		Unit:         unit,
		Reload:       catalog.Get(name).Reload,
		Health:       health(name, port),
		WritesNoData: true, // so the textfile folder sits in a folder only root can change
	}, nil
}

// AlertRules watch the certificate obsbox issued to each host (its textfile
// metrics) and those the probes see.
func (NodeExporter) AlertRules(*inventory.Inventory) templates.RuleGroup {
	return templates.CertificateAlertRules()
}
