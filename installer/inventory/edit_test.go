package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/internal/golden"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var dbHost = NewHost{
	Name:    "db-1",
	Address: "10.0.2.1",
	Roles:   []string{"grafana"},
	Labels:  map[string]string{"team": "data", "env": "prod \"eu\""},
	User:    "ubuntu",
}

func TestEditGolden(t *testing.T) {
	commented := readTestdata(t, "edit/commented.hcl")
	nohosts := readTestdata(t, "edit/nohosts.hcl")
	tests := []struct {
		golden string
		edit   func() ([]byte, error)
	}{
		{"edit/add_host.golden", func() ([]byte, error) { return AddHost(commented, dbHost) }},
		{"edit/add_host_minimal.golden", func() ([]byte, error) {
			return AddHost(commented, NewHost{Name: "web-3", Address: "web-3.example.com"})
		}},
		{"edit/add_host_nohosts.golden", func() ([]byte, error) { return AddHost(nohosts, dbHost) }},
		{"edit/remove_host_middle.golden", func() ([]byte, error) { return RemoveHost(commented, "web-1") }},
		{"edit/remove_host_first.golden", func() ([]byte, error) { return RemoveHost(commented, "mon-1") }},
		{"edit/set_versions.golden", func() ([]byte, error) {
			return SetVersions(commented, map[string]string{"prometheus": "2.54.1", "node_exporter": "1.8.2", "alertmanager": "0.27.0"})
		}},
		{"edit/set_versions_create.golden", func() ([]byte, error) {
			return SetVersions(nohosts, map[string]string{"grafana": "11.3.0", "prometheus": "2.54.1"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := tc.edit()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), got)
			if _, diags := parse(got, "edited"); diags.HasErrors() {
				t.Errorf("edited file does not parse: %s", diags.Error())
			}
		})
	}
}

// TestAddThenRemoveHost checks that RemoveHost undoes AddHost byte for byte.
func TestAddThenRemoveHost(t *testing.T) {
	inputs := map[string][]byte{
		"commented":          readTestdata(t, "edit/commented.hcl"),
		"no hosts":           readTestdata(t, "edit/nohosts.hcl"),
		"spec":               readTestdata(t, "spec.hcl"),
		"example":            ExampleInventory(),
		"empty":              nil,
		"one newline":        []byte("\n"),
		"no final newline":   []byte("host \"a\" {\n  address = \"x\"\n}"),
		"no hosts no final":  []byte("grafana {\n}"),
		"crlf":               []byte("host \"a\" {\r\n  address = \"x\"\r\n}\r\n\r\ngrafana {\r\n}\r\n"),
		"hosts packed":       []byte("host \"a\" { address = \"x\" }\nhost \"b\" { address = \"y\" }\ngrafana {\n}\n"),
		"trailing blanks":    []byte("host \"a\" {\n  address = \"x\"\n}\n\n\n"),
		"comment after host": []byte("host \"a\" {\n  address = \"x\"\n}\n# the end\n"),
	}
	for name, src := range inputs {
		t.Run(name, func(t *testing.T) {
			added, err := AddHost(src, dbHost)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(added, []byte(`host "db-1" {`)) {
				t.Fatalf("no host block added:\n%s", added)
			}
			if bytes.Contains(src, []byte("\r\n")) && bytes.Count(added, []byte("\n")) != bytes.Count(added, []byte("\r\n")) {
				t.Errorf("CRLF file got LF lines:\n%q", added)
			}
			back, err := RemoveHost(added, "db-1")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, src) {
				t.Errorf("AddHost then RemoveHost changed the file:\n--- got:\n%q\n--- want:\n%q", back, src)
			}
		})
	}
}

func TestAddedHostLoads(t *testing.T) {
	fakeHome(t)
	added, err := AddHost([]byte(monHost), dbHost)
	if err != nil {
		t.Fatal(err)
	}
	inv, diags := LoadSource("obsbox.hcl", added)
	if inv == nil {
		t.Fatalf("\n%s", dumpDiags(diags))
	}
	h := inv.Host("db-1")
	if h == nil || h.Address != "10.0.2.1" || !h.HasRole(catalog.Grafana) || h.Labels["env"] != `prod "eu"` || h.Labels["team"] != "data" || h.SSH.User != "ubuntu" {
		t.Errorf("added host: %+v", h)
	}
}

func TestSetVersionsLoads(t *testing.T) {
	fakeHome(t)
	src := []byte(monHost + "versions { prometheus = \"2.53.2\" } # compact\n")
	out, err := SetVersions(src, map[string]string{"prometheus": "2.54.1", "grafana": "11.3.0-beta.1"})
	if err != nil {
		t.Fatal(err)
	}
	inv, diags := LoadSource("obsbox.hcl", out)
	if inv == nil {
		t.Fatalf("%s\n%s", out, dumpDiags(diags))
	}
	if inv.Versions["prometheus"] != "2.54.1" || inv.Versions["grafana"] != "11.3.0-beta.1" || !bytes.HasSuffix(out, []byte("} # compact\n")) {
		t.Errorf("versions %v from:\n%s", inv.Versions, out)
	}
	same, err := SetVersions(out, map[string]string{"prometheus": "2.54.1"})
	if err != nil || !bytes.Equal(same, out) {
		t.Errorf("setting the same version changed the file: %v\n%s", err, same)
	}
}

func TestEditErrors(t *testing.T) {
	commented := readTestdata(t, "edit/commented.hcl")
	tests := []struct {
		name string
		run  func() ([]byte, error)
		want string
	}{
		{"add existing host", func() ([]byte, error) { return AddHost(commented, NewHost{Name: "web-1", Address: "10.9.9.9"}) }, `host "web-1" is already in the inventory (line 22)`},
		{"add bad name", func() ([]byte, error) { return AddHost(commented, NewHost{Name: "Web_9", Address: "10.9.9.9"}) }, "must look like a DNS label"},
		{"add bad role", func() ([]byte, error) {
			return AddHost(commented, NewHost{Name: "web-9", Address: "10.9.9.9", Roles: []string{"db"}})
		}, `"db" is not a role`},
		{"add no address", func() ([]byte, error) { return AddHost(commented, NewHost{Name: "web-9"}) }, "address"},
		{"add reserved label", func() ([]byte, error) {
			return AddHost(commented, NewHost{Name: "web-9", Address: "x", Labels: map[string]string{"job": "x"}})
		}, `"job" is reserved`},
		{"remove unknown", func() ([]byte, error) { return RemoveHost(commented, "web-9") }, `there is no host "web-9"`},
		{"unknown component", func() ([]byte, error) { return SetVersions(commented, map[string]string{"loki": "3.0.0"}) }, `unknown component "loki"`},
		{"bad version", func() ([]byte, error) { return SetVersions(commented, map[string]string{"grafana": "latest"}) }, `grafana version "latest"`},
		{"broken file", func() ([]byte, error) { return AddHost([]byte("host {"), dbHost) }, "does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error containing %q, got %v", tc.want, err)
			}
			if out != nil {
				t.Errorf("a failed edit returned content")
			}
		})
	}
}
