package inventory

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// vmHost has the victoriametrics role; the block under test starts on line 9.
const vmHost = `host "vm-1" {
  address = "10.0.0.2"
  roles   = ["victoriametrics"]
}
`

// TestIssue15_VictoriaMetricsBlock: the retention is turned into the flag
// VictoriaMetrics reads, and every mistake is named where it was written.
func TestIssue15_VictoriaMetricsBlock(t *testing.T) {
	for in, want := range map[string]string{"12M": "12", "1y": "1y", "30d": "30d", "2w": "2w", "24h": "24h", "1M": "1"} {
		if got, err := VictoriaMetricsRetentionFlag(in); err != nil || got != want {
			t.Errorf("retention %q: %q, %v; want %q", in, got, err, want)
		}
	}
	inv, diags, _ := loadIn(t, monHost+vmHost)
	if diags.HasErrors() || inv.VictoriaMetrics.Retention != DefaultVictoriaMetricsRetention {
		t.Fatalf("no block: retention %q, diags:\n%s", inv.VictoriaMetrics.Retention, dumpDiags(diags))
	}
	inv, diags, _ = loadIn(t, monHost+vmHost+"victoriametrics {\n  retention = \"2y\"\n}\n")
	if diags.HasErrors() || inv.VictoriaMetrics.Retention != "2y" {
		t.Fatalf("retention 2y: %+v\n%s", inv.VictoriaMetrics, dumpDiags(diags))
	}

	for _, tc := range []struct {
		name, src, want, pos string
		warning              bool
	}{
		{"no unit", "victoriametrics {\n  retention = \"12\"\n}\n", `victoriametrics retention "12": want a whole number and a unit`, "10:15", false},
		{"minutes", "victoriametrics {\n  retention = \"90m\"\n}\n", `retention "90m": want a whole number and a unit, one of h, d, w, M (months), y`, "10:15", false},
		{"fraction", "victoriametrics {\n  retention = \"1.5y\"\n}\n", `retention "1.5y"`, "10:15", false},
		{"under a day", "victoriametrics {\n  retention = \"12h\"\n}\n", "keeps at least a day", "10:15", false},
		{"zero", "victoriametrics {\n  retention = \"0d\"\n}\n", "the number must be from 1", "10:15", false},
		{"unknown attribute", "victoriametrics {\n  retension = \"1y\"\n}\n", `Did you mean "retention"?`, "10:3", false},
		{"reserved remote_write", "prometheus {\n  remote_write \"victoriametrics-x\" { url = \"http://10.0.0.9/\" }\n}\n", `names starting with "victoriametrics-" are obsbox's own`, "10:16", false},
		{"block without host", "", `none has it`, "1:1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := monHost + vmHost + tc.src
			if tc.warning {
				src = monHost + "\n\n\n\nvictoriametrics {\n}\n"
				tc.pos = "9:1"
			}
			inv, diags, _ := loadIn(t, src)
			sev := hcl.DiagError
			if tc.warning {
				sev = hcl.DiagWarning
			}
			for _, d := range diags {
				if d.Severity == sev && strings.Contains(diagText(d), tc.want) && diagPosString(d) == tc.pos {
					if tc.warning != (inv != nil && !diags.HasErrors()) {
						t.Fatalf("warning %v, but inventory %v with errors %v", tc.warning, inv != nil, diags.HasErrors())
					}
					return
				}
			}
			t.Fatalf("want a %s at %s containing %q; got:\n%s", severityName(sev), tc.pos, tc.want, dumpDiags(diags))
		})
	}
}
