package inventory

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoadSource feeds arbitrary files to the loader and the diagnostic
// writers: none may panic, an error must come with a nil inventory, and
// every error must say where it is.
func FuzzLoadSource(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.hcl")
	edits, _ := filepath.Glob("testdata/edit/*.hcl")
	for _, p := range append(seeds, edits...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(ExampleInventory())
	f.Add([]byte(monHost + `grafana { admin_password = env("HOME", "x") port = 1 }`))
	f.Add([]byte(`x = "${`))
	f.Fuzz(func(t *testing.T, src []byte) {
		inv, diags := LoadSource("fuzz.hcl", src)
		if diags.HasErrors() != (inv == nil) {
			t.Fatalf("errors %v but inventory nil %v", diags.HasErrors(), inv == nil)
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Errorf("error without a position: %s; %s", d.Summary, d.Detail)
			}
		}
		WriteDiagnostics(io.Discard, diags, map[string][]byte{"fuzz.hcl": src})
		if _, err := DiagnosticsJSON(diags); err != nil {
			t.Fatal(err)
		}
		if inv == nil {
			return
		}
		// Edits on any file that loads must not panic, must keep it loading,
		// and AddHost then RemoveHost must round trip.
		bumped, err := SetVersions(src, map[string]string{"grafana": "9.9.9", "node_exporter": "1.2.3-rc.1"})
		if err != nil {
			t.Fatalf("SetVersions on a valid inventory: %v", err)
		}
		inv2, diags2 := LoadSource("fuzz.hcl", bumped)
		if inv2 == nil || inv2.Versions["grafana"] != "9.9.9" || inv2.Versions["node_exporter"] != "1.2.3-rc.1" {
			t.Fatalf("after SetVersions: %v\n%s", diags2, bumped)
		}
		added, err := AddHost(src, NewHost{Name: "fuzz-added", Address: "192.0.2.1", Roles: []string{"grafana"}})
		if err != nil {
			if !strings.Contains(err.Error(), "already") {
				t.Fatalf("AddHost on a valid inventory: %v", err)
			}
			return
		}
		back, err := RemoveHost(added, "fuzz-added")
		if err != nil {
			t.Fatalf("RemoveHost after AddHost: %v", err)
		}
		if !bytes.Equal(back, src) {
			t.Fatalf("AddHost then RemoveHost changed the file:\n%q\n%q", src, back)
		}
	})
}
