package templates

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// certRuleTests: CertificateExpiringSoon stays quiet while a renewal is
// merely due (a third of a 90-day life left) and fires once it is overdue
// (under a quarter, and under 14 days); promtool's clock starts at 0.
const certRuleTests = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'obsbox_certificate_not_after_seconds{job="node",instance="late",serial="1"}'
        values: '864000x40'
      - series: 'obsbox_certificate_not_before_seconds{job="node",instance="late",serial="1"}'
        values: '-6912000x40'
      - series: 'obsbox_certificate_not_after_seconds{job="node",instance="due",serial="2"}'
        values: '2160000x40'
      - series: 'obsbox_certificate_not_before_seconds{job="node",instance="due",serial="2"}'
        values: '-5616000x40'
    alert_rule_test:
      - {eval_time: 10m, alertname: CertificateExpiringSoon, exp_alerts: []}
      - eval_time: 30m
        alertname: CertificateExpiringSoon
        exp_alerts:
          - exp_labels: {severity: ticket, job: node, instance: late, serial: "1"}
            exp_annotations:
              summary: 'Certificate of late expires soon'
              description: 'A certificate of late expires in 10.0 days, fewer than 14. For a probe target: renew it before clients refuse the connection. For the certificate obsbox issued (job node): obsbox apply renews it with a third of its life left, so no apply has reached this host since; run it.'
              runbook_url: 'https://github.com/obsbox/obsbox/blob/main/templates/runbooks/CertificateExpiringSoon.md'
`

func TestIssue14_CertificateExpiringSoonFiresWhenRenewalIsOverdue(t *testing.T) {
	tools := promTools(t, "OBSBOX_PROMTOOL", "promtool")
	for _, v := range []string{"2_42", "2_53", "3_5", "3_16"} {
		if p := os.Getenv("OBSBOX_PROMTOOL_" + v); p != "" && !slices.Contains(tools, p) {
			tools = append(tools, p)
		}
	}
	rules, err := RenderAlertRules(RuleSettings{Disabled: rulesSpecNames, Groups: []RuleGroup{CertificateAlertRules()}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	promWrite(t, filepath.Join(dir, "rules.yml"), rules)
	promWrite(t, filepath.Join(dir, "test.yml"), []byte(certRuleTests))
	for _, tool := range tools {
		out, err := promRun(t, dir, tool, "test", "rules", "test.yml")
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Errorf("%s test rules: %v\n%s", tool, err, out)
		}
	}
}
