package bundles

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
)

func TestSourceFor(t *testing.T) {
	for _, c := range []struct {
		mirror, component, version, arch string
		tarball, checksum                string
	}{
		{"", catalog.Prometheus, "2.53.2", AMD64,
			"https://github.com/prometheus/prometheus/releases/download/v2.53.2/prometheus-2.53.2.linux-amd64.tar.gz",
			"https://github.com/prometheus/prometheus/releases/download/v2.53.2/sha256sums.txt"},
		{"", catalog.Alertmanager, "0.27.0", ARM64,
			"https://github.com/prometheus/alertmanager/releases/download/v0.27.0/alertmanager-0.27.0.linux-arm64.tar.gz",
			"https://github.com/prometheus/alertmanager/releases/download/v0.27.0/sha256sums.txt"},
		{"", catalog.NodeExporter, "1.8.2", AMD64,
			"https://github.com/prometheus/node_exporter/releases/download/v1.8.2/node_exporter-1.8.2.linux-amd64.tar.gz",
			"https://github.com/prometheus/node_exporter/releases/download/v1.8.2/sha256sums.txt"},
		{"", catalog.Grafana, "11.2.2", AMD64,
			"https://dl.grafana.com/oss/release/grafana-11.2.2.linux-amd64.tar.gz",
			"https://dl.grafana.com/oss/release/grafana-11.2.2.linux-amd64.tar.gz.sha256"},
		{"http://10.99.0.1:8080", catalog.Prometheus, "2.42.0", AMD64,
			"http://10.99.0.1:8080/prometheus/prometheus/releases/download/v2.42.0/prometheus-2.42.0.linux-amd64.tar.gz",
			"http://10.99.0.1:8080/prometheus/prometheus/releases/download/v2.42.0/sha256sums.txt"},
		{"https://mirror.example.com/releases/", catalog.Grafana, "11.2.2", AMD64,
			"https://mirror.example.com/releases/oss/release/grafana-11.2.2.linux-amd64.tar.gz",
			"https://mirror.example.com/releases/oss/release/grafana-11.2.2.linux-amd64.tar.gz.sha256"},
	} {
		src, err := SourceFor(c.mirror, c.component, c.version, c.arch)
		if err != nil {
			t.Errorf("SourceFor(%q, %s, %s, %s): %v", c.mirror, c.component, c.version, c.arch, err)
			continue
		}
		if src.Tarball != c.tarball || src.Checksum != c.checksum {
			t.Errorf("SourceFor(%q, %s, %s, %s) = %s, %s\nwant %s, %s", c.mirror, c.component, c.version, c.arch, src.Tarball, src.Checksum, c.tarball, c.checksum)
		}
	}
	for _, bad := range []string{"ftp://mirror", "mirror.example.com", "https://", "https://m/?x=1"} {
		if _, err := SourceFor(bad, catalog.Prometheus, "2.42.0", AMD64); err == nil || !strings.Contains(err.Error(), "bundles.mirror") {
			t.Errorf("SourceFor(mirror %q) error = %v, want a bundles.mirror error", bad, err)
		}
	}
	_, err := SourceFor("https://user:secret@mirror.example.com", catalog.Prometheus, "2.42.0", "sparc")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v", err)
	}
}

func TestParseTarballName(t *testing.T) {
	for _, c := range []struct{ name, component, version, arch, err string }{
		{"prometheus-2.53.2.linux-amd64.tar.gz", catalog.Prometheus, "2.53.2", AMD64, ""},
		{"node_exporter-1.8.2.linux-arm64.tar.gz", catalog.NodeExporter, "1.8.2", ARM64, ""},
		{"alertmanager-0.28.0-rc.0.linux-amd64.tar.gz", catalog.Alertmanager, "0.28.0-rc.0", AMD64, ""},
		{"grafana-11.2.2.linux-amd64.tar.gz", catalog.Grafana, "11.2.2", AMD64, ""},
		{"grafana-enterprise-11.2.2.linux-amd64.tar.gz", "", "", "", "not an upstream release file name"},
		{"prometheus-2.53.2.linux-armv7.tar.gz", "", "", "", `architecture "armv7" is not supported`},
		{"prometheus-2.53.tar.gz", "", "", "", "not an upstream release file name"},
		{"prometheus-v2.53.2.linux-amd64.tar.gz", "", "", "", "not an upstream release file name"},
	} {
		comp, ver, arch, err := ParseTarballName(c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.name) {
				t.Errorf("ParseTarballName(%s) error = %v, want %q naming the file", c.name, err, c.err)
			}
			continue
		}
		if err != nil || comp != c.component || ver != c.version || arch != c.arch {
			t.Errorf("ParseTarballName(%s) = %s, %s, %s, %v", c.name, comp, ver, arch, err)
		}
		if TarballName(comp, ver, arch) != c.name {
			t.Errorf("TarballName does not round-trip %s", c.name)
		}
	}
}

func TestArchFromUname(t *testing.T) {
	for in, want := range map[string]string{"x86_64": AMD64, "x86_64\n": AMD64, "aarch64": ARM64, "arm64": ARM64} {
		if got, err := ArchFromUname(in); err != nil || got != want {
			t.Errorf("ArchFromUname(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"armv7l", "i686", "riscv64", "s390x", ""} {
		if _, err := ArchFromUname(in); err == nil || !strings.Contains(err.Error(), "uname -m") {
			t.Errorf("ArchFromUname(%q) error = %v, want a clear refusal", in, err)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, c := range catalog.Names() {
		vs := catalog.Get(c).Versions
		if !slices.IsSortedFunc(vs, CompareVersions) {
			t.Errorf("%s: known versions are not in ascending order: %v", c, vs)
		}
		if !slices.Contains(vs, catalog.Get(c).Default) {
			t.Errorf("%s: default version %s is not among the known versions", c, catalog.Get(c).Default)
		}
		if Newest(c) != vs[len(vs)-1] {
			t.Errorf("Newest(%s) = %s", c, Newest(c))
		}
		for _, v := range vs {
			if err := CheckVersion(v); err != nil {
				t.Error(err)
			}
		}
	}
	if Newest("loki") != "" {
		t.Error("Newest of an unknown component")
	}
	ordered := []string{"garbage", "0.9.9", "1.2.3-rc.0", "1.2.3", "1.10.0", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			got := CompareVersions(ordered[i], ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("CompareVersions(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestLineProgress(t *testing.T) {
	var buf bytes.Buffer
	p := LineProgress(&buf)
	w := p("a.tar.gz", 2048)
	w.Write(make([]byte, 2048))
	w.Done(nil)
	w = p("b.tar.gz", -1)
	w.Write(make([]byte, 10))
	w.Done(errors.New("boom"))
	out := buf.String()
	for _, want := range []string{"downloading a.tar.gz (2.0 KiB)\n", "downloaded a.tar.gz (2.0 KiB in", "downloading b.tar.gz\n", "download of b.tar.gz failed after 10 B\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestBarProgressFallsBackToLinesWhenBusy(t *testing.T) {
	var buf bytes.Buffer
	p := BarProgress(&buf)
	first := p("a.tar.gz", 100)
	second := p("b.tar.gz", 100)
	second.Write(make([]byte, 100))
	second.Done(nil)
	first.Write(make([]byte, 100))
	first.Done(nil)
	out := buf.String()
	if !strings.Contains(out, "downloading b.tar.gz") || strings.Contains(out, "downloading a.tar.gz") {
		t.Errorf("output %q: want a bar for a and lines for b", out)
	}
	third := p("c.tar.gz", 100) // the bar is free again
	third.Done(nil)
	if strings.Contains(buf.String(), "downloading c.tar.gz") {
		t.Error("third download did not get the bar back")
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 100 << 20: "100.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFileMirror(t *testing.T) {
	src, err := SourceFor("file:///srv/mirror/", catalog.NodeExporter, "1.8.2", AMD64)
	if err != nil || src.Tarball != "file:///srv/mirror/prometheus/node_exporter/releases/download/v1.8.2/node_exporter-1.8.2.linux-amd64.tar.gz" {
		t.Errorf("SourceFor(file mirror) = %+v, %v", src, err)
	}
	if _, err := SourceFor("file://host/srv", catalog.NodeExporter, "1.8.2", AMD64); err == nil {
		t.Error("file URL with a host accepted")
	}
}
