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

func TestExtractRefusesUnsafeEntries(t *testing.T) {
	top := "node_exporter-1.8.2.linux-amd64"
	base := releaseEntries(catalog.NodeExporter, "1.8.2", AMD64)
	for _, c := range []struct {
		name   string
		extra  []tarEntry
		entry  string // the entry the refusal must name
		reason string
	}{
		{"parent escape", []tarEntry{{name: "../evil", body: "x"}}, "../evil", "escapes"},
		{"nested parent escape", []tarEntry{{name: top + "/../../evil", body: "x"}}, top + "/../../evil", "escapes"},
		{"absolute path", []tarEntry{{name: "/etc/evil", body: "x"}}, "/etc/evil", "absolute path"},
		{"symlink to /etc", []tarEntry{{name: top + "/etc", typ: tar.TypeSymlink, link: "/etc"}}, top + "/etc", "absolute target"},
		{"symlink climbing out", []tarEntry{{name: top + "/up", typ: tar.TypeSymlink, link: "../../etc"}}, top + "/up", "points outside"},
		{"write through a symlink", []tarEntry{
			{name: top + "/d", typ: tar.TypeSymlink, link: "."},
			{name: top + "/d/x", body: "x"},
		}, top + "/d/x", `goes through symlink "` + top + `/d"`},
		{"symlink chain escape", []tarEntry{
			{name: top + "/a", typ: tar.TypeDir},
			{name: top + "/c", typ: tar.TypeSymlink, link: "a/b/../.."},
			{name: top + "/a/b", typ: tar.TypeSymlink, link: ".."},
		}, top + "/c", `goes through symlink`},
		{"hardlink outside", []tarEntry{{name: top + "/passwd", typ: tar.TypeLink, link: "../../etc/passwd"}}, top + "/passwd", "points outside"},
		{"hardlink absolute", []tarEntry{{name: top + "/passwd", typ: tar.TypeLink, link: "/etc/passwd"}}, top + "/passwd", "absolute target"},
		{"hardlink to nothing", []tarEntry{{name: top + "/ghost", typ: tar.TypeLink, link: top + "/nope"}}, top + "/ghost", "not a regular file earlier"},
		{"character device", []tarEntry{{name: top + "/null", typ: tar.TypeChar}}, top + "/null", "device file"},
		{"block device", []tarEntry{{name: top + "/sda", typ: tar.TypeBlock}}, top + "/sda", "device file"},
		{"fifo", []tarEntry{{name: top + "/pipe", typ: tar.TypeFifo}}, top + "/pipe", "fifo"},
		{"oversized file", []tarEntry{{name: top + "/big", body: strings.Repeat("x", 2048)}}, top + "/big", "more than the 1024 allowed"},
		{"duplicate entry", []tarEntry{{name: top + "/LICENSE", body: "again"}}, top + "/LICENSE", "duplicate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			dest := filepath.Join(work, "a", "b", "tree")
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(work, "in.tar.gz")
			if err := os.WriteFile(src, makeTarGz(t, append(append([]tarEntry{}, base...), c.extra...)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := extractTarGz(context.Background(), src, dest, 1024)
			var ee *ExtractError
			if !errors.As(err, &ee) {
				t.Fatalf("extract error = %v, want an ExtractError", err)
			}
			if ee.Entry != c.entry || !strings.Contains(err.Error(), `"`+c.entry+`"`) || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q names entry %q; want entry %q and reason %q", err, ee.Entry, c.entry, c.reason)
			}
			for _, p := range []string{filepath.Join(work, "evil"), filepath.Join(work, "a", "evil"), filepath.Join(work, "a", "b", "evil")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written outside the extraction folder", p)
				}
			}
		})
	}
}

func TestExtractAcceptsInsideLinks(t *testing.T) {
	top := "grafana-v11.2.2"
	entries := append(releaseEntries(catalog.Grafana, "11.2.2", AMD64),
		tarEntry{name: top + "/bin/grafana-server", typ: tar.TypeLink, link: top + "/bin/grafana"},
		tarEntry{name: top + "/conf/sample.ini", typ: tar.TypeSymlink, link: "defaults.ini"},
		tarEntry{name: top + "/public/", typ: tar.TypeDir},
		tarEntry{name: top + "/public/conf", typ: tar.TypeSymlink, link: "../conf"},
		tarEntry{name: top + "/VERSION", body: "11.2.2\n", mode: 0o4755},
	)
	work := t.TempDir()
	src := filepath.Join(work, "grafana-11.2.2.linux-amd64.tar.gz")
	if err := os.WriteFile(src, makeTarGz(t, entries), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(work, "tree")
	os.Mkdir(dest, 0o755)
	tr, err := extractTarGz(context.Background(), src, dest, DefaultMaxFileSize)
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	gotTop, err := tr.checkContents(filepath.Base(src), catalog.Grafana, "11.2.2", AMD64)
	if err != nil || gotTop != top {
		t.Fatalf("checkContents = %q, %v", gotTop, err)
	}
	if f := tr.files[top+"/bin/grafana-server"]; f.SHA256 != tr.files[top+"/bin/grafana"].SHA256 || f.Path != top+"/bin/grafana-server" {
		t.Errorf("hardlink recorded as %+v", f)
	}
	if f := tr.files[top+"/VERSION"]; f.Mode != 0o755 {
		t.Errorf("setuid file mode = %v, want the setuid bit dropped (0755)", f.Mode)
	}
	if target, err := os.Readlink(filepath.Join(dest, top, "public", "conf")); err != nil || target != "../conf" {
		t.Errorf("symlink public/conf = %q, %v", target, err)
	}
}

func TestCheckContents(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"wrong version in top folder", releaseEntries(catalog.NodeExporter, "1.5.0", AMD64), `the top folder is "node_exporter-1.5.0.linux-amd64", expected node_exporter-1.8.2.linux-amd64/`},
		{"wrong arch in top folder", releaseEntries(catalog.NodeExporter, "1.8.2", ARM64), "expected node_exporter-1.8.2.linux-amd64/"},
		{"missing binary", []tarEntry{{name: "node_exporter-1.8.2.linux-amd64/", typ: tar.TypeDir}, {name: "node_exporter-1.8.2.linux-amd64/LICENSE", body: "x"}}, "node_exporter-1.8.2.linux-amd64/node_exporter is missing"},
		{"binary not executable", []tarEntry{{name: "node_exporter-1.8.2.linux-amd64/", typ: tar.TypeDir}, {name: "node_exporter-1.8.2.linux-amd64/node_exporter", body: "x", mode: 0o644}}, "is not executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			src := filepath.Join(work, "x.tar.gz")
			os.WriteFile(src, makeTarGz(t, c.entries), 0o644)
			dest := filepath.Join(work, "tree")
			os.Mkdir(dest, 0o755)
			tr, err := extractTarGz(context.Background(), src, dest, DefaultMaxFileSize)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.checkContents("node_exporter-1.8.2.linux-amd64.tar.gz", catalog.NodeExporter, "1.8.2", AMD64)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("checkContents error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestExtractRejectsNonGzip(t *testing.T) {
	work := t.TempDir()
	src := filepath.Join(work, "x.tar.gz")
	os.WriteFile(src, []byte("<html>not found</html>"), 0o644)
	_, err := extractTarGz(context.Background(), src, work, DefaultMaxFileSize)
	if err == nil || !strings.Contains(err.Error(), "not a gzip file") {
		t.Errorf("error = %v, want a not-gzip error", err)
	}
}

func TestCheckELFArch(t *testing.T) {
	dir := t.TempDir()
	amd := filepath.Join(dir, "amd")
	arm := filepath.Join(dir, "arm")
	script := filepath.Join(dir, "script")
	broken := filepath.Join(dir, "broken")
	os.WriteFile(amd, minimalELF(elf.EM_X86_64), 0o755)
	os.WriteFile(arm, minimalELF(elf.EM_AARCH64), 0o755)
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(broken, []byte(elf.ELFMAG+"garbage"), 0o755)
	for _, c := range []struct{ file, arch, want string }{
		{amd, AMD64, ""},
		{arm, ARM64, ""},
		{amd, ARM64, "amd is built for amd64, not arm64"},
		{arm, AMD64, "arm is built for arm64, not amd64"},
		{script, ARM64, ""}, // scripts are not judged
		{broken, AMD64, "broken ELF executable"},
	} {
		err := checkELFArch(c.file, c.arch)
		if (c.want == "" && err != nil) || (c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want))) {
			t.Errorf("checkELFArch(%s, %s) = %v, want %q", filepath.Base(c.file), c.arch, err, c.want)
		}
	}
}
