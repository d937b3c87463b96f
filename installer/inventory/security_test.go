package inventory

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestIssue14_SecurityDefaultsOn(t *testing.T) {
	inv, diags, _ := loadIn(t, monHost)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	s := inv.Security
	if !s.TLS || !s.BasicAuth || s.OwnCA || s.CertValidity != 90*24*time.Hour || !strings.HasSuffix(s.CACert, "/"+CACertFile) {
		t.Errorf("defaults: %+v", s)
	}
}

// Each bad security block is one diagnostic at the attribute; opting out
// is allowed and warned about.
func TestIssue14_SecurityDiagnostics(t *testing.T) {
	long := strings.Repeat("x", 73)
	for _, c := range []struct {
		block, want string
		sev         hcl.DiagnosticSeverity
		pos         string
	}{
		{"security {\n  tls = false\n}\n", "TLS is off", hcl.DiagWarning, "7:9"},
		{"security {\n  basic_auth = false\n}\n", "Basic auth is off", hcl.DiagWarning, "7:16"},
		{"security {\n  web_password = \"" + long + "\"\n}\n", "bcrypt", hcl.DiagError, "7:18"},
		{"security {\n  web_password = \"short\"\n}\n", "at least 12", hcl.DiagError, "7:18"},
		{"security {\n  cert_validity = \"1h\"\n}\n", "at least 24h", hcl.DiagError, "7:19"},
		{"security {\n  cert_validity = \"soon\"\n}\n", "Invalid duration", hcl.DiagError, "7:19"},
		{"security {\n  ca_cert = \"./my-ca.crt\"\n}\n", "needs ca_key", hcl.DiagError, "7:13"},
	} {
		_, diags, _ := loadIn(t, monHost+"\n"+c.block)
		var got []string
		found := false
		for _, d := range diags {
			got = append(got, diagPosString(d)+" "+diagText(d))
			if d.Severity == c.sev && strings.Contains(diagText(d), c.want) && diagPosString(d) == c.pos {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: want %q at %s, got %v", c.block, c.want, c.pos, got)
		}
		if strings.Contains(strings.Join(got, " "), long) {
			t.Errorf("a diagnostic quotes the password")
		}
	}
}
