package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
	"github.com/spf13/cobra"
)

// runInvCmd runs the command that ctor builds and returns stdout, stderr
// and the exit code main would use.
func runInvCmd(t *testing.T, ctor func(*globalOptions) *cobra.Command, inv string, jsonOut bool, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globalOptions{inventory: inv, json: jsonOut, stdout: &out, stderr: &errOut}
	cmd := ctor(g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if ee == nil || ee.err != nil {
			errOut.WriteString("Error: " + err.Error() + "\n")
		}
	}
	return out.String(), errOut.String(), code
}

func isolateEnv(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, v := range []string{"OBSBOX_SUDO_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func TestInitThenValidate(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "conf", "obsbox.hcl")

	out, errOut, code := runInvCmd(t, newInitCmd, "./obsbox.hcl", false, path)
	if code != 0 || !strings.Contains(out, "Wrote an example inventory to "+path) {
		t.Fatalf("init: code %d\n%s%s", code, out, errOut)
	}
	written, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(written, inventory.ExampleInventory()) {
		t.Fatalf("init wrote %q, %v", written, err)
	}

	out, errOut, code = runInvCmd(t, newValidateCmd, path, false)
	if code != 0 || !strings.Contains(out, "inventory OK: 2 hosts") || errOut != "" {
		t.Errorf("validate of the example: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	out, errOut, code = runInvCmd(t, newValidateCmd, path, true)
	if code != 0 || strings.TrimSpace(out) != "[]" || errOut != "" {
		t.Errorf("validate --json of the example: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	// A second init must refuse and leave the file alone.
	os.WriteFile(path, []byte("# mine\n"), 0o644)
	_, errOut, code = runInvCmd(t, newInitCmd, path, false)
	if code != 2 || !strings.Contains(errOut, path+" already exists") {
		t.Errorf("init over an existing file: code %d, stderr %q", code, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != "# mine\n" {
		t.Errorf("init overwrote the file: %q", b)
	}
}

func TestInitDefaultPathFromFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inv.hcl")
	out, _, code := runInvCmd(t, newInitCmd, path, true)
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["path"] != path {
		t.Errorf("json output %q: %v", out, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

func TestValidateBroken(t *testing.T) {
	isolateEnv(t)
	path := filepath.Join(t.TempDir(), "obsbox.hcl")
	src := "host \"mon-1\" {\n  address = \"10.0.0.1\"\n  roles   = [\"prometheus\", \"grafna\"]\n}\n\ngrafana {\n  port = 70000\n}\n"
	os.WriteFile(path, []byte(src), 0o644)

	out, errOut, code := runInvCmd(t, newValidateCmd, path, false)
	if code != 2 || out != "" {
		t.Errorf("code %d, stdout %q", code, out)
	}
	for _, want := range []string{
		path + `:3:28: error: Unknown role; host "mon-1": "grafna" is not a role. Did you mean "grafana"?`,
		`  roles   = ["prometheus", "grafna"]`,
		path + ":7:10: error: Port out of range",
		"  port = 70000\n",
		path + ": inventory invalid: 2 errors",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	out, errOut, code = runInvCmd(t, newValidateCmd, path, true)
	var diags []map[string]any
	if code != 2 || json.Unmarshal([]byte(out), &diags) != nil || len(diags) != 2 || errOut != "" {
		t.Fatalf("--json: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if diags[0]["line"] != 3.0 || diags[0]["column"] != 28.0 || diags[0]["file"] != path || diags[0]["severity"] != "error" {
		t.Errorf("first diagnostic %v", diags[0])
	}
}

func TestValidateMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.hcl")
	_, errOut, code := runInvCmd(t, newValidateCmd, path, false)
	if code != 2 || !strings.Contains(errOut, "Cannot read inventory") || !strings.Contains(errOut, "obsbox init") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	out, _, code := runInvCmd(t, newValidateCmd, path, true)
	if code != 2 || !strings.Contains(out, `"summary":"Cannot read inventory"`) {
		t.Errorf("--json: code %d, stdout %q", code, out)
	}
}
