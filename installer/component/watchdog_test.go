package component

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/inventory"
	"go.yaml.in/yaml/v3"
)

const watchdogInv = `
host "mon-1" {
  address = "10.0.0.5"
  roles   = ["prometheus", "alertmanager"]
}
alertmanager {
  receiver "team" {
    webhook { url = "http://10.0.0.9:5001/" }
  }
  receiver "deadman" {
    webhook { url = "http://10.0.0.9:5002/" }
  }
  default_receiver  = "team"
  watchdog_receiver = "deadman"
  watchdog_interval = "1m"
}
`

// watchdog_receiver sends Watchdog, every watchdog_interval, to that receiver:
// a dead man's switch outside the stack pages when it stops arriving.
func TestWatchdogReceiverRoutesWatchdog(t *testing.T) {
	for _, tc := range []struct {
		name, src, receiver, interval string
	}{
		{"named", watchdogInv, "deadman", "1m"},
		{"default interval", strings.Replace(watchdogInv, `  watchdog_interval = "1m"`+"\n", "", 1), "deadman", inventory.DefaultWatchdogInterval},
		{"nowhere by default", strings.Replace(strings.Replace(watchdogInv, `  watchdog_receiver = "deadman"`+"\n", "", 1), `  watchdog_interval = "1m"`+"\n", "", 1), "null", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := loadProbeInv(t, tc.src)
			spec, err := Alertmanager{}.Spec(&Context{Inv: inv, Host: inv.Host("mon-1"), Version: "0.27.0"})
			if err != nil {
				t.Fatal(err)
			}
			var conf struct {
				Route struct {
					Routes []struct {
						Receiver       string   `yaml:"receiver"`
						Matchers       []string `yaml:"matchers"`
						RepeatInterval string   `yaml:"repeat_interval"`
					} `yaml:"routes"`
				} `yaml:"route"`
			}
			for _, f := range spec.Files {
				if filepath.Base(f.Path) == "alertmanager.yml" {
					if err := yaml.Unmarshal(f.Content, &conf); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(conf.Route.Routes) == 0 || !strings.Contains(strings.Join(conf.Route.Routes[0].Matchers, ","), "Watchdog") {
				t.Fatalf("the first route is not Watchdog's: %+v", conf.Route.Routes)
			}
			r := conf.Route.Routes[0]
			if r.Receiver != tc.receiver || r.RepeatInterval != tc.interval {
				t.Errorf("Watchdog goes to %q every %q, want %q every %q", r.Receiver, r.RepeatInterval, tc.receiver, tc.interval)
			}
		})
	}
}

func TestWatchdogReceiverMustExist(t *testing.T) {
	src := strings.Replace(watchdogInv, `watchdog_receiver = "deadman"`, `watchdog_receiver = "deadmen"`, 1)
	src = strings.Replace(src, `watchdog_interval = "1m"`, `watchdog_interval = "soon"`, 1)
	_, diags := inventory.LoadSource(filepath.Join(t.TempDir(), "obsbox.hcl"), []byte(src))
	var msg string
	for _, d := range diags {
		msg += d.Summary + ": " + d.Detail + "\n"
	}
	for _, want := range []string{`watchdog_receiver names "deadmen", which is not defined`, "deadman", "watchdog_interval"} {
		if !strings.Contains(msg, want) {
			t.Errorf("diagnostics do not say %q:\n%s", want, msg)
		}
	}
}
