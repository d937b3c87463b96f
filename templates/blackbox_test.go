package templates

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/obsbox/obsbox/internal/golden"
)

func TestBlackboxConfigGolden(t *testing.T) {
	got, err := RenderBlackboxConfig()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "blackbox", "blackbox.yml"), got)
}

// TestBlackboxConfigCheck has the real blackbox_exporter of the e2e bundle
// check the rendered file, as the apply does on the host.
func TestBlackboxConfigCheck(t *testing.T) {
	tarball := "/var/cache/obsbox-e2e/mirror/prometheus/blackbox_exporter/releases/download/v0.27.0/blackbox_exporter-0.27.0.linux-amd64.tar.gz"
	if _, err := os.Stat(tarball); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("no blackbox_exporter bundle: %v (e2e/build-bundles.sh builds it)", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", dir, "--strip-components=1").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	cfg, err := RenderBlackboxConfig()
	if err != nil {
		t.Fatal(err)
	}
	promWrite(t, filepath.Join(dir, BlackboxConfigFile), cfg)
	if out, err := promRun(t, dir, filepath.Join(dir, "blackbox_exporter"), "--config.check", "--config.file="+BlackboxConfigFile); err != nil {
		t.Fatalf("blackbox_exporter --config.check: %v\n%s", err, out)
	}
	promWrite(t, filepath.Join(dir, "bad.yml"), []byte("modules:\n  x:\n    prober: dns\n    dns:\n      query_type: A\n"))
	if out, err := promRun(t, dir, filepath.Join(dir, "blackbox_exporter"), "--config.check", "--config.file=bad.yml"); err == nil {
		t.Errorf("--config.check accepted a dns module without query_name:\n%s", out)
	}
}
