package templates

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// haRuleTests is a promtool rule test: PrometheusReplicaDown fires for a
// replica that is down while another is up, and not when none is up;
// AlertmanagerClusterDegraded fires on the member that sees fewer members
// than there are Alertmanager targets, and not while all agree.
const haRuleTests = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="prometheus",instance="p1"}'
        values: '1x5 0x10'
      - series: 'up{job="prometheus",instance="p2"}'
        values: '1x15'
    alert_rule_test:
      - {eval_time: 4m, alertname: PrometheusReplicaDown, exp_alerts: []}
      - eval_time: 12m
        alertname: PrometheusReplicaDown
        exp_alerts:
          - exp_labels: {severity: ticket, job: prometheus, instance: p1}
            exp_annotations:
              summary: 'Prometheus replica p1 does not answer'
              description: 'The other Prometheus replicas have not been able to scrape Prometheus on p1 for more than 5m. The others still scrape every target and send every alert, but one more failure leaves no Prometheus at all.'
              runbook_url: 'https://github.com/obsbox/obsbox/blob/main/templates/runbooks/PrometheusReplicaDown.md'
  - interval: 1m
    input_series:
      - series: 'up{job="prometheus",instance="p1"}'
        values: '0x15'
      - series: 'up{job="prometheus",instance="p2"}'
        values: '0x15'
    alert_rule_test:
      - {eval_time: 12m, alertname: PrometheusReplicaDown, exp_alerts: []}
  - interval: 1m
    input_series:
      - series: 'up{job="alertmanager",instance="a1"}'
        values: '1x30'
      - series: 'up{job="alertmanager",instance="a2"}'
        values: '1x30'
      - series: 'up{job="alertmanager",instance="a3"}'
        values: '0x30'
      - series: 'alertmanager_cluster_members{job="alertmanager",instance="a1"}'
        values: '3x30'
      - series: 'alertmanager_cluster_members{job="alertmanager",instance="a2"}'
        values: '3x5 1x25'
    alert_rule_test:
      - {eval_time: 5m, alertname: AlertmanagerClusterDegraded, exp_alerts: []}
      - eval_time: 20m
        alertname: AlertmanagerClusterDegraded
        exp_alerts:
          - exp_labels: {severity: ticket, job: alertmanager, instance: a2}
            exp_annotations:
              summary: 'Alertmanager on a2 sees 1 cluster members'
              description: 'Alertmanager on a2 has seen 1 members in its gossip cluster for more than 10m, not one per Alertmanager host. Members that do not see each other may each send the same notification, and silences made on one may not reach the others.'
              runbook_url: 'https://github.com/obsbox/obsbox/blob/main/templates/runbooks/AlertmanagerClusterDegraded.md'
`

// TestIssue15_HARulesFire runs haRuleTests with every promtool line at hand
// (make test-unit names one per line, 2.42 to 3.16).
func TestIssue15_HARulesFire(t *testing.T) {
	tools := promTools(t, "OBSBOX_PROMTOOL", "promtool")
	for _, v := range []string{"2_42", "2_53", "3_5", "3_16"} {
		if p := os.Getenv("OBSBOX_PROMTOOL_" + v); p != "" && !slices.Contains(tools, p) {
			tools = append(tools, p)
		}
	}
	rules, err := RenderAlertRules(RuleSettings{Disabled: rulesSpecNames,
		Groups: []RuleGroup{PrometheusReplicaRules(), AlertmanagerClusterRules()}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	promWrite(t, filepath.Join(dir, "rules.yml"), rules)
	promWrite(t, filepath.Join(dir, "test.yml"), []byte(haRuleTests))
	for _, tool := range tools {
		out, err := promRun(t, dir, tool, "test", "rules", "test.yml")
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Errorf("%s test rules: %v\n%s", tool, err, out)
		}
	}
}
