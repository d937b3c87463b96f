package bundles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/internal/golden"
)

func TestWriteLockGolden(t *testing.T) {
	entries := []LockEntry{
		{Component: catalog.Prometheus, Version: "2.53.2", Arch: ARM64, File: "prometheus-2.53.2.linux-arm64.tar.gz", SHA256: strings.Repeat("b", 64)},
		{Component: catalog.NodeExporter, Version: "1.8.2", Arch: AMD64, File: "node_exporter-1.8.2.linux-amd64.tar.gz", SHA256: strings.Repeat("1", 64)},
		{Component: catalog.Prometheus, Version: "2.9.0", Arch: AMD64, File: "prometheus-2.9.0.linux-amd64.tar.gz", SHA256: strings.Repeat("9", 64)},
		{Component: catalog.Prometheus, Version: "2.53.2", Arch: AMD64, File: "prometheus-2.53.2.linux-amd64.tar.gz", SHA256: strings.Repeat("a", 64)},
		{Component: catalog.Grafana, Version: "11.2.2", Arch: AMD64, File: "grafana-11.2.2.linux-amd64.tar.gz", SHA256: strings.Repeat("0", 64)},
	}
	path := filepath.Join(t.TempDir(), LockFileName)
	if err := WriteLock(path, entries); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "obsbox.lock.hcl.golden"), got)

	// Order of the input does not matter; reading it back gives the same entries.
	back, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(entries) {
		t.Fatalf("read back %d entries, want %d", len(back), len(entries))
	}
	if back[0].Component != catalog.Grafana || back[len(back)-1].Version != "2.53.2" || back[len(back)-1].Arch != ARM64 {
		t.Errorf("order after reading back: %+v", back)
	}
	reversed := make([]LockEntry, len(entries))
	for i, e := range entries {
		reversed[len(entries)-1-i] = e
	}
	if again := renderLock(reversed); string(again) != string(got) {
		t.Error("rendering depends on input order")
	}
}

func TestReadLockErrors(t *testing.T) {
	sum := strings.Repeat("a", 64)
	for _, c := range []struct{ name, src, want string }{
		{"syntax", "bundle \"prometheus\" {", "obsbox.lock.hcl:1"},
		{"two labels", `bundle "prometheus" "2.53.2" { sha256 = "` + sum + `" }`, "three labels"},
		{"bad hash", `bundle "prometheus" "2.53.2" "amd64" { sha256 = "xyz" }`, "obsbox.lock.hcl:1,49"},
		{"missing hash", `bundle "prometheus" "2.53.2" "amd64" { file = "x" }`, "has no sha256"},
		{"unknown attribute", "bundle \"prometheus\" \"2.53.2\" \"amd64\" {\n  sha256 = \"" + sum + "\"\n  md5 = \"x\"\n}", `obsbox.lock.hcl:3,3-6: unexpected attribute "md5"`},
		{"unknown block", `thing {}`, `unexpected block "thing"`},
		{"unknown component", `bundle "loki" "2.9.0" "amd64" { sha256 = "` + sum + `" }`, `unknown component "loki"`},
		{"duplicate", "bundle \"prometheus\" \"2.53.2\" \"amd64\" { sha256 = \"" + sum + "\" }\nbundle \"prometheus\" \"2.53.2\" \"amd64\" { sha256 = \"" + sum + "\" }", "already recorded at"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LockFileName)
			os.WriteFile(path, []byte(c.src), 0o644)
			_, err := ReadLock(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadLock error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestReadLockMissingIsEmpty(t *testing.T) {
	entries, err := ReadLock(filepath.Join(t.TempDir(), "nope.hcl"))
	if err != nil || entries != nil {
		t.Errorf("ReadLock of a missing file = %v, %v", entries, err)
	}
}
