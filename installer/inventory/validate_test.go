package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// monHost is a valid first host; snippets in the cases below start on line 5.
const monHost = `host "mon-1" {
  address = "10.0.0.1"
  roles   = ["prometheus", "alertmanager", "grafana"]
}
`

// loadIn loads src as dir/obsbox.hcl, dir a fresh temporary folder.
func loadIn(t *testing.T, src string) (*Inventory, hcl.Diagnostics, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "obsbox.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := Load(path)
	return inv, diags, path
}

func diagText(d *hcl.Diagnostic) string { return d.Summary + "; " + d.Detail }

func diagPosString(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "-"
	}
	return fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
}

func dumpDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "  %s %s: %s\n", diagPosString(d), severityName(d.Severity), diagText(d))
	}
	return b.String()
}

func TestValidationMistakes(t *testing.T) {
	t.Setenv("OBSBOX_TEST_SET", "x")
	os.Unsetenv("OBSBOX_TEST_UNSET")

	tests := []struct {
		name    string
		src     string // monHost is prepended unless noBase
		noBase  bool
		warning bool
		want    string // substring of summary; detail
		pos     string // line:col of the subject
	}{
		{name: "unknown block", src: "hots \"web-1\" {\n}\n", want: `Did you mean "host"?`, pos: "5:1"},
		{name: "unknown top-level attribute", src: "retention = \"15d\"\n", want: `An argument named "retention" is not expected here`, pos: "5:1"},
		{name: "unknown attribute with suggestion", src: "host \"web-1\" {\n  adress = \"10.0.0.2\"\n}\n", want: `Did you mean "address"?`, pos: "6:3"},
		{name: "unknown nested block", src: "prometheus {\n  scrap \"app\" {\n  }\n}\n", want: `Did you mean "scrape"?`, pos: "6:3"},
		{name: "missing required attribute", src: "host \"web-1\" {\n  roles = []\n}\n", want: `The argument "address" is required`, pos: "5:14"},
		{name: "wrong type number", src: "prometheus {\n  port = \"http\"\n}\n", want: "prometheus port: a number is required", pos: "6:10"},
		{name: "wrong type list", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  roles = \"grafana\"\n}\n", want: `host "web-1" roles: list of string required`, pos: "7:11"},
		{name: "wrong type bool", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  node_exporter = \"nope\"\n}\n", want: `host "web-1" node_exporter: a bool is required`, pos: "7:19"},
		{name: "duplicate singleton block", src: "grafana {\n}\ngrafana {\n}\n", want: "Duplicate grafana block", pos: "7:1"},
		{name: "duplicate host name", src: "host \"mon-1\" {\n  address = \"10.0.0.2\"\n}\n", want: `host "mon-1" is already defined at`, pos: "5:6"},
		{name: "duplicate address", src: "host \"web-1\" {\n  address = \"10.0.0.1\"\n}\n", want: `like host "mon-1"`, pos: "6:13"},
		{name: "unknown role", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  roles   = [\"grafana\", \"prometeus\"]\n}\n", want: `"prometeus" is not a role. Did you mean "prometheus"?`, pos: "7:25"},
		{name: "node_exporter as role", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  roles   = [\"node_exporter\"]\n}\n", want: "node_exporter runs on every host", pos: "7:14"},
		{name: "no prometheus host", noBase: true, src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  roles   = [\"grafana\"]\n}\n", want: `no host has the "prometheus" role`, pos: "3:13"},
		{name: "no hosts at all", noBase: true, src: "grafana {\n}\n", want: `no host has the "prometheus" role`, pos: "1:1"},
		{name: "route to unknown receiver", src: "alertmanager {\n  receiver \"team\" {\n    webhook {\n      url = \"http://10.0.0.9:5001/\"\n    }\n  }\n  route {\n    severity = \"page\"\n    receiver = \"teem\"\n  }\n}\n", want: `receiver "teem", which is not defined. Did you mean "team"?`, pos: "13:16"},
		{name: "default_receiver unknown", src: "alertmanager {\n  default_receiver = \"oncall\"\n}\n", want: `default_receiver names "oncall", which is not defined`, pos: "6:22"},
		{name: "receiver without kind", src: "alertmanager {\n  receiver \"team\" {\n  }\n}\n", want: `receiver "team" needs exactly one of`, pos: "6:3"},
		{name: "receiver with two kinds", src: "alertmanager {\n  receiver \"team\" {\n    webhook {\n      url = \"http://10.0.0.9/\"\n    }\n    email {\n      to        = \"a@example.com\"\n      from      = \"b@example.com\"\n      smarthost = \"smtp.example.com:587\"\n    }\n  }\n}\n", want: `has webhook and email`, pos: "6:3"},
		{name: "bad duration", src: "prometheus {\n  retention = \"30days\"\n}\n", want: `"30days" is not a duration`, pos: "6:15"},
		{name: "duration units out of order", src: "prometheus {\n  scrape_interval = \"30s1m\"\n}\n", want: `"30s1m" is not a duration`, pos: "6:21"},
		{name: "zero scrape interval", src: "prometheus {\n  scrape_interval = \"0s\"\n}\n", want: "must be longer than zero", pos: "6:21"},
		{name: "bad rule for", src: "rules {\n  rule \"HostDown\" {\n    for = \"1 minute\"\n  }\n}\n", want: `"1 minute" is not a duration`, pos: "7:11"},
		{name: "port too big", src: "grafana {\n  port = 70000\n}\n", want: "grafana port is 70000", pos: "6:10"},
		{name: "port zero", src: "ssh {\n  port = 0\n}\n", want: "ssh port is 0", pos: "6:10"},
		{name: "host ssh port", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  ssh {\n    port = 65536\n  }\n}\n", want: `host "web-1" ssh port is 65536`, pos: "8:12"},
		{name: "cluster port", src: "alertmanager {\n  cluster_port = -1\n}\n", want: "cluster_port is -1", pos: "6:18"},
		{name: "version not semver", src: "versions {\n  prometheus = \"2.53\"\n}\n", want: `prometheus version "2.53" is not of the form MAJOR.MINOR.PATCH`, pos: "6:16"},
		{name: "version with v", src: "versions {\n  grafana = \"v11.2.2\"\n}\n", want: `Drop the leading "v"`, pos: "6:13"},
		{name: "unknown component", src: "versions {\n  prometeus = \"2.53.2\"\n}\n", want: `"prometeus" is not a component obsbox installs. Did you mean "prometheus"?`, pos: "6:3"},
		{name: "missing private key", src: "ssh {\n  private_key = \"keys/nope\"\n}\n", want: "Private key file not found", pos: "6:17"},
		{name: "missing host private key", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  ssh {\n    private_key = \"./missing_key\"\n  }\n}\n", want: `host "web-1" ssh.private_key "./missing_key"`, pos: "8:19"},
		{name: "unknown rule in disable", src: "rules {\n  disable = [\"HostDown\", \"ClockSkw\"]\n}\n", want: `"ClockSkw", which is not a built-in rule. Did you mean "ClockSkew"?`, pos: "6:26"},
		{name: "unknown rule block", src: "rules {\n  rule \"DiskFull\" {\n    for = \"5m\"\n  }\n}\n", want: `rule "DiskFull" is not a built-in rule`, pos: "6:8"},
		{name: "bad rule severity", src: "rules {\n  rule \"HostDown\" {\n    severity = \"critical\"\n  }\n}\n", want: `severity "critical" must be one of "page", "ticket", "none"`, pos: "7:16"},
		{name: "bad route severity", src: "alertmanager {\n  receiver \"team\" {\n    webhook {\n      url = \"http://10.0.0.9/\"\n    }\n  }\n  route {\n    severity = \"tiket\"\n    receiver = \"team\"\n  }\n}\n", want: `Did you mean "ticket"?`, pos: "12:16"},
		{name: "invalid label name", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  labels  = { env = \"prod\", \"9lives\" = \"x\" }\n}\n", want: `"9lives" is not a valid Prometheus label name`, pos: "7:29"},
		{name: "reserved label instance", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  labels  = { instance = \"x\" }\n}\n", want: `"instance" is reserved`, pos: "7:15"},
		{name: "reserved label job in scrape", src: "prometheus {\n  scrape \"app\" {\n    targets = [\"10.0.0.3:8080\"]\n    labels  = { job = \"x\" }\n  }\n}\n", want: `"job" is reserved`, pos: "8:17"},
		{name: "reserved label double underscore", src: "host \"web-1\" {\n  address = \"10.0.0.2\"\n  labels  = { __meta = \"x\" }\n}\n", want: `"__meta" is reserved`, pos: "7:15"},
		{name: "host name not a DNS label", src: "host \"Web_1\" {\n  address = \"10.0.0.2\"\n}\n", want: `host name "Web_1" must look like a DNS label`, pos: "5:6"},
		{name: "host name too long", src: "host \"" + strings.Repeat("a", 64) + "\" {\n  address = \"10.0.0.2\"\n}\n", want: "must look like a DNS label", pos: "5:6"},
		{name: "rule_files match nothing", warning: true, src: "prometheus {\n  rule_files = [\"rules/*.yml\"]\n}\n", want: `"rules/*.yml" matches no file`, pos: "6:17"},
		{name: "env unset", src: "grafana {\n  admin_password = env(\"OBSBOX_TEST_UNSET\")\n}\n", want: "environment variable OBSBOX_TEST_UNSET is not set", pos: "6:20"},
		{name: "env too many arguments", src: "grafana {\n  admin_password = env(\"A\", \"b\", \"c\")\n}\n", want: "at most one default", pos: "6:20"},
		{name: "file unreadable", src: "grafana {\n  admin_password = file(\"secrets/grafana\")\n}\n", want: "no such file or directory", pos: "6:20"},
		{name: "file not regular", src: "grafana {\n  admin_password = file(\"/dev/null\")\n}\n", want: "/dev/null is not a regular file", pos: "6:20"},
		{name: "unknown function", src: "grafana {\n  admin_password = envv(\"X\")\n}\n", want: `There is no function named "envv"`, pos: "6:20"},
		{name: "port conflict", src: "grafana {\n  port = 9090\n}\n", want: `prometheus and grafana would both listen on port 9090 on host "mon-1"`, pos: "6:10"},
		{name: "scrape target without port", src: "prometheus {\n  scrape \"app\" {\n    targets = [\"10.0.0.3\"]\n  }\n}\n", want: `target "10.0.0.3" must be host:port`, pos: "7:16"},
		{name: "scrape job reserved", src: "prometheus {\n  scrape \"node\" {\n    targets = [\"10.0.0.3:9100\"]\n  }\n}\n", want: `obsbox defines the job "node" itself`, pos: "6:10"},
		{name: "webhook url not http", src: "alertmanager {\n  receiver \"hook\" {\n    webhook {\n      url = \"10.0.0.9:5001\"\n    }\n  }\n}\n", want: "it must be a URL starting with http:// or https://", pos: "8:13"},
		{name: "empty routing key", src: "alertmanager {\n  receiver \"pd\" {\n    pagerduty {\n      routing_key = env(\"OBSBOX_TEST_UNSET\", \"\")\n    }\n  }\n}\n", want: "routing_key is empty", pos: "8:21"},
		{name: "bad bastion", src: "ssh {\n  bastion = \"jump.example.com:99999\"\n}\n", want: "bastion", pos: "6:13"},
		{name: "several attributes on one line", noBase: true, src: "grafana { port = 1 admin_user = }\n", want: "write one attribute per line", pos: "1:20"},
		{name: "syntax error", src: "host \"web-1\" {\n  address = \"10.0.0.2\n}\n", want: "Unclosed quote; This string is not closed on its line", pos: "6:13"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if !tc.noBase {
				src = monHost + src
			}
			inv, diags, _ := loadIn(t, src)
			sev := hcl.DiagError
			if tc.warning {
				sev = hcl.DiagWarning
			}
			for _, d := range diags {
				if d.Severity == sev && strings.Contains(diagText(d), tc.want) && diagPosString(d) == tc.pos {
					if tc.warning && (inv == nil || diags.HasErrors()) {
						t.Fatalf("a warning alone must not fail the inventory:\n%s", dumpDiags(diags))
					}
					if !tc.warning && inv != nil {
						t.Fatalf("an error must give a nil inventory")
					}
					return
				}
			}
			t.Fatalf("want a %s at %s containing %q; got:\n%s", severityName(sev), tc.pos, tc.want, dumpDiags(diags))
		})
	}
}

// A rule file's name reaches root's shell on the Prometheus host (finding 1 of
// issue 11: "cpu$(touch /PWNED).yml" ran as root): names outside a safe set are
// refused at the rule_files element, naming the file.
func TestFinding1_UnsafeRuleFileNames(t *testing.T) {
	tests := []struct {
		name string // the rule file's name in rules/
		want string // "" when the name is fine
	}{
		{name: "cpu.yml"},
		{name: "team-a_disk.v2.yml"},
		{name: "_private.yml"},
		{name: "cpu$(touch PWNED).yml", want: `contains "$"`},
		{name: "cpu$(cd;cd ..;cd ..;touch PWNED).yml", want: `contains "$"`},
		{name: "cpu`id`.yml", want: "contains \"`\""},
		{name: "it's.yml", want: `contains "'"`},
		{name: "two words.yml", want: `contains " "`},
		{name: "new\nline.yml", want: `contains "\n"`},
		{name: "-rf.yml", want: `starts with "-"`},
		{name: ".hidden.yml", want: `starts with "."`},
		{name: "semi;colon.yml", want: `contains ";"`},
		{name: "ünïcode.yml", want: `contains "ü"`},
		{name: strings.Repeat("a", MaxHostFileName+1), want: "is longer than"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.name, "/", "_"), func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "rules"), 0o755)
			if err := os.WriteFile(filepath.Join(dir, "rules", tc.name), []byte("groups: []\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			src := monHost + "prometheus {\n  rule_files = [\"rules/nothing-*.yml\", \"rules/*\"]\n}\n"
			inv, diags := LoadSource(filepath.Join(dir, "obsbox.hcl"), []byte(src))
			if tc.want == "" {
				if inv == nil || diags.HasErrors() {
					t.Fatalf("a safe name must load:\n%s", dumpDiags(diags))
				}
				return
			}
			if inv != nil {
				t.Fatal("an unsafe rule file name must give a nil inventory")
			}
			for _, d := range diags {
				// At the second element: the pattern that matched the file.
				if d.Severity == hcl.DiagError && d.Summary == "Unsafe rule file name" && diagPosString(d) == "6:40" &&
					strings.Contains(d.Detail, strconv.Quote(filepath.Join("rules", tc.name))) && strings.Contains(d.Detail, tc.want) &&
					(strings.HasPrefix(tc.want, "is longer") || strings.Contains(d.Detail, "only letters A-Z and a-z, digits, '.', '_' and '-' are allowed")) {
					return
				}
			}
			t.Fatalf("want an error at 6:40 naming %q and saying %q; got:\n%s", tc.name, tc.want, dumpDiags(diags))
		})
	}
}

// Finding 9 of issue 11: a private key others may read was used. validate
// refuses it as ssh does, at the private_key value, naming the file and mode.
func TestFinding9_UnprotectedPrivateKey(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "deploy_key")
			os.WriteFile(key, []byte("key"), 0o600)
			os.Chmod(key, mode)
			src := monHost + "host \"web-1\" {\n  address = \"10.0.0.2\"\n  ssh {\n    private_key = \"deploy_key\"\n  }\n}\n"
			inv, diags := LoadSource(filepath.Join(dir, "obsbox.hcl"), []byte(src))
			if inv != nil {
				t.Fatal("a key others may read must fail the inventory")
			}
			for _, d := range diags {
				if d.Summary == "Unprotected private key file" && diagPosString(d) == "8:19" &&
					strings.Contains(d.Detail, key) && strings.Contains(d.Detail, fmt.Sprintf("permissions %04o", mode)) && strings.Contains(d.Detail, "chmod 600") {
					return
				}
			}
			t.Fatalf("want an error at 8:19 naming %s and its mode; got:\n%s", key, dumpDiags(diags))
		})
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "deploy_key"), []byte("key"), 0o600)
	src := monHost + "ssh {\n  private_key = \"deploy_key\"\n}\n"
	if inv, diags := LoadSource(filepath.Join(dir, "obsbox.hcl"), []byte(src)); inv == nil {
		t.Fatalf("a 0600 key must load:\n%s", dumpDiags(diags))
	}
}

// Finding 15 of issue 11: a key written twice in a map was accepted silently
// (the last won). It is an error at the second key, pointing at the first.
func TestFinding15_DuplicateMapKey(t *testing.T) {
	tests := []struct{ name, src, pos, first string }{
		{"host labels", "host \"web-1\" {\n  address = \"10.0.0.2\"\n  labels  = { team = \"a\", team = \"b\" }\n}\n", "7:27", "7:15"},
		{"quoted and bare", "host \"web-1\" {\n  address = \"10.0.0.2\"\n  labels  = {\n    team = \"a\"\n    \"team\" = \"b\"\n  }\n}\n", "9:5", "8:5"},
		{"scrape labels", "prometheus {\n  scrape \"app\" {\n    targets = [\"10.0.0.3:8080\"]\n    labels  = { env = \"a\", tier = \"x\", env = \"b\" }\n  }\n}\n", "8:40", "8:17"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, diags, path := loadIn(t, monHost+tc.src)
			if inv != nil {
				t.Fatal("a duplicate key must fail the inventory")
			}
			for _, d := range diags {
				if d.Summary == "Duplicate key" && diagPosString(d) == tc.pos && strings.Contains(d.Detail, "is already set at "+path+":"+tc.first) {
					return
				}
			}
			t.Fatalf("want a Duplicate key error at %s pointing at %s; got:\n%s", tc.pos, tc.first, dumpDiags(diags))
		})
	}
	if inv, diags, _ := loadIn(t, monHost+"host \"web-1\" {\n  address = \"10.0.0.2\"\n  labels  = { team = \"a\", tier = \"b\" }\n}\n"); inv == nil {
		t.Fatalf("distinct keys must load:\n%s", dumpDiags(diags))
	}
}

// Finding 15 of issue 11: one unclosed quote gave 18 follow-on errors after
// the right first one. Errors that follow from an earlier one are dropped;
// independent ones stay.
func TestFinding15_NoSyntaxErrorCascade(t *testing.T) {
	unclosed := `ssh {
  user = "root"
}
host "mon-1" {
  address = "10.0.0.1
  roles   = ["prometheus", "alertmanager", "grafana"]
  labels  = { team = "a", env = "prod" }
}
host "web-1" {
  address = "10.0.0.2"
  labels  = { team = "b" }
}
host "web-2" {
  address = "10.0.0.3"
}
prometheus {
  retention       = "15d"
  scrape_interval = "15s"
  rule_files      = ["rules/*.yml"]
}
alertmanager {
  receiver "team" {
    webhook { url = "http://10.0.0.9:5001/" }
  }
}
grafana {
  port = 3000
}
`
	_, diags, path := loadIn(t, unclosed)
	if len(diags) != 1 {
		t.Fatalf("want the one right error, got %d:\n%s", len(diags), dumpDiags(diags))
	}
	d := diags[0]
	if d.Summary != "Unclosed quote" || diagPosString(d) != "5:13" {
		t.Errorf("want Unclosed quote at the opening quote 5:13, got:\n%s", dumpDiags(diags))
	}
	var out strings.Builder
	WriteDiagnostics(&out, diags, map[string][]byte{path: []byte(unclosed)})
	if want := path + ":5:13: error: Unclosed quote; This string is not closed on its line: add the closing \"."; !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "\n    address = \"10.0.0.1\n              ^\n") {
		t.Errorf("printed:\n%s", out.String())
	}

	// Two mistakes in two places are both reported, each once.
	two := monHost + "grafana {\n  port = = 3\n}\nprometheus {\n  retention = \"15d\" x\n}\n"
	_, diags, _ = loadIn(t, two)
	var at []string
	for _, d := range diags {
		at = append(at, diagPosString(d))
	}
	if len(diags) != 2 || at[0] != "6:10" || at[1] != "9:21" {
		t.Errorf("want one error at 6:10 and one at 9:21, got:\n%s", dumpDiags(diags))
	}
}

// A connect_timeout that is no positive duration is named with its place.
func TestConnectTimeoutInvalid(t *testing.T) {
	for _, v := range []string{"0s", "soon", "-1s"} {
		_, diags, _ := loadIn(t, "ssh {\n  connect_timeout = \""+v+"\"\n}\n"+monHost)
		found := false
		for _, d := range diags {
			if d.Summary == "Invalid connect_timeout" && diagPosString(d) == "2:21" {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: no diagnostic at 2:21: %v", v, diags)
		}
	}
}
