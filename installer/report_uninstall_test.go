package installer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/plan"
)

func TestWriteRemoval(t *testing.T) {
	rep := &Report{Hosts: []*HostResult{
		{Host: "h1", Address: "10.0.0.1", OK: true, Seconds: 1.25, Actions: []plan.Action{
			{Op: plan.OpStop, Kind: "unit", Target: "obsbox-prometheus.service", Detail: "active, enabled"},
			{Op: plan.OpRemove, Kind: "binaries", Target: "/opt/obsbox/prometheus/2.53.3"},
			{Op: plan.OpRestore, Kind: "file", Target: "/etc/passwd-"},
			{Op: plan.OpKeep, Kind: "data", Target: "/var/lib/obsbox/prometheus"},
		}},
		{Host: "h2", Address: "10.0.0.2", OK: true, Actions: []plan.Action{}},
		{Host: "h3", Address: "10.0.0.3", OK: false, Phase: "remove", Error: "removal stopped after 1 of 3 steps",
			Actions: []plan.Action{{Op: plan.OpStop, Kind: "unit", Target: "obsbox-node-exporter.service"}}},
	}}
	tests := []struct {
		dryRun bool
		want   []string
	}{
		{false, []string{
			"  - stop    unit     obsbox-prometheus.service  (active, enabled)",
			"  = keep    data     /var/lib/obsbox/prometheus",
			"  = restore file     /etc/passwd-",
			"h2 (10.0.0.2)\n  Nothing from obsbox here.",
			"  ! remove failed: removal stopped after 1 of 3 steps",
			"HOST  RESULT  REMOVED  RESTORED  KEPT  TIME",
			"h1    ok      2        1         1     1.2s",
			"h3    FAILED  1        0         0",
			"h3 failed during remove: removal stopped",
		}},
		{true, []string{"HOST  RESULT  TO REMOVE  TO RESTORE  KEPT  TIME"}},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		rep.WriteRemoval(&b, tc.dryRun)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("dry run %v: output lacks %q:\n%s", tc.dryRun, w, b.String())
			}
		}
	}
}
