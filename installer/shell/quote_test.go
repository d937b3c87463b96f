package shell

import (
	"os"
	"os/exec"
	"testing"
)

// Every hostile string comes back from a real /bin/sh exactly as given, and
// nothing in it runs.
func TestQuoteSurvivesTheShell(t *testing.T) {
	dir := t.TempDir()
	canary := dir + "/PWNED"
	hostile := []string{
		"", "plain", "with space", "it's", "'", "''", `"`, `\`, "a\nb", "$HOME", "${x:-y}",
		"$(touch " + canary + ")", "`touch " + canary + "`", "; touch " + canary, "*", "~root", "-n", "a\x01b",
		"'$(touch " + canary + ")'", "\\'", "é ü ✓",
	}
	for _, s := range hostile {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) came back as %q", s, out)
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatalf("a quoted value ran a command")
	}
}

func TestJoin(t *testing.T) {
	out, err := exec.Command("/bin/sh", "-c", `for a in `+Join("a b", "c'd", "")+`; do printf '[%s]' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "[a b][c'd][]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
