package templates

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

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

// RenderAlertmanagerConfig renders alertmanager.yml.
func RenderAlertmanagerConfig(c AlertmanagerConfig) ([]byte, error) {
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
	receivers := promYListNode()
	for _, r := range c.Receivers {
		if r.Name == "" {
			return nil, errors.New("alertmanager receiver: empty name")
		}
		if names[r.Name] {
			return nil, fmt.Errorf("alertmanager receiver %q: defined twice", r.Name)
		}
		names[r.Name] = true
		node, err := amReceiver(r)
		if err != nil {
			return nil, fmt.Errorf("alertmanager receiver %q: %w", r.Name, err)
		}
		receivers.items = append(receivers.items, node)
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
	known := func(name string) bool { return names[name] || name == AlertmanagerNullReceiver }
	if !known(def) {
		return nil, fmt.Errorf("alertmanager default receiver %q: no receiver has that name", def)
	}
	if !known(watchdog) {
		return nil, fmt.Errorf("alertmanager Watchdog receiver %q: no receiver has that name", watchdog)
	}

	watchdogRoute := promYMapNode().
		add("receiver", promYStr(watchdog)).
		add("matchers", promYStrings([]string{amMatcher("alertname", "=", "Watchdog")}))
	if watchdog != AlertmanagerNullReceiver {
		// A dead man's switch expects a steady heartbeat, not one message per 4h.
		watchdogRoute.
			add("group_wait", promYStr("0s")).
			add("group_interval", promYStr(c.WatchdogInterval)).
			add("repeat_interval", promYStr(c.WatchdogInterval))
	}
	routes := promYListNode(watchdogRoute.add("continue", promYBool(false)))
	for i, r := range c.Routes {
		if r.Severity == "" {
			return nil, fmt.Errorf("alertmanager route #%d: empty severity", i+1)
		}
		if !known(r.Receiver) {
			return nil, fmt.Errorf("alertmanager route #%d (severity %q): receiver %q: no receiver has that name", i+1, r.Severity, r.Receiver)
		}
		routes.items = append(routes.items, promYMapNode().
			add("receiver", promYStr(r.Receiver)).
			add("matchers", promYStrings([]string{amMatcher("severity", "=", r.Severity)})).
			add("continue", promYBool(r.Continue)))
	}

	if !names[AlertmanagerNullReceiver] {
		receivers.items = append(receivers.items, promYMapNode().add("name", promYStr(AlertmanagerNullReceiver)))
	}

	root := promYMapNode().
		add("route", promYMapNode().
			add("receiver", promYStr(def)).
			add("group_by", promYStrings([]string{"alertname", "instance"})).
			add("group_wait", promYStr(c.GroupWait)).
			add("group_interval", promYStr(c.GroupInterval)).
			add("repeat_interval", promYStr(c.RepeatInterval)).
			add("routes", routes)).
		// A host that is down explains every other alert about it; only HostDown is sent.
		add("inhibit_rules", promYListNode(promYMapNode().
			add("source_matchers", promYStrings([]string{amMatcher("alertname", "=", "HostDown")})).
			add("target_matchers", promYStrings([]string{amMatcher("alertname", "!=", "HostDown")})).
			add("equal", promYStrings([]string{"instance"})))).
		add("receivers", receivers)
	return promYMarshal(root)
}

func amReceiver(r AlertmanagerReceiver) (*promYNode, error) {
	if r.Name == AlertmanagerNullReceiver && (r.Webhook != nil || r.Slack != nil || r.PagerDuty != nil || r.Email != nil) {
		return nil, fmt.Errorf("the name %q is reserved for the receiver that notifies no one", AlertmanagerNullReceiver)
	}
	node := promYMapNode().add("name", promYStr(r.Name))
	if w := r.Webhook; w != nil {
		node.add("webhook_configs", promYListNode(promYMapNode().
			add("url", promYStr(w.URL)).
			add("send_resolved", promYBool(w.SendResolved))))
	}
	if s := r.Slack; s != nil {
		cfg := promYMapNode().add("api_url", promYStr(s.APIURL))
		if s.Channel != "" {
			cfg.add("channel", promYStr(amLiteral(s.Channel)))
		}
		node.add("slack_configs", promYListNode(cfg.
			add("send_resolved", promYBool(s.SendResolved)).
			add("title", promYStr(strings.TrimSpace(amSlackTitle))).
			add("text", promYBlock(strings.TrimRight(amSlackText, "\n")))))
	}
	if p := r.PagerDuty; p != nil {
		if p.RoutingKey == "" {
			return nil, errors.New("pagerduty: empty routing_key")
		}
		node.add("pagerduty_configs", promYListNode(promYMapNode().
			add("routing_key", promYStr(amLiteral(p.RoutingKey))).
			add("severity", promYStr(amPagerDutySeverity)).
			add("send_resolved", promYBool(p.SendResolved))))
	}
	if e := r.Email; e != nil {
		if e.To == "" || e.From == "" {
			return nil, errors.New("email: to and from are both required")
		}
		if host, port, err := net.SplitHostPort(e.Smarthost); err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("email smarthost %q: must be host:port", e.Smarthost)
		}
		if e.AuthPassword != "" && e.AuthUsername == "" {
			return nil, errors.New("email: auth_password set without auth_username")
		}
		cfg := promYMapNode().
			add("to", promYStr(amLiteral(e.To))).
			add("from", promYStr(amLiteral(e.From))).
			add("smarthost", promYStr(e.Smarthost))
		if e.AuthUsername != "" {
			cfg.add("auth_username", promYStr(e.AuthUsername))
		}
		if e.AuthPassword != "" {
			cfg.add("auth_password", promYStr(e.AuthPassword))
		}
		node.add("email_configs", promYListNode(cfg.
			add("require_tls", promYBool(e.RequireTLS)).
			add("send_resolved", promYBool(e.SendResolved))))
	}
	return node, nil
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
