package bundles

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
)

// writeRelease writes a test tarball under its upstream name into dir and returns its path and hash.
func writeRelease(t *testing.T, dir string, entries []tarEntry, component, version, arch string) (string, string) {
	t.Helper()
	data := makeTarGz(t, entries)
	p := filepath.Join(dir, TarballName(component, version, arch))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, sha(data)
}

func TestImport(t *testing.T) {
	wrong := strings.Repeat("f", 64)
	for _, c := range []struct {
		name    string
		pin     string // "good" for the real hash
		sums    string // sha256sums.txt beside the file: "good", "bad" or ""
		single  string // <file>.sha256 beside the file: "good", "bad" or ""
		wantErr string
	}{
		{name: "no checksum anywhere"},
		{name: "pinned", pin: "good"},
		{name: "pinned upper case", pin: "GOOD"},
		{name: "pin mismatch", pin: wrong, wantErr: "--sha256 says " + wrong},
		{name: "malformed pin", pin: "abc", wantErr: "--sha256"},
		{name: "sha256sums.txt beside", sums: "good"},
		{name: "sha256sums.txt mismatch", sums: "bad", wantErr: "sha256sums.txt says " + wrong},
		{name: "file.sha256 beside", single: "good"},
		{name: "file.sha256 mismatch", single: "bad", wantErr: ".tar.gz.sha256 says " + wrong},
		{name: "pin wins over sidecar", pin: "good", sums: "bad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			p, sum := writeRelease(t, src, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64), catalog.NodeExporter, "1.8.2", AMD64)
			pick := func(v string) string {
				switch v {
				case "good":
					return sum
				case "GOOD":
					return strings.ToUpper(sum)
				case "bad":
					return wrong
				}
				return v
			}
			if c.sums != "" {
				os.WriteFile(filepath.Join(src, "sha256sums.txt"), []byte(strings.Repeat("3", 64)+"  node_exporter-1.8.2.linux-arm64.tar.gz\n"+pick(c.sums)+"  node_exporter-1.8.2.linux-amd64.tar.gz\n"), 0o644)
			}
			if c.single != "" {
				os.WriteFile(p+".sha256", []byte(pick(c.single)+"\n"), 0o644)
			}
			s := newTestStore(t, nil)
			s.Offline = true
			b, err := s.Import(context.Background(), p, pick(c.pin))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Import error = %v, want %q", err, c.wantErr)
				}
				assertNothingCached(t, s)
				return
			}
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if b.SHA256 != sum || b.Cached || b.Component != catalog.NodeExporter || b.Version != "1.8.2" || b.Arch != AMD64 {
				t.Errorf("Import = %+v", b)
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("Import removed the source file: %v", err)
			}
			// Afterwards it is an ordinary cached bundle, recorded in the lock.
			got, err := s.Ensure(context.Background(), catalog.NodeExporter, "1.8.2", AMD64)
			if err != nil || !got.Cached || got.SHA256 != sum {
				t.Errorf("Ensure after Import = %+v, %v", got, err)
			}
			lock, _ := ReadLock(s.LockFile)
			if len(lock) != 1 || lock[0].SHA256 != sum {
				t.Errorf("lock after Import = %+v", lock)
			}
		})
	}
}

func TestImportConfirmsContents(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []tarEntry
		file    [3]string
		wantErr string
	}{
		{"file name says 1.8.2, contents 1.5.0", releaseEntries(catalog.NodeExporter, "1.5.0", AMD64), [3]string{catalog.NodeExporter, "1.8.2", AMD64},
			`top folder is "node_exporter-1.5.0.linux-amd64"`},
		{"renamed from another component", releaseEntries(catalog.Alertmanager, "1.8.2", AMD64), [3]string{catalog.NodeExporter, "1.8.2", AMD64},
			`top folder is "alertmanager-1.8.2.linux-amd64"`},
		{"grafana missing bin/grafana", []tarEntry{{name: "grafana-v11.2.2/", typ: tar.TypeDir}, {name: "grafana-v11.2.2/bin/grafana-server", body: "x"}},
			[3]string{catalog.Grafana, "11.2.2", AMD64}, "grafana-v11.2.2/bin/grafana is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := writeRelease(t, t.TempDir(), c.entries, c.file[0], c.file[1], c.file[2])
			s := newTestStore(t, nil)
			_, err := s.Import(context.Background(), p, "")
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Import error = %v, want %q", err, c.wantErr)
			}
			assertNothingCached(t, s)
		})
	}
}

func TestImportAcceptsOldGrafanaTopFolder(t *testing.T) {
	entries := []tarEntry{{name: "grafana-9.5.2/", typ: tar.TypeDir}, {name: "grafana-9.5.2/bin/grafana", body: "#!/bin/sh\n"}}
	p, _ := writeRelease(t, t.TempDir(), entries, catalog.Grafana, "9.5.2", AMD64)
	s := newTestStore(t, nil)
	b, err := s.Import(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(b.Root) != "grafana-9.5.2" {
		t.Errorf("Root = %s", b.Root)
	}
}

func TestImportRefusesWrongArchBinary(t *testing.T) {
	top := key(catalog.NodeExporter, "1.8.2", ARM64)
	entries := []tarEntry{{name: top + "/", typ: tar.TypeDir}, {name: top + "/node_exporter", body: string(minimalELF(elf.EM_X86_64))}}
	p, _ := writeRelease(t, t.TempDir(), entries, catalog.NodeExporter, "1.8.2", ARM64)
	s := newTestStore(t, nil)
	_, err := s.Import(context.Background(), p, "")
	if err == nil || !strings.Contains(err.Error(), "node_exporter-1.8.2.linux-arm64/node_exporter: node_exporter is built for amd64, not arm64") {
		t.Fatalf("Import error = %v, want an architecture mismatch", err)
	}
	assertNothingCached(t, s)

	entries[1].body = string(minimalELF(elf.EM_AARCH64))
	p, _ = writeRelease(t, t.TempDir(), entries, catalog.NodeExporter, "1.8.2", ARM64)
	if _, err := s.Import(context.Background(), p, ""); err != nil {
		t.Errorf("Import of a matching arm64 binary: %v", err)
	}
}

func TestImportBadFileNames(t *testing.T) {
	s := newTestStore(t, nil)
	for _, name := range []string{"node_exporter.tar.gz", "loki-2.9.0.linux-amd64.tar.gz", "node_exporter-1.8.2.linux-386.tar.gz",
		"node_exporter-1.8.2.darwin-amd64.tar.gz", "grafana-enterprise-11.2.2.linux-amd64.tar.gz"} {
		_, err := s.Import(context.Background(), filepath.Join(t.TempDir(), name), "")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Import(%s) error = %v, want one naming the file", name, err)
		}
	}
}

func TestImportAgainstLock(t *testing.T) {
	src := t.TempDir()
	p, sum := writeRelease(t, src, releaseEntries(catalog.Prometheus, "2.42.0", AMD64), catalog.Prometheus, "2.42.0", AMD64)
	s := newTestStore(t, nil)
	locked := strings.Repeat("c", 64)
	WriteLock(s.LockFile, []LockEntry{{Component: catalog.Prometheus, Version: "2.42.0", Arch: AMD64, File: "prometheus-2.42.0.linux-amd64.tar.gz", SHA256: locked}})
	_, err := s.Import(context.Background(), p, "")
	var le *LockMismatchError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), locked) || !strings.Contains(err.Error(), sum) {
		t.Fatalf("Import error = %v, want a lock mismatch showing both hashes", err)
	}
	assertNothingCached(t, s)
}

func TestImportReplacesDifferentCachedFile(t *testing.T) {
	s := newTestStore(t, nil)
	s.LockFile = "" // no lock: the import is the user's explicit choice
	ctx := context.Background()
	p1, _ := writeRelease(t, t.TempDir(), releaseEntries(catalog.Prometheus, "2.42.0", AMD64), catalog.Prometheus, "2.42.0", AMD64)
	if _, err := s.Import(ctx, p1, ""); err != nil {
		t.Fatal(err)
	}
	entries := append(releaseEntries(catalog.Prometheus, "2.42.0", AMD64), tarEntry{name: "prometheus-2.42.0.linux-amd64/NOTICE", body: "n", mode: 0o644})
	p2, sum2 := writeRelease(t, t.TempDir(), entries, catalog.Prometheus, "2.42.0", AMD64)
	b, err := s.Import(ctx, p2, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.File("NOTICE"); !ok || b.SHA256 != sum2 {
		t.Errorf("second import = %+v, want the new file", b)
	}
	list, _ := s.List()
	if len(list) != 1 || list[0].SHA256 != sum2 {
		t.Errorf("List = %+v", list)
	}
}
