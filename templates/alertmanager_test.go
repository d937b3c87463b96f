package templates

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/internal/golden"
)

func amCases() []struct {
	name string
	cfg  AlertmanagerConfig
} {
	return []struct {
		name string
		cfg  AlertmanagerConfig
	}{
		{"minimal", AlertmanagerConfig{}},
		{"full", AlertmanagerConfig{
			Receivers: []AlertmanagerReceiver{
				{Name: "oncall", PagerDuty: &AlertmanagerPagerDuty{RoutingKey: "0123456789abcdef0123456789abcdef", SendResolved: true}},
				{Name: "team", Slack: &AlertmanagerSlack{APIURL: "https://hooks.slack.com/services/T000/B000/XXXX", Channel: "#alerts", SendResolved: true}},
				{Name: "hook", Webhook: &AlertmanagerWebhook{URL: "http://10.0.0.9:5001/", SendResolved: true}},
				{Name: "mail", Email: &AlertmanagerEmail{To: "ops@example.com", From: "obsbox@example.com", Smarthost: "smtp.example.com:587",
					AuthUsername: "obsbox", AuthPassword: "mail-secret", RequireTLS: true}},
				{Name: "deadman", Webhook: &AlertmanagerWebhook{URL: "https://hc-ping.example.com/0b1c"}},
			},
			Routes: []AlertmanagerRoute{
				{Severity: "page", Receiver: "oncall", Continue: true},
				{Severity: "page", Receiver: "mail"},
				{Severity: "ticket", Receiver: "team"},
			},
			DefaultReceiver:  "hook",
			WatchdogReceiver: "deadman",
		}},
		{"hostile", AlertmanagerConfig{
			Receivers: []AlertmanagerReceiver{
				{Name: "on\"call\n'x' ü 🚨 \\", Slack: &AlertmanagerSlack{
					APIURL: "https://hooks.slack.com/services/T0/B0/x?y='1'&z=\"2\"#f", Channel: "#alerts {{ .Evil }}"}},
				{Name: "yes", Email: &AlertmanagerEmail{To: "\"Ops, Team\" <ops@example.com>", From: "obsbox+{{x}}@example.com",
					Smarthost: "[::1]:25", AuthUsername: "user: name", AuthPassword: "p'a\"ss\nword\\ #{{ .x }}"}},
				{Name: "null-ish: #", PagerDuty: &AlertmanagerPagerDuty{RoutingKey: "key with {{ braces }} and 'quotes'"}},
			},
			Routes: []AlertmanagerRoute{
				{Severity: "pa\"ge\\ x", Receiver: "on\"call\n'x' ü 🚨 \\"},
				{Severity: "ticket", Receiver: "yes"},
			},
			DefaultReceiver: "null-ish: #",
		}},
		{"short_times", AlertmanagerConfig{
			Receivers:        []AlertmanagerReceiver{{Name: "hook", Webhook: &AlertmanagerWebhook{URL: "http://127.0.0.1:5001/", SendResolved: true}}},
			Routes:           []AlertmanagerRoute{{Severity: "page", Receiver: "hook"}},
			WatchdogReceiver: "hook",
			GroupWait:        "1s",
			GroupInterval:    "2s",
			RepeatInterval:   "10s",
			WatchdogInterval: "5s",
		}},
	}
}

func TestAlertmanagerConfigGolden(t *testing.T) {
	for _, tc := range amCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderAlertmanagerConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "alertmanager", tc.name+".yml"), got)
		})
	}
}

func TestAlertmanagerConfigShape(t *testing.T) {
	got, err := RenderAlertmanagerConfig(AlertmanagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"route:\n  receiver: 'null'\n  group_by:\n    - 'alertname'\n    - 'instance'\n  group_wait: '30s'\n  group_interval: '5m'\n  repeat_interval: '4h'\n",
		// Watchdog is routed first, to a receiver that notifies no one, and stops there.
		"  routes:\n    - receiver: 'null'\n      matchers:\n        - 'alertname=\"Watchdog\"'\n      continue: false\n",
		"inhibit_rules:\n  - source_matchers:\n      - 'alertname=\"HostDown\"'\n    target_matchers:\n      - 'alertname!=\"HostDown\"'\n    equal:\n      - 'instance'\n",
		"receivers:\n  - name: 'null'\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("rendered config lacks\n%s\n--- in ---\n%s", want, got)
		}
	}
	if !bytes.HasSuffix(got, []byte("receivers:\n  - name: 'null'\n")) {
		t.Errorf("the null receiver has integrations:\n%s", got)
	}
}

// amRoutingCases: labels of an alert -> the receivers it must reach, in order.
var amRoutingCases = map[string][]struct {
	labels []string
	want   string
}{
	"minimal": {
		{[]string{"alertname=HostDown", "severity=page", "instance=web-1"}, "null"},
		{[]string{"alertname=Watchdog", "severity=none"}, "null"},
	},
	"full": {
		{[]string{"alertname=HostDown", "severity=page", "instance=web-1"}, "oncall,mail"},
		{[]string{"alertname=MemoryPressure", "severity=ticket", "instance=web-1"}, "team"},
		{[]string{"alertname=Custom", "severity=info"}, "hook"},
		{[]string{"alertname=Watchdog", "severity=none"}, "deadman"},
		{[]string{"alertname=Watchdog", "severity=page"}, "deadman"},
	},
	"hostile": {
		{[]string{"alertname=X", amMatcher("severity", "=", "pa\"ge\\ x")}, "on\"call\n'x' ü 🚨 \\"},
		{[]string{"alertname=X", "severity=ticket"}, "yes"},
		{[]string{"alertname=X", "severity=page"}, "null-ish: #"},
		{[]string{"alertname=Watchdog", "severity=none"}, "null"},
	},
	"short_times": {
		{[]string{"alertname=HostDown", "severity=page"}, "hook"},
		{[]string{"alertname=Watchdog", "severity=none"}, "hook"},
		{[]string{"alertname=Other", "severity=ticket"}, "hook"},
	},
}

// TestAlertmanagerAmtool has the real amtool check every rendered config and
// resolve alerts through its routing tree.
func TestAlertmanagerAmtool(t *testing.T) {
	tools := promTools(t, "OBSBOX_AMTOOL", "amtool")
	for _, tc := range amCases() {
		rendered, err := RenderAlertmanagerConfig(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "alertmanager.yml")
		promWrite(t, file, rendered)
		receivers := len(tc.cfg.Receivers)
		if !strings.Contains(string(rendered), "\n  - name: 'null'\n") {
			t.Fatalf("%s: no null receiver", tc.name)
		}
		receivers++
		for _, tool := range tools {
			t.Run(tc.name+"/"+filepath.Base(tool), func(t *testing.T) {
				out, err := promRun(t, dir, tool, "check-config", file)
				if err != nil {
					t.Fatalf("amtool check-config: %v\n%s", err, out)
				}
				for _, want := range []string{"SUCCESS", " - 1 inhibit rules\n", fmt.Sprintf(" - %d receivers\n", receivers)} {
					if !strings.Contains(out, want) {
						t.Errorf("amtool check-config output lacks %q:\n%s", want, out)
					}
				}
				cases := amRoutingCases[tc.name]
				if len(cases) == 0 {
					t.Fatalf("no routing cases for %s", tc.name)
				}
				for _, rc := range cases {
					args := append([]string{"config", "routes", "test", "--config.file=" + file}, rc.labels...)
					got, stderr, err := amStdout(tool, args...)
					if err != nil {
						t.Errorf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, got, stderr)
						continue
					}
					if got = strings.TrimSuffix(got, "\n"); got != rc.want {
						t.Errorf("alert %v reaches %q, want %q", rc.labels, got, rc.want)
					}
				}
			})
		}
	}
}

// amStdout runs a tool and returns stdout and stderr apart: amtool logs to stderr.
func amStdout(bin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestAlertmanagerTemplates renders the notification templates and the
// literal-keeping wrapper with Alertmanager's own template engine.
func TestAlertmanagerTemplates(t *testing.T) {
	tools := promTools(t, "OBSBOX_AMTOOL", "amtool")
	dir := t.TempDir()
	promWrite(t, filepath.Join(dir, "none.tmpl"), []byte(""))
	promWrite(t, filepath.Join(dir, "data.json"), []byte(`{
  "receiver": "team", "status": "firing", "externalURL": "http://mon-1:9093",
  "groupLabels": {"alertname": "FilesystemAlmostFull", "instance": "web-1"},
  "commonLabels": {"alertname": "FilesystemAlmostFull", "instance": "web-1", "severity": "page"},
  "commonAnnotations": {},
  "alerts": [
    {"status": "firing", "startsAt": "2024-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "labels": {"alertname": "FilesystemAlmostFull", "instance": "web-1", "severity": "page", "mountpoint": "/"},
     "annotations": {"summary": "Filesystem / on web-1 is almost full", "description": "/ has 4.0% left.",
                     "runbook_url": "https://runbooks.example.com/FilesystemAlmostFull.md"}},
    {"status": "resolved", "startsAt": "2024-01-01T00:00:00Z", "endsAt": "2024-01-01T01:00:00Z",
     "labels": {"alertname": "FilesystemAlmostFull", "instance": "web-1", "severity": "page", "mountpoint": "/var"},
     "annotations": {"summary": "Filesystem /var on web-1 is almost full", "description": "/var has 4.5% left."}}
  ]
}`))
	hostile := "#alerts {{ .Evil }} \"q\" \\ `b` }}{{"
	cases := []struct{ name, text, want string }{
		{"slack title", strings.TrimSpace(amSlackTitle), "[FIRING:1] FilesystemAlmostFull on web-1"},
		{"slack text", strings.TrimRight(amSlackText, "\n"),
			"*Filesystem / on web-1 is almost full* (page)\n/ has 4.0% left.\nRunbook: https://runbooks.example.com/FilesystemAlmostFull.md\n\n" +
				"*Resolved: Filesystem /var on web-1 is almost full* (page)\n/var has 4.5% left."},
		{"pagerduty severity", amPagerDutySeverity, "critical"},
		{"literal", amLiteral(hostile), hostile},
		{"plain literal", amLiteral("#alerts"), "#alerts"},
	}
	for _, tool := range tools {
		for _, tc := range cases {
			t.Run(filepath.Base(tool)+"/"+tc.name, func(t *testing.T) {
				got, stderr, err := amStdout(tool, "template", "render",
					"--template.glob="+filepath.Join(dir, "none.tmpl"),
					"--template.data="+filepath.Join(dir, "data.json"),
					"--template.text="+tc.text)
				if err != nil {
					t.Fatalf("amtool template render: %v\n%s%s", err, got, stderr)
				}
				if got = strings.TrimRight(got, "\n"); got != tc.want {
					t.Errorf("rendered\n%q\nwant\n%q", got, tc.want)
				}
			})
		}
	}
}

func TestAlertmanagerConfigErrors(t *testing.T) {
	hook := func(name string) AlertmanagerReceiver {
		return AlertmanagerReceiver{Name: name, Webhook: &AlertmanagerWebhook{URL: "http://10.0.0.9:5001/"}}
	}
	cases := []struct {
		name   string
		cfg    AlertmanagerConfig
		want   string
		secret string
	}{
		{"bad group_wait", AlertmanagerConfig{GroupWait: "30"}, `alertmanager group_wait: "30" is not a duration`, ""},
		{"zero repeat", AlertmanagerConfig{RepeatInterval: "0s"}, "repeat_interval: \"0s\": must be longer than zero", ""},
		{"bad watchdog interval", AlertmanagerConfig{WatchdogInterval: "often"}, "watchdog interval", ""},
		{"receiver without name", AlertmanagerConfig{Receivers: []AlertmanagerReceiver{hook("")}}, "receiver: empty name", ""},
		{"slack channel not UTF-8", AlertmanagerConfig{Receivers: []AlertmanagerReceiver{
			{Name: "s", Slack: &AlertmanagerSlack{APIURL: "https://hooks.slack.com/x", Channel: "#a\xff"}}}}, "alertmanager.yml: a value is not valid UTF-8", ""},
		{"email password alone", AlertmanagerConfig{Receivers: []AlertmanagerReceiver{
			{Name: "m", Email: &AlertmanagerEmail{To: "a@b", From: "c@d", Smarthost: "smtp:25", AuthPassword: "SECRET3"}}}}, "auth_password set without auth_username", "SECRET3"},
		{"unknown watchdog", AlertmanagerConfig{WatchdogReceiver: "dms"}, `Watchdog receiver "dms": no receiver has that name`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RenderAlertmanagerConfig(tc.cfg)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q leaks a secret", err)
			}
		})
	}
}

func TestAlertmanagerDefaultReceiver(t *testing.T) {
	got, err := RenderAlertmanagerConfig(AlertmanagerConfig{Receivers: []AlertmanagerReceiver{
		{Name: "first", Webhook: &AlertmanagerWebhook{URL: "http://a/"}},
		{Name: "second", Webhook: &AlertmanagerWebhook{URL: "http://b/"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "route:\n  receiver: 'first'\n") {
		t.Errorf("without a default receiver the first one should be the root's:\n%s", got)
	}
}

func TestAmMatcher(t *testing.T) {
	for _, tc := range []struct{ name, op, value, want string }{
		{"severity", "=", "page", `severity="page"`},
		{"alertname", "!=", "HostDown", `alertname!="HostDown"`},
		{"severity", "=", "a\"b\\c\nd", `severity="a\"b\\c\nd"`},
	} {
		if got := amMatcher(tc.name, tc.op, tc.value); got != tc.want {
			t.Errorf("amMatcher(%q, %q, %q) = %s, want %s", tc.name, tc.op, tc.value, got, tc.want)
		}
	}
}
