package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
)

// Issue 12, deliverable 5: several attributes on one line are not HCL. They
// were silently re-split; now HCL's own diagnostic reports them, at the
// line as written, with a hint to write one attribute per line.
func TestFinding12_ValidHCLOnly(t *testing.T) {
	fakeHome(t)
	cases := []struct{ name, src, summary, pos string }{
		{"two attributes in a one-line block", "grafana { port = 3000 admin_user = \"me\" }\n", "Invalid single-argument block definition", "5:23"},
		{"nested block on the line", "alertmanager {\n  receiver \"hook\" { webhook { url = \"http://10.0.0.9:5001/\" } }\n}\n", "Argument definition required", "6:21"},
		{"two attributes on a line", "prometheus {\n  retention = \"15d\" scrape_interval = \"15s\"\n}\n", "Missing newline after argument", "6:21"},
		{"route in the old SPEC style", "alertmanager {\n  route { severity = \"page\"   receiver = \"null\" }\n}\n", "Invalid single-argument block definition", "6:31"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv, diags, _ := loadIn(t, monHost+tc.src)
			if inv != nil || len(diags) != 1 {
				t.Fatalf("want exactly HCL's one error, got:\n%s", dumpDiags(diags))
			}
			d := diags[0]
			if d.Summary != tc.summary || diagPosString(d) != tc.pos || !strings.Contains(d.Detail, "write one attribute per line") {
				t.Errorf("want %q at %s with the one-attribute-per-line hint, got:\n%s", tc.summary, tc.pos, dumpDiags(diags))
			}
		})
	}
	if _, err := os.Stat("compact.go"); err == nil {
		t.Error("compact.go (the re-splitting decoder) is back")
	}

	// The same lines with secrets on them: the errors stop decoding, and the
	// source lines shown are masked all the same.
	src := "grafana { admin_password = \"SECRET-g\" port = 1 }\nssh { user = \"x\" sudo_password = \"SECRET-s\" }\n"
	inv, diags := LoadSource("obsbox.hcl", []byte(src))
	var out bytes.Buffer
	WriteDiagnostics(&out, diags, map[string][]byte{"obsbox.hcl": []byte(src)})
	if inv != nil || len(diags) != 2 || strings.Contains(out.String(), "SECRET") {
		t.Errorf("want two errors without secrets, got:\n%s", out.String())
	}
}

// SPEC.md's inventory examples, copied into testdata, are plain HCL that
// any HCL parser and formatter reads; the implemented part loads
// (TestSpecExample).
func TestFinding12_SpecExampleIsHCL(t *testing.T) {
	src, err := os.ReadFile("testdata/spec-all.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if _, diags := hclsyntax.ParseConfig(src, "spec-all.hcl", hcl.InitialPos); diags.HasErrors() {
		t.Errorf("SPEC's example is not HCL: %s", diags.Error())
	}
	if _, diags := hclwrite.ParseConfig(src, "spec-all.hcl", hcl.InitialPos); diags.HasErrors() {
		t.Errorf("hclwrite cannot read SPEC's example: %s", diags.Error())
	}
	for _, block := range []string{"security", "probe", "slo", "victoriametrics", "ssh", "versions", "bundles", "rules"} {
		if !bytes.Contains(src, []byte("\n"+block+" ")) {
			t.Errorf("testdata/spec-all.hcl lacks SPEC's %s block: copy SPEC.md's examples again", block)
		}
	}
}

// Issue 12, deliverable 4: one version syntax. "1.0.0-rc-1" is a valid
// semver pre-release (hyphens are allowed in identifiers); the inventory
// accepted it and bundles refused it. Now both use bundles.ParseVersion.
func TestFinding12_OneVersionSyntax(t *testing.T) {
	fakeHome(t)
	good := []string{"1.0.0-rc-1", "2.53.2", "3.0.0-rc.1", "11.3.0-beta.1", "0.28.0", "1.0.0-0.3.7", "1.0.0-x-y-z.--"}
	bad := []string{"v2.53.2", "2.53", "2.53.2.1", "02.53.2", "2.53.2-", "2.53.2-rc..1", "2.53.2-01", "2.53.2+build.5", "2.53.2-rc_1", "latest", ""}
	for _, v := range good {
		if err := bundles.CheckVersion(v); err != nil {
			t.Errorf("bundles: %v", err)
		}
		if _, diags, _ := loadIn(t, monHost+"versions {\n  prometheus = \""+v+"\"\n}\n"); diags.HasErrors() {
			t.Errorf("inventory refuses %q:\n%s", v, dumpDiags(diags))
		}
		name := bundles.TarballName(catalog.Prometheus, v, bundles.AMD64)
		if _, got, _, err := bundles.ParseTarballName(name); err != nil || got != v {
			t.Errorf("tarball %s: version %q, %v", name, got, err)
		}
	}
	for _, v := range bad {
		if bundles.CheckVersion(v) == nil {
			t.Errorf("bundles accepts %q", v)
		}
		_, diags, _ := loadIn(t, monHost+"versions {\n  prometheus = \""+v+"\"\n}\n")
		if !diags.HasErrors() || !slices.ContainsFunc(diags, func(d *hcl.Diagnostic) bool { return d.Summary == "Invalid version" && diagPosString(d) == "6:16" }) {
			t.Errorf("inventory accepts %q or does not say where:\n%s", v, dumpDiags(diags))
		}
	}
	// Semver precedence, pre-releases included.
	ordered := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-rc-1", "1.0.0"}
	if !slices.IsSortedFunc(ordered, bundles.CompareVersions) {
		t.Errorf("not in semver order: %v", slices.SortedFunc(slices.Values(ordered), bundles.CompareVersions))
	}
}

// Issue 12, deliverable 4: durations, versions and URLs are parsed in one
// place each (installer/duration, bundles/version.go, the inventory's
// checks); the renderers and the planner trust the inventory. This scans the
// tree for the second parsers that were there.
func TestFinding12_OneParserEach(t *testing.T) {
	root := filepath.Join("..", "..")
	patterns := map[string]*regexp.Regexp{
		"a duration parser": regexp.MustCompile(`\(ms\|s\|m\|h\|d\|w\|y\)|\(ms\|y\|w\|d\|h\|m\|s\)|\(\[0-9\]\+\)y\)\?`),
		"a version regexp":  regexp.MustCompile(`MustCompile\(.*(\[0-9\]\+\\\.\[0-9\]\+\\\.\[0-9\]\+|\(0\|\[1-9\]\[0-9\]\*\)\\\.)`),
		"a URL check":       regexp.MustCompile(`url\.Parse\(`),
	}
	allowed := map[string][]string{
		"a duration parser": {"installer/duration/duration.go"},
		"a version regexp":  {"bundles/version.go"},
		// The inventory checks URLs; bundles checks the mirror (called by the
		// inventory) and redacts URLs for messages; a probe target's password
		// is hidden in messages.
		"a URL check": {"installer/inventory/check.go", "installer/inventory/probe.go", "bundles/fetch.go"},
	}
	for _, dir := range []string{"templates", "installer", "bundles", "systemd", "cmd"} {
		filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for what, re := range patterns {
				if re.Match(b) && !slices.Contains(allowed[what], filepath.ToSlash(rel)) {
					t.Errorf("%s has %s of its own; use the one in %v", rel, what, allowed[what])
				}
			}
			return nil
		})
	}
}

// Issue 12, deliverable 7 (inventory side): probe blocks decode into
// inv.Probes with their defaults, and every mistake is reported at
// file:line:col.
func TestFinding12_ProbeBlocks(t *testing.T) {
	fakeHome(t)
	src := monHost + `prometheus {
  scrape_interval = "20s"
}
probe "shop" {
  targets = ["https://shop.example.com/health", "http://10.0.1.10:8080/"]
}
probe "db" {
  module   = "tcp_connect"
  targets  = ["10.0.1.10:5432", "db.example.com:5432", "[fd00::1]:5432"]
  interval = "1m"
  labels   = { team = "data" }
}
probe "ping" {
  module  = "icmp"
  targets = ["10.0.1.10", "gw.example.com", "fd00::1"]
}
probe "resolver" {
  module  = "dns"
  targets = ["10.0.0.53", "10.0.0.54:5353"]
}
probe "legacy" {
  module  = "http_2xx"
  targets = ["10.0.1.10:8080"]
}
`
	inv, diags, _ := loadIn(t, src)
	if inv == nil || len(diags) != 0 {
		t.Fatalf("valid probes refused:\n%s", dumpDiags(diags))
	}
	want := []Probe{
		{Name: "shop", Module: ProbeHTTP2xx, Targets: []string{"https://shop.example.com/health", "http://10.0.1.10:8080/"}, Interval: "20s"},
		{Name: "db", Module: ProbeTCPConnect, Targets: []string{"10.0.1.10:5432", "db.example.com:5432", "[fd00::1]:5432"}, Interval: "1m", Labels: map[string]string{"team": "data"}},
		{Name: "ping", Module: ProbeICMP, Targets: []string{"10.0.1.10", "gw.example.com", "fd00::1"}, Interval: "20s"},
		{Name: "resolver", Module: ProbeDNS, Targets: []string{"10.0.0.53", "10.0.0.54:5353"}, Interval: "20s"},
		{Name: "legacy", Module: ProbeHTTP2xx, Targets: []string{"10.0.1.10:8080"}, Interval: "20s"},
	}
	if len(inv.Probes) != len(want) {
		t.Fatalf("probes %+v", inv.Probes)
	}
	for i, w := range want {
		p := inv.Probes[i]
		if p.Name != w.Name || p.Module != w.Module || !slices.Equal(p.Targets, w.Targets) || p.Interval != w.Interval ||
			len(p.Labels) != len(w.Labels) || p.Labels["team"] != w.Labels["team"] || !isSet(p.DeclRange) {
			t.Errorf("probe %d = %+v, want %+v", i, p, w)
		}
	}
	if inv, _, _ := loadIn(t, monHost+"probe \"p\" {\n  targets = [\"https://x.example.com/\"]\n}\n"); inv == nil || inv.Probes[0].Interval != DefaultScrapeInterval {
		t.Errorf("interval default: %+v", inv)
	}

	mistakes := []struct{ name, src, want, pos string }{
		{"unknown module", "probe \"p\" {\n  module  = \"http2xx\"\n  targets = [\"https://x.example.com/\"]\n}\n", `"http2xx" is not a probe module. Did you mean "http_2xx"?`, "6:13"},
		{"module needed", "probe \"p\" {\n  targets = [\"https://x.example.com/\", \"10.0.0.9:22\"]\n}\n", `module defaults to "http_2xx" only when every target is an http:// or https:// URL`, "6:13"},
		{"no targets", "probe \"p\" {\n  module  = \"icmp\"\n  targets = []\n}\n", `probe "p": targets is empty`, "7:13"},
		{"targets missing", "probe \"p\" {\n  module = \"icmp\"\n}\n", `The argument "targets" is required`, "5:11"},
		{"tcp target without port", "probe \"p\" {\n  module  = \"tcp_connect\"\n  targets = [\"10.0.0.9:22\", \"10.0.0.9\"]\n}\n", `target "10.0.0.9" must be host:port for module "tcp_connect"`, "7:29"},
		{"icmp target with port", "probe \"p\" {\n  module  = \"icmp\"\n  targets = [\"10.0.0.9:22\"]\n}\n", `must be a host name or IP address without a port for module "icmp"`, "7:14"},
		{"icmp target is a URL", "probe \"p\" {\n  module  = \"icmp\"\n  targets = [\"https://x.example.com/\"]\n}\n", `for module "icmp"`, "7:14"},
		{"dns target is a URL", "probe \"p\" {\n  module  = \"dns\"\n  targets = [\"https://x.example.com/\"]\n}\n", `must be the resolver to ask`, "7:14"},
		{"http target not a URL", "probe \"p\" {\n  module  = \"http_2xx\"\n  targets = [\"ftp://x.example.com/\"]\n}\n", `must be an http:// or https:// URL`, "7:14"},
		{"http URL without host", "probe \"p\" {\n  targets = [\"https:///health\"]\n}\n", `it names no host`, "6:14"},
		{"target with a space", "probe \"p\" {\n  module  = \"tcp_connect\"\n  targets = [\"a b:1\"]\n}\n", `contains white space`, "7:14"},
		{"password hidden", "probe \"p\" {\n  module  = \"tcp_connect\"\n  targets = [\"https://u:hunter2@x.example.com/\"]\n}\n", `"https://u:xxxxx@x.example.com/" must be host:port`, "7:14"},
		{"duplicate target", "probe \"p\" {\n  targets = [\"https://x.example.com/\", \"https://x.example.com/\"]\n}\n", `target "https://x.example.com/" is already listed at`, "6:40"},
		{"duplicate name", "probe \"p\" {\n  targets = [\"https://x.example.com/\"]\n}\nprobe \"p\" {\n  targets = [\"https://y.example.com/\"]\n}\n", `probe "p" is already defined at`, "8:7"},
		{"bad name", "probe \"shop page\" {\n  targets = [\"https://x.example.com/\"]\n}\n", `probe name "shop page" must be`, "5:7"},
		{"interval not a duration", "probe \"p\" {\n  targets  = [\"https://x.example.com/\"]\n  interval = \"30\"\n}\n", `probe "p" interval: "30" is not a duration`, "7:14"},
		{"interval zero", "probe \"p\" {\n  targets  = [\"https://x.example.com/\"]\n  interval = \"0s\"\n}\n", `must be longer than zero`, "7:14"},
		{"bad label name", "probe \"p\" {\n  targets = [\"https://x.example.com/\"]\n  labels  = { \"team-a\" = \"x\" }\n}\n", `"team-a" is not a valid Prometheus label name`, "7:15"},
		{"reserved label instance", "probe \"p\" {\n  targets = [\"https://x.example.com/\"]\n  labels  = { instance = \"x\" }\n}\n", `"instance" is reserved`, "7:15"},
		{"reserved label probe", "probe \"p\" {\n  targets = [\"https://x.example.com/\"]\n  labels  = { probe = \"x\" }\n}\n", `obsbox sets probe to the probe's name`, "7:15"},
		{"unknown attribute", "probe \"p\" {\n  targets = [\"https://x.example.com/\"]\n  timeout = \"5s\"\n}\n", `An argument named "timeout" is not expected here`, "7:3"},
	}
	for _, tc := range mistakes {
		t.Run(tc.name, func(t *testing.T) {
			inv, diags, _ := loadIn(t, monHost+tc.src)
			if inv != nil {
				t.Fatalf("accepted:\n%s", tc.src)
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && diagPosString(d) == tc.pos && strings.Contains(d.Summary+"; "+d.Detail, tc.want) {
					return
				}
			}
			t.Errorf("want an error at %s containing %q, got:\n%s", tc.pos, tc.want, dumpDiags(diags))
		})
	}
}

// The inventory knows probes, not the program that runs them: that
// component is added in its own commit. Goldens are output, which lists the
// catalog's components.
func TestFinding12_InventoryNamesNoProbeRunner(t *testing.T) {
	filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".golden") {
			return err
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(bytes.ToLower(b), []byte("black"+"box")) {
			t.Errorf("%s names the probe runner", path)
		}
		return nil
	})
}
