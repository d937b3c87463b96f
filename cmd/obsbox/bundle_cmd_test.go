package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
)

// releaseTarball builds a small tarball in the upstream layout of component.
func releaseTarball(t *testing.T, component, version, arch string) []byte {
	t.Helper()
	top := bundles.TopFolders(component, version, arch)[0]
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range catalog.Get(component).Binaries {
		body := fmt.Sprintf("#!/bin/sh\necho %s %s\n", f, version)
		tw.WriteHeader(&tar.Header{Name: top + "/" + f, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	return buf.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testMirror serves tarballs laid out like the upstream release pages and counts requests.
type testMirror struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newTestMirror(t *testing.T) *testMirror {
	m := &testMirror{files: map[string][]byte{}, hits: map[string]int{}}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.hits[r.URL.Path]++
		b, ok := m.files[r.URL.Path]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *testMirror) publish(t *testing.T, component, version, arch string) []byte {
	data := releaseTarball(t, component, version, arch)
	src, err := bundles.SourceFor(m.URL, component, version, arch)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[strings.TrimPrefix(src.Tarball, m.URL)] = data
	sums := strings.TrimPrefix(src.Checksum, m.URL) // one listing per release, every arch in it
	m.files[sums] = append(m.files[sums], []byte(sum(data)+"  "+bundles.TarballName(component, version, arch)+"\n")...)
	return data
}

func (m *testMirror) tarballHits(t *testing.T, component, version, arch string) int {
	src, _ := bundles.SourceFor(m.URL, component, version, arch)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[strings.TrimPrefix(src.Tarball, m.URL)]
}

// runBundleCmd runs `obsbox bundle ARGS` and returns stdout, stderr and the exit code.
func runBundleCmd(t *testing.T, inventoryPath string, json bool, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &globalOptions{inventory: inventoryPath, json: json, noProgress: true, concurrency: 16,
		stdout: &stdout, stderr: &stderr, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cmd := newBundleCmd(g)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // as the root command sets them
	cmd.SetOut(&stderr)
	cmd.SetErr(&stderr)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else if isUsage(err) {
			code = 2
		}
		fmt.Fprintf(&stderr, "Error: %v\n", err)
	}
	return stdout.String(), stderr.String(), code
}

func writeTestInventory(t *testing.T, dir, bundlesBlock string) string {
	t.Helper()
	p := filepath.Join(dir, "obsbox.hcl")
	src := `
versions {
  prometheus    = "2.42.0"
  node_exporter = "1.8.2"
}
` + bundlesBlock + `
host "mon-1" {
  address = "10.99.0.11"
  roles   = ["prometheus"]
}
host "web-1" { address = "10.99.0.12" }
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBundlePullFromInventory(t *testing.T) {
	m := newTestMirror(t)
	prom := m.publish(t, catalog.Prometheus, "2.42.0", bundles.AMD64)
	m.publish(t, catalog.NodeExporter, "1.8.2", bundles.AMD64)
	m.publish(t, catalog.Alertmanager, "0.27.0", bundles.AMD64)
	dir := t.TempDir()
	inv := writeTestInventory(t, dir, fmt.Sprintf("bundles {\n  dir = \"./cache\"\n  mirror = %q\n}\n", m.URL))

	out, errOut, code := runBundleCmd(t, inv, false, "pull")
	if code != 0 {
		t.Fatalf("pull exited %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"prometheus    2.42.0   amd64  downloaded  sha256 " + sum(prom), "node_exporter 1.8.2    amd64  downloaded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := m.tarballHits(t, catalog.Alertmanager, "0.27.0", bundles.AMD64); n != 0 {
		t.Errorf("pulled alertmanager, which no host runs (%d requests)", n)
	}
	lock, err := bundles.ReadLock(filepath.Join(dir, "obsbox.lock.hcl"))
	if err != nil || len(lock) != 2 {
		t.Fatalf("lock beside the inventory = %+v, %v", lock, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "prometheus-2.42.0.linux-amd64", "prometheus-2.42.0.linux-amd64.tar.gz")); err != nil {
		t.Errorf("tarball not in the inventory's cache dir: %v", err)
	}

	out, _, code = runBundleCmd(t, inv, true, "pull")
	var results []bundleResult
	if code != 0 || json.Unmarshal([]byte(out), &results) != nil || len(results) != 2 {
		t.Fatalf("second pull --json exited %d with %q", code, out)
	}
	for _, r := range results {
		if r.Status != "cached" || r.SHA256 == "" {
			t.Errorf("second pull: %+v, want cached", r)
		}
	}
	if n := m.tarballHits(t, catalog.Prometheus, "2.42.0", bundles.AMD64); n != 1 {
		t.Errorf("prometheus downloaded %d times, want once", n)
	}

	out, _, code = runBundleCmd(t, inv, false, "list")
	if code != 0 || !strings.Contains(out, "COMPONENT") || !strings.Contains(out, sum(prom)) || !strings.Contains(out, " ok ") {
		t.Errorf("list exited %d:\n%s", code, out)
	}
}

func TestBundlePullArguments(t *testing.T) {
	m := newTestMirror(t)
	m.publish(t, catalog.Alertmanager, "0.27.0", bundles.AMD64)
	m.publish(t, catalog.Alertmanager, "0.27.0", bundles.ARM64)
	dir := t.TempDir()
	inv := writeTestInventory(t, dir, fmt.Sprintf("bundles {\n  dir = \"./cache\"\n  mirror = %q\n}\n", m.URL))

	out, errOut, code := runBundleCmd(t, inv, false, "pull", "alertmanager@0.27.0", "--arch", "amd64", "--arch", "arm64")
	if code != 0 || !strings.Contains(out, "arm64") || !strings.Contains(out, "amd64") {
		t.Fatalf("pull exited %d:\n%s%s", code, out, errOut)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pull", "loki@2.9.0"}, 2, `unknown component "loki"`},
		{[]string{"pull", "node-exporter@1.8.2"}, 2, "did you mean node_exporter?"},
		{[]string{"pull", "prometheus@v2.42.0"}, 2, "no leading v"},
		{[]string{"pull", "prometheus", "--arch", "armv7"}, 2, `--arch "armv7" is not supported`},
		{[]string{"pull", "alertmanager@0.99.0"}, 1, "HTTP 404"},
	} {
		_, errOut, code := runBundleCmd(t, inv, false, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("bundle %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}

func TestBundlePullOfflineNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	inv := writeTestInventory(t, dir, "bundles {\n  dir = \"./cache\"\n  offline = true\n}\n")
	_, errOut, code := runBundleCmd(t, inv, false, "pull", "node_exporter")
	if code != 1 || !strings.Contains(errOut, "obsbox bundle import node_exporter-1.8.2.linux-amd64.tar.gz") {
		t.Errorf("offline pull: exit %d, stderr %q", code, errOut)
	}
}

func TestBundleImportAndListWithoutInventory(t *testing.T) {
	work := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(work, "xdg"))
	inv := filepath.Join(work, "obsbox.hcl") // does not exist
	src := t.TempDir()
	data := releaseTarball(t, catalog.NodeExporter, "1.8.2", bundles.AMD64)
	file := filepath.Join(src, "node_exporter-1.8.2.linux-amd64.tar.gz")
	os.WriteFile(file, data, 0o644)

	out, _, code := runBundleCmd(t, inv, false, "list")
	if code != 0 || !strings.Contains(out, "No bundles in "+filepath.Join(work, "xdg", "obsbox", "bundles")) {
		t.Errorf("empty list: exit %d, %q", code, out)
	}

	wrong := strings.Repeat("a", 64)
	_, errOut, code := runBundleCmd(t, inv, false, "import", file, "--sha256", wrong)
	if code != 1 || !strings.Contains(errOut, wrong) || !strings.Contains(errOut, sum(data)) {
		t.Errorf("import with a wrong --sha256: exit %d, stderr %q", code, errOut)
	}

	out, errOut, code = runBundleCmd(t, inv, false, "import", file, "--sha256", strings.ToUpper(sum(data)))
	if code != 0 || !strings.Contains(out, "imported") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(work, "obsbox.lock.hcl")); err != nil {
		t.Errorf("no lock beside the (missing) inventory: %v", err)
	}
	out, _, code = runBundleCmd(t, inv, false, "import", file)
	if code != 0 || !strings.Contains(out, "cached") {
		t.Errorf("second import: exit %d, %q", code, out)
	}

	out, _, code = runBundleCmd(t, inv, true, "list")
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
		t.Fatalf("list --json: exit %d, %q", code, out)
	}
	r := rows[0]
	if r["component"] != "node_exporter" || r["version"] != "1.8.2" || r["arch"] != "amd64" || r["sha256"] != sum(data) ||
		r["size"] != float64(len(data)) || r["lock"] != "ok" {
		t.Errorf("list --json row = %v", r)
	}
}

func TestBundleImportUsageErrors(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "obsbox.hcl")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "requires at least 1 arg"},
		{[]string{"import", "node_exporter.tar.gz"}, "not an upstream release file name"},
		{[]string{"import", "a/node_exporter-1.8.2.linux-amd64.tar.gz", "--sha256", "xyz"}, "--sha256"},
		{[]string{"import", "node_exporter-1.8.2.linux-amd64.tar.gz", "prometheus-2.42.0.linux-amd64.tar.gz", "--sha256", strings.Repeat("a", 64)}, "one at a time"},
	} {
		_, errOut, code := runBundleCmd(t, inv, false, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("bundle %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	_, errOut, code := runBundleCmd(t, inv, false, "import", filepath.Join(t.TempDir(), "node_exporter-1.8.2.linux-amd64.tar.gz"))
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("import of a missing file: exit %d, %q", code, errOut)
	}
}
