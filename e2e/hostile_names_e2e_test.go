//go:build e2e

package e2e_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHostileNames is issue 11 finding 1's real-host case: a rule file whose
// name would run a command in root's shell ($(...)) and one that would end a
// single-quoted word (') are refused by validate, plan and apply (exit 2,
// naming each file) before any host is contacted, and nothing lands on the host.
func TestHostileNames(t *testing.T) {
	s := newStack(t, 1)
	s.webhook = "http://127.0.0.1:9/"
	// A file name cannot hold "/", so the payload walks to / itself:
	// run as root, it creates /PWNED.
	hostile := []string{"cpu$(cd;cd ..;cd ..;touch PWNED).yml", "it's.yml"}
	rules := filepath.Join(s.dir, "rules")
	if err := os.MkdirAll(rules, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range append([]string{"good.yml"}, hostile...) {
		if err := os.WriteFile(filepath.Join(rules, name), []byte("groups: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.writeInventory(invData{RuleFiles: true})
	knownBefore, _ := os.ReadFile(filepath.Join(s.dir, "known_hosts"))

	for _, cmd := range []string{"validate", "plan", "apply"} {
		t.Run(cmd, func(t *testing.T) {
			r := s.obsbox(cmd)
			if r.code != 2 {
				t.Fatalf("%s with hostile rule file names must exit 2: %s", cmd, r)
			}
			for _, name := range hostile {
				quoted := strconv.Quote(filepath.Join("rules", name))
				if !strings.Contains(r.stderr, "Unsafe rule file name") || !strings.Contains(r.stderr, quoted) {
					t.Errorf("stderr should name %s as an unsafe rule file name: %s", quoted, r)
				}
			}
			if !strings.Contains(r.stderr, s.inv+":") || !strings.Contains(r.stderr, `rule_files          = ["rules/*.yml"]`) {
				t.Errorf("the diagnostic should point at rule_files in %s: %s", s.inv, r)
			}
			if strings.Contains(r.stdout+r.stderr, "h1:") {
				t.Errorf("the run reached a host: %s", r)
			}
		})
	}

	out, err := s.c.SSH("h1", "ls -d /PWNED /root/PWNED /etc/obsbox /opt/obsbox /var/lib/obsbox /var/tmp/obsbox-staging-* 2>/dev/null; true")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("something landed on the host:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "PWNED")); err == nil {
		t.Error("PWNED was created on the controller")
	}
	if knownAfter, _ := os.ReadFile(filepath.Join(s.dir, "known_hosts")); string(knownAfter) != string(knownBefore) {
		t.Error("known_hosts changed: a host was contacted")
	}
}
