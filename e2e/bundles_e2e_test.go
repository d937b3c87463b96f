//go:build e2e

package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/e2e/harness"
)

// TestBundleImport is issue 3's acceptance: the harness's real bundles go
// into a fresh cache by hand (the air-gapped path) and bundle list shows them.
func TestBundleImport(t *testing.T) {
	harness.Prereqs(t)
	if err := harness.BuildBundles(); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.Walk(harness.MirrorDir(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".tar.gz") && !strings.Contains(p, "9.9.9") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 8 {
		t.Fatalf("expected the harness's bundles, found %v", files)
	}
	dir := t.TempDir()
	inv := filepath.Join(dir, "obsbox.hcl")
	os.WriteFile(inv, []byte("bundles {\n  dir     = \"./cache\"\n  offline = true\n}\nhost \"h1\" {\n  address = \"10.99.0.11\"\n  roles   = [\"prometheus\"]\n}\n"), 0o644)
	r := obsbox(t, nil, append([]string{"-i", inv, "bundle", "import"}, files...)...)
	if r.code != 0 {
		t.Fatalf("bundle import: %s", r)
	}
	r = obsbox(t, nil, "-i", inv, "--json", "bundle", "list")
	if r.code != 0 {
		t.Fatalf("bundle list: %s", r)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatalf("bundle list --json: %v\n%s", err, r.stdout)
	}
	if len(listed) != len(files) {
		t.Errorf("imported %d bundles, list shows %d:\n%s", len(files), len(listed), r.stdout)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "obsbox.lock.hcl"))
	if err != nil || strings.Count(string(lock), "sha256") < len(files) {
		t.Errorf("every imported bundle belongs in obsbox.lock.hcl: %v\n%s", err, lock)
	}
	// Offline, a bundle nobody imported is a clear error naming the file.
	os.WriteFile(inv, []byte("versions { node_exporter = \"1.7.0\" }\nbundles {\n  dir     = \"./cache\"\n  offline = true\n}\nhost \"h1\" {\n  address = \"10.99.0.11\"\n  roles   = [\"prometheus\"]\n}\n"), 0o644)
	r = obsbox(t, nil, "-i", inv, "bundle", "pull", "node_exporter@1.7.0")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "node_exporter-1.7.0.linux-amd64.tar.gz") {
		t.Errorf("offline pull of a missing bundle should name the file to import: %s", r)
	}
}
