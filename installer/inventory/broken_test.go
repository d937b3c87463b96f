package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/internal/golden"
)

func TestBrokenInventoryReportsEverything(t *testing.T) {
	const path = "testdata/broken.hcl"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inv, diags := LoadSource(path, src)
	if inv != nil {
		t.Fatal("a broken inventory must not load")
	}
	var out bytes.Buffer
	WriteDiagnostics(&out, diags, map[string][]byte{path: src})
	text := out.String()

	want := []struct{ at, msg, line string }{
		{"4:9", "ssh port is 0", "port = 0 # out of range"},
		{"8:16", `prometheus version "2.53"`, `prometheus = "2.53"`},
		{"9:3", `"grafna" is not a component obsbox installs. Did you mean "grafana"?`, `grafna     = "11.2.2"`},
		{"14:28", `"alertmanger" is not a role. Did you mean "alertmanager"?`, `roles   = ["prometheus", "alertmanger"]`},
		{"15:29", `"instance" is reserved`, `labels  = { env = "prod", instance = "x" }`},
		{"18:6", `host name "Web_1" must look like a DNS label`, `host "Web_1" {`},
		{"19:13", `host "Web_1" has address "10.0.0.5", like host "mon-1"`, `address = "10.0.0.5"`},
		{"22:6", `host "mon-1" is already defined at testdata/broken.hcl:12:6`, `host "mon-1" {`},
		{"24:3", `An argument named "colour" is not expected here`, `colour  = "blue"`},
		{"28:21", `"30 days" is not a duration`, `retention       = "30 days"`},
		{"30:22", `"rules/*.yml" matches no file`, `rule_files      = ["rules/*.yml"]`},
		{"34:3", `receiver "team" needs exactly one of`, `receiver "team" {`},
		{"37:16", `route severity "urgent" must be one of`, `severity = "urgent"`},
		{"38:16", `route names receiver "oncall", which is not defined`, `receiver = "oncall"`},
		{"43:10", `grafana port: a number is required`, `port = "three thousand"`},
		{"47:27", `rules.disable names "DiskFull"`, `disable = ["ClockSkew", "DiskFull"]`},
	}
	for _, w := range want {
		header := path + ":" + w.at + ": "
		i := strings.Index(text, header)
		if i < 0 {
			t.Errorf("no diagnostic at %s; output:\n%s", w.at, text)
			continue
		}
		block := strings.SplitN(text[i:], "\n", 4)
		if !strings.Contains(block[0], w.msg) {
			t.Errorf("diagnostic at %s: want %q in %q", w.at, w.msg, block[0])
		}
		if len(block) < 3 || !strings.Contains(block[1], w.line) || !strings.Contains(block[2], "^") {
			t.Errorf("diagnostic at %s: want the source line %q and a caret line under it, got %q", w.at, w.line, block[1:])
		}
	}
	if n := strings.Count(text, ": error: "); n < len(want)-1 {
		t.Errorf("want at least %d errors, got %d", len(want)-1, n)
	}
	golden.Check(t, filepath.Join("testdata", "broken.golden"), out.Bytes())
}
