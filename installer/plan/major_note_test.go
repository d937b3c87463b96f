package plan

import (
	"strings"
	"testing"
)

// Issue 13, finding 3: plan names a 2 → 3 upgrade as a major upgrade, says
// the data folder is kept, the floor it sets, and which flags change.
func TestIssue13Finding3_MajorUpgradeNote(t *testing.T) {
	notes := MajorUpgradeNotes([]Rollout{
		{Component: "prometheus", From: "2.53.3", To: "3.16.0"},
		{Component: "node_exporter", From: "1.8.2", To: "1.12.1"},
	})
	if len(notes) != 1 {
		t.Fatalf("notes = %+v, want one for prometheus only", notes)
	}
	n := notes[0]
	for _, want := range []string{"major upgrade 2.53.3 → 3.16.0", "/var/lib/obsbox/prometheus", "kept", "below 2.55.0 is refused", "valid Content-Type"} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("the note does not say %q: %s", want, n.Text)
		}
	}
	if d := MajorUpgradeNotes([]Rollout{{Component: "prometheus", From: "3.16.0", To: "2.55.1"}}); len(d) != 1 || !strings.Contains(d[0].Text, "major downgrade") || strings.Contains(d[0].Text, "refused") {
		t.Errorf("downgrade note = %+v", d)
	}

	h := &Host{Notes: notes}
	oldUnit := "[Service]\nExecStart=/opt/obsbox/prometheus/current/prometheus \\\n  --config.file=/etc/obsbox/prometheus/prometheus.yml \\\n  --web.console.templates=/opt/c \\\n  --storage.tsdb.retention.time=15d\n"
	newUnit := "[Service]\nExecStart=/opt/obsbox/prometheus/current/prometheus \\\n  --config.file=/etc/obsbox/prometheus/prometheus.yml \\\n  --storage.tsdb.retention.time=30d \\\n  --web.enable-otlp-receiver\n"
	h.NoteFlagChanges("prometheus", []byte(oldUnit), []byte(newUnit))
	want := "flags: removed --web.console.templates; added --web.enable-otlp-receiver; changed --storage.tsdb.retention.time=30d (was --storage.tsdb.retention.time=15d)"
	if !strings.HasSuffix(h.Notes[0].Text, want) {
		t.Errorf("flag changes:\n got %s\nwant …%s", h.Notes[0].Text, want)
	}
	h2 := &Host{}
	h2.NoteFlagChanges("prometheus", []byte(oldUnit), []byte(newUnit))
	if len(h2.Notes) != 0 {
		t.Errorf("flags noted without a major upgrade: %+v", h2.Notes)
	}
}
