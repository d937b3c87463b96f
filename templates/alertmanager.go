package templates

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/obsbox/obsbox/installer/duration"
)

// AlertmanagerNullReceiver is the receiver without integrations: alerts routed
// to it notify no one. Watchdog goes there unless a receiver is named for it.
const AlertmanagerNullReceiver = "null"

// AlertmanagerConfig is what alertmanager.yml is rendered from. Secrets (URLs,
// keys, passwords) are plain strings here: this is the file that holds them.
type AlertmanagerConfig struct {
	Receivers        []AlertmanagerReceiver
	Routes           []AlertmanagerRoute // tried in order after the Watchdog route
	DefaultReceiver  string              // "" = the first receiver, or the null receiver when there is none
	WatchdogReceiver string              // "" = the null receiver, so Watchdog never notifies

	GroupWait        string // default 30s
	GroupInterval    string // default 5m
	RepeatInterval   string // default 4h
	WatchdogInterval string // how often Watchdog is re-sent to its receiver; default 5m
}

// AlertmanagerReceiver is a named notification target. Each integration set is
// rendered; none set makes a receiver that notifies no one.
type AlertmanagerReceiver struct {
	Name      string
	Webhook   *AlertmanagerWebhook
	Slack     *AlertmanagerSlack
	PagerDuty *AlertmanagerPagerDuty
	Email     *AlertmanagerEmail
}

// AlertmanagerWebhook posts alerts as JSON.
type AlertmanagerWebhook struct {
	URL          string
	SendResolved bool
}

// AlertmanagerSlack posts to a Slack incoming webhook.
type AlertmanagerSlack struct {
	APIURL       string
	Channel      string // "" = the webhook's own channel
	SendResolved bool
}

// AlertmanagerPagerDuty sends to a PagerDuty Events API v2 integration.
type AlertmanagerPagerDuty struct {
	RoutingKey   string
	SendResolved bool
}

// AlertmanagerEmail sends mail through a smarthost.
type AlertmanagerEmail struct {
	To           string
	From         string
	Smarthost    string // host:port
	AuthUsername string
	AuthPassword string
	RequireTLS   bool
	SendResolved bool
}

// AlertmanagerRoute sends alerts of one severity to a receiver; with Continue,
// later routes are tried too.
type AlertmanagerRoute struct {
	Severity string
	Receiver string
	Continue bool
}

//go:embed alertmanager/slack_title.tmpl
var amSlackTitle string

//go:embed alertmanager/slack_text.tmpl
var amSlackText string

// amPagerDutySeverity maps our severities onto PagerDuty's.
const amPagerDutySeverity = `{{ if eq .CommonLabels.severity "page" }}critical{{ else }}warning{{ end }}`

// alertmanager.yml, as far as obsbox writes it.
type amFile struct {
	Route        amRoute     `yaml:"route"`
	InhibitRules []amInhibit `yaml:"inhibit_rules"`
	Receivers    []amReceive `yaml:"receivers"`
}

// amRoute is the top route (with group_by and routes) or one of its routes
// (with matchers and continue).
type amRoute struct {
	Receiver       yStr      `yaml:"receiver"`
	GroupBy        []yStr    `yaml:"group_by,omitempty"`
	Matchers       []yStr    `yaml:"matchers,omitempty"`
	GroupWait      yStr      `yaml:"group_wait,omitempty"`
	GroupInterval  yStr      `yaml:"group_interval,omitempty"`
	RepeatInterval yStr      `yaml:"repeat_interval,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
	Continue       *bool     `yaml:"continue,omitempty"`
}

type amInhibit struct {
	SourceMatchers []yStr `yaml:"source_matchers"`
	TargetMatchers []yStr `yaml:"target_matchers"`
	Equal          []yStr `yaml:"equal"`
}

type amReceive struct {
	Name             yStr          `yaml:"name"`
	WebhookConfigs   []amWebhookC  `yaml:"webhook_configs,omitempty"`
	SlackConfigs     []amSlackC    `yaml:"slack_configs,omitempty"`
	PagerdutyConfigs []amPagerDutC `yaml:"pagerduty_configs,omitempty"`
	EmailConfigs     []amEmailC    `yaml:"email_configs,omitempty"`
}

type amWebhookC struct {
	URL          yStr `yaml:"url"`
	SendResolved bool `yaml:"send_resolved"`
}

type amSlackC struct {
	APIURL       yStr  `yaml:"api_url"`
	Channel      yStr  `yaml:"channel,omitempty"`
	SendResolved bool  `yaml:"send_resolved"`
	Title        yStr  `yaml:"title"`
	Text         yText `yaml:"text"`
}

type amPagerDutC struct {
	RoutingKey   yStr `yaml:"routing_key"`
	Severity     yStr `yaml:"severity"`
	SendResolved bool `yaml:"send_resolved"`
}

type amEmailC struct {
	To           yStr `yaml:"to"`
	From         yStr `yaml:"from"`
	Smarthost    yStr `yaml:"smarthost"`
	AuthUsername yStr `yaml:"auth_username,omitempty"`
	AuthPassword yStr `yaml:"auth_password,omitempty"`
	RequireTLS   bool `yaml:"require_tls"`
	SendResolved bool `yaml:"send_resolved"`
}

// RenderAlertmanagerConfig renders alertmanager.yml. c comes from a validated
// inventory (installer/inventory checks receiver names and kinds, URLs, keys,
// addresses, severities and which receiver a route names); only what the
// inventory cannot see is checked here.
func RenderAlertmanagerConfig(c AlertmanagerConfig) ([]byte, error) {
	// The timings are not in the inventory: nothing else checks them.
	timing := []struct {
		name  string
		value *string
		def   string
	}{
		{"group_wait", &c.GroupWait, "30s"},
		{"group_interval", &c.GroupInterval, "5m"},
		{"repeat_interval", &c.RepeatInterval, "4h"},
		{"watchdog interval", &c.WatchdogInterval, "5m"},
	}
	for _, t := range timing {
		if *t.value == "" {
			*t.value = t.def
		}
		if _, err := duration.Positive(*t.value); err != nil {
			return nil, fmt.Errorf("alertmanager %s: %w", t.name, err)
		}
	}

	names := map[string]bool{}
	var receivers []amReceive
	for _, r := range c.Receivers {
		// A receiver's name is an HCL block label, which may be "".
		if r.Name == "" {
			return nil, errors.New("alertmanager receiver: empty name")
		}
		names[r.Name] = true
		out, err := amReceiver(r)
		if err != nil {
			return nil, fmt.Errorf("alertmanager receiver %q: %w", r.Name, err)
		}
		receivers = append(receivers, out)
	}
	if !names[AlertmanagerNullReceiver] {
		receivers = append(receivers, amReceive{Name: AlertmanagerNullReceiver})
	}

	def := c.DefaultReceiver
	if def == "" {
		def = AlertmanagerNullReceiver
		if len(c.Receivers) > 0 {
			def = c.Receivers[0].Name
		}
	}
	watchdog := c.WatchdogReceiver
	if watchdog == "" {
		watchdog = AlertmanagerNullReceiver
	}
	// The Watchdog receiver is not in the inventory: nothing else checks it.
	if !names[watchdog] && watchdog != AlertmanagerNullReceiver {
		return nil, fmt.Errorf("alertmanager Watchdog receiver %q: no receiver has that name", watchdog)
	}

	no := false
	watchdogRoute := amRoute{
		Receiver: yStr(watchdog),
		Matchers: []yStr{yStr(amMatcher("alertname", "=", "Watchdog"))},
		Continue: &no,
	}
	if watchdog != AlertmanagerNullReceiver {
		// A dead man's switch expects a steady heartbeat, not one message per 4h.
		// Alertmanager sends again on a group_interval tick once
		// repeat_interval has passed: with both equal, a tick just short of
		// it waits for the next, and the heartbeat comes every two
		// intervals. Ticks at half the interval keep it at one.
		every, err := duration.Positive(c.WatchdogInterval)
		if err != nil {
			return nil, fmt.Errorf("alertmanager watchdog interval: %w", err)
		}
		watchdogRoute.GroupWait = "0s"
		watchdogRoute.GroupInterval = yStr(duration.Format(max(every/2, time.Second)))
		watchdogRoute.RepeatInterval = yStr(c.WatchdogInterval)
	}
	routes := []amRoute{watchdogRoute}
	for _, r := range c.Routes {
		cont := r.Continue
		routes = append(routes, amRoute{
			Receiver: yStr(r.Receiver),
			Matchers: []yStr{yStr(amMatcher("severity", "=", r.Severity))},
			Continue: &cont,
		})
	}

	doc := amFile{
		Route: amRoute{
			Receiver:       yStr(def),
			GroupBy:        []yStr{"alertname", "instance"},
			GroupWait:      yStr(c.GroupWait),
			GroupInterval:  yStr(c.GroupInterval),
			RepeatInterval: yStr(c.RepeatInterval),
			Routes:         routes,
		},
		// A host that is down explains every other alert about it; only HostDown is sent.
		InhibitRules: []amInhibit{{
			SourceMatchers: []yStr{yStr(amMatcher("alertname", "=", "HostDown"))},
			TargetMatchers: []yStr{yStr(amMatcher("alertname", "!=", "HostDown"))},
			Equal:          []yStr{"instance"},
		}},
		Receivers: receivers,
	}
	b, err := yMarshal(yamlHeader, doc)
	if err != nil {
		return nil, fmt.Errorf("alertmanager.yml: %w", err)
	}
	return b, nil
}

func amReceiver(r AlertmanagerReceiver) (amReceive, error) {
	out := amReceive{Name: yStr(r.Name)}
	if w := r.Webhook; w != nil {
		out.WebhookConfigs = []amWebhookC{{URL: yStr(w.URL), SendResolved: w.SendResolved}}
	}
	if s := r.Slack; s != nil {
		out.SlackConfigs = []amSlackC{{
			APIURL:       yStr(s.APIURL),
			Channel:      yStr(amLiteral(s.Channel)),
			SendResolved: s.SendResolved,
			Title:        yStr(strings.TrimSpace(amSlackTitle)),
			Text:         yText(strings.TrimRight(amSlackText, "\n")),
		}}
	}
	if p := r.PagerDuty; p != nil {
		out.PagerdutyConfigs = []amPagerDutC{{
			RoutingKey:   yStr(amLiteral(p.RoutingKey)),
			Severity:     amPagerDutySeverity,
			SendResolved: p.SendResolved,
		}}
	}
	if e := r.Email; e != nil {
		// The inventory does not pair these: Alertmanager would send the
		// password with an empty user name.
		if e.AuthPassword != "" && e.AuthUsername == "" {
			return amReceive{}, errors.New("email: auth_password set without auth_username")
		}
		out.EmailConfigs = []amEmailC{{
			To:           yStr(amLiteral(e.To)),
			From:         yStr(amLiteral(e.From)),
			Smarthost:    yStr(e.Smarthost),
			AuthUsername: yStr(e.AuthUsername),
			AuthPassword: yStr(e.AuthPassword),
			RequireTLS:   e.RequireTLS,
			SendResolved: e.SendResolved,
		}}
	}
	return out, nil
}

// amLiteral keeps a value Alertmanager expands as a template (channel, to,
// from, routing key) literal: text containing "{{" becomes a template that
// prints the text itself.
func amLiteral(s string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return "{{ " + strconv.Quote(s) + " }}"
}

// amMatcher writes one matcher as Alertmanager 0.25–0.27 parse it, with the
// value double-quoted and escaped.
func amMatcher(name, op, value string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(value)
	return name + op + `"` + esc + `"`
}

// AlertmanagerSecretKeys are the keys of alertmanager.yml whose values are
// secrets: those obsbox writes and those Alertmanager itself accepts, since
// the copy on a host may come from an older inventory.
var AlertmanagerSecretKeys = []string{
	"url", "api_url", "routing_key", "service_key", "auth_password", "auth_secret",
	"password", "credentials", "bearer_token", "token", "api_key", "api_secret", "user_key",
	"slack_api_url", "smtp_auth_password", "smtp_auth_secret", "opsgenie_api_key",
	"victorops_api_key", "wechat_api_secret", "telegram_bot_token", "webhook_url",
}

// SecretValues lists the secrets c puts into alertmanager.yml.
func (c AlertmanagerConfig) SecretValues() []string {
	var out []string
	for _, r := range c.Receivers {
		if r.Webhook != nil {
			out = append(out, r.Webhook.URL)
		}
		if r.Slack != nil {
			out = append(out, r.Slack.APIURL)
		}
		if r.PagerDuty != nil {
			out = append(out, r.PagerDuty.RoutingKey)
		}
		if r.Email != nil && r.Email.AuthPassword != "" {
			out = append(out, r.Email.AuthPassword)
		}
	}
	return out
}
