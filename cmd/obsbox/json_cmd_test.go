package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// plan --json on an invalid inventory printed the diagnostics for a human
// on stderr and nothing on stdout; it prints them as JSON, as validate
// --json does, and exits 2 before any host is contacted.
func TestFinding6_PlanJSONInvalidInventory(t *testing.T) {
	isolateEnv(t)
	inv := filepath.Join(t.TempDir(), "obsbox.hcl")
	if err := os.WriteFile(inv, []byte("host \"a\" {\n  address = \"10.0.0.1\"\n  roles   = [\"prometheus\", \"nosuchrole\"]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runInvCmd(t, newPlanCmd, inv, true)
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var diags []map[string]any
	if err := json.Unmarshal([]byte(out), &diags); err != nil || len(diags) == 0 {
		t.Fatalf("stdout is no JSON list of diagnostics (%v):\n%s", err, out)
	}
	d := diags[0]
	for _, k := range []string{"file", "line", "column", "severity", "summary", "detail"} {
		if _, ok := d[k]; !ok {
			t.Errorf("diagnostic lacks %q: %v", k, d)
		}
	}
	if d["file"] != inv || d["line"] != 3.0 || d["severity"] != "error" {
		t.Errorf("diagnostic: %v", d)
	}
}
