package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUninstallConfirmation checks the questions asked before any host is
// contacted. The inventory's key file is not a key, so a run that gets past
// the question fails on every host at once (exit 1) without any traffic,
// and a refusal (exit 2) proves nothing was attempted.
func TestUninstallConfirmation(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	inv := filepath.Join(dir, "obsbox.hcl")
	key := filepath.Join(dir, "not-a-key")
	if err := os.WriteFile(key, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `ssh {
  user        = "root"
  private_key = "` + key + `"
  known_hosts = "` + filepath.Join(dir, "known_hosts") + `"
}
host "a" {
  address = "127.0.0.1"
  roles   = ["prometheus"]
}
host "b" { address = "localhost" }
`
	if err := os.WriteFile(inv, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		terminal bool
		answer   string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
	}{
		{name: "no terminal, no --yes: refused", args: nil, code: 2,
			stderr: []string{"stdin is not a terminal: pass --yes", "a, b", "DELETED"}},
		{name: "no terminal, --keep-data: refused, says data is kept", args: []string{"--keep-data", "--hosts", "b"}, code: 2,
			stderr: []string{"obsbox from b (", "is kept"}},
		{name: "terminal, answer no", terminal: true, answer: "n\n", code: 1,
			stderr: []string{"a (127.0.0.1)", "Continue? [y/N]", "cancelled: nothing changed"}},
		{name: "terminal, empty answer means no", terminal: true, answer: "\n", code: 1, stderr: []string{"cancelled"}},
		{name: "terminal, answer yes: runs", terminal: true, answer: "yes\n", code: 1,
			stdout: []string{"connect failed"}, stderr: []string{"2 of 2 hosts failed"}},
		{name: "--yes asks nothing", args: []string{"--yes", "--hosts", "a"}, code: 1,
			stdout: []string{"connect failed"}, stderr: []string{"1 of 1 hosts failed"}},
		{name: "--dry-run asks nothing", args: []string{"--dry-run"}, code: 1, stdout: []string{"TO REMOVE"}},
		{name: "unknown host", args: []string{"--yes", "--hosts", "c"}, code: 2, stderr: []string{`--hosts names "c"`}},
		// Finding 15 of issue 11: the hosts stay in the inventory and its targets.
		{name: "Finding15 --hosts warns the host stays a target", args: []string{"--yes", "--hosts", "b"}, code: 1,
			stderr: []string{"warning: b stays in " + inv + " and among the targets of Prometheus (on a), so HostDown alerts will page for it",
				"the next apply installs it again", "\n  obsbox remove-host b\n"}},
		{name: "Finding15 --dry-run --hosts says would", args: []string{"--dry-run", "--hosts", "a,b"}, code: 1,
			stderr: []string{"warning: a, b would stay in " + inv + "; the next apply installs them again", "  obsbox remove-host a\n  obsbox remove-host b\n"}},
	}
	saved := confirmInput
	t.Cleanup(func() { confirmInput = saved })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			confirmInput.r = strings.NewReader(tc.answer)
			confirmInput.isTerminal = func() bool { return tc.terminal }
			out, errOut, code := runInvCmd(t, newUninstallCmd, inv, false, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if !slices.Contains(tc.args, "--hosts") && strings.Contains(errOut, "remove-host") {
				t.Errorf("a full uninstall warns about hosts staying:\n%s", errOut)
			}
			if tc.code == 2 && strings.Contains(out, "connect") {
				t.Errorf("a refused uninstall contacted hosts:\n%s", out)
			}
		})
	}
}
